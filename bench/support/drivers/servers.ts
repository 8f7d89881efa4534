/** Server-side drivers by transport name. */
import { audioSocketServer } from './audiosocket-server.js';
import type { BenchTransport } from './lines.js';
import { rtpServer } from './rtp-server.js';
import type { ServerDriver } from './server-types.js';
import { twilioServer } from './twilio-server.js';

export const SERVER_DRIVERS: Record<BenchTransport, ServerDriver> = {
  audiosocket: audioSocketServer,
  twilio: twilioServer,
  rtp: rtpServer,
};
