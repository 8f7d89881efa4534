/** Client-side drivers by transport name. */
import { audioSocketLines } from './audiosocket-line.js';
import type { LineDriver } from './line-types.js';
import { rtpLines } from './rtp-line.js';
import { twilioLines } from './twilio-line.js';

export const BENCH_TRANSPORTS = ['audiosocket', 'twilio', 'rtp'] as const;
export type BenchTransport = (typeof BENCH_TRANSPORTS)[number];

export const LINE_DRIVERS: Record<BenchTransport, LineDriver> = {
  audiosocket: audioSocketLines,
  twilio: twilioLines,
  rtp: rtpLines,
};
