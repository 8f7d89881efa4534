/** What every RTP stream of the process adds up to, read by the metrics at scrape time. */
import { emptyJitterStats, type JitterStats } from './jitter-buffer.js';
import type { RtpProblem } from './packet.js';

/** Why an inbound datagram was not played: unreadable as RTP, or not what this stream carries. */
export type RtpDropReason = RtpProblem | 'payload_type' | 'payload_length';

export const RTP_DROP_REASONS: readonly RtpDropReason[] = ['short', 'version', 'csrc', 'extension', 'padding', 'rtcp', 'empty', 'payload_type', 'payload_length'];

export interface RtpCounters {
  packetsIn: number;
  packetsOut: number;
  /** Datagrams dropped, by reason. */
  bad: Record<RtpDropReason, number>;
  /** Datagrams from an address or port other than the call's Asterisk side, dropped. */
  unexpectedSource: number;
  /** Sends the operating system refused. */
  sendErrors: number;
  /** Calls ended because Asterisk stopped sending RTP. */
  timeouts: number;
  jitter: JitterStats;
}

export function createRtpCounters(): RtpCounters {
  return {
    packetsIn: 0,
    packetsOut: 0,
    bad: Object.fromEntries(RTP_DROP_REASONS.map((r) => [r, 0])) as Record<RtpDropReason, number>,
    unexpectedSource: 0,
    sendErrors: 0,
    timeouts: 0,
    jitter: emptyJitterStats(),
  };
}
