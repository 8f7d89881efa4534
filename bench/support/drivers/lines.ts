/** Client-side drivers by transport name; an RTP line (ARI ExternalMedia peer) is added here. */
import { audioSocketLines } from './audiosocket-line.js';
import type { LineDriver } from './line-types.js';
import { twilioLines } from './twilio-line.js';

export const BENCH_TRANSPORTS = ['audiosocket', 'twilio'] as const;
export type BenchTransport = (typeof BENCH_TRANSPORTS)[number];

export const LINE_DRIVERS: Record<BenchTransport, LineDriver> = {
  audiosocket: audioSocketLines,
  twilio: twilioLines,
};
