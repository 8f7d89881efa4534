/**
 * What the calls row says once a call is over, worked out from the session's
 * summary: the outcome the operator sees, the counts lists show without a
 * join, and the mean wait between the end of a caller turn and the bot's
 * first audio.
 */
import type { CallSummary, TurnTimeline } from '../call/events.js';
import type { CallOutcome } from './schema.js';

/**
 * transfer → transferred; error, transport_error, timeout → failed; the
 * caller hung up before anything was saved → abandoned; otherwise completed.
 */
export function deriveOutcome(summary: Pick<CallSummary, 'endReason' | 'records'>): CallOutcome {
  switch (summary.endReason) {
    case 'transfer':
      return 'transferred';
    case 'error':
    case 'transport_error':
    case 'timeout':
      return 'failed';
    case 'caller_hangup':
      return summary.records.length === 0 ? 'abandoned' : 'completed';
    default:
      return 'completed';
  }
}

/** Turns where the caller really said or keyed something (not silence, noise or a false interruption). */
export function callerTurnCount(turns: TurnTimeline[]): number {
  return turns.filter((t) => t.kind !== 'no-input' && t.outcome !== 'empty' && t.outcome !== 'false-interruption').length;
}

/** Mean of end of turn → first audio out over the turns the bot answered aloud; null when none did. */
export function meanTurnLatencyMs(turns: TurnTimeline[]): number | null {
  const waits = turns.filter((t) => t.firstAudioOutMs !== undefined).map((t) => (t.firstAudioOutMs as number) - t.endOfTurnMs);
  if (waits.length === 0) return null;
  return Math.round((waits.reduce((a, b) => a + b, 0) / waits.length) * 10) / 10;
}
