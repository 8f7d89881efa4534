/**
 * The store as a call observer (src/call/factory.ts): the calls row when the
 * call opens, every event as it happens, and at the end the outcome and the
 * caller's sentiment. It only queues writes: a slow or absent database never
 * holds the call up.
 */
import type { CallSummary } from '../call/events.js';
import type { CallObserver } from '../call/factory.js';
import type { Logger } from '../log.js';
import { deriveOutcome } from './call-end.js';
import { callerSentiment, SENTIMENT_THRESHOLD } from './sentiment.js';
import type { Store } from './types.js';

export function createStoreObserver(store: Store, logger: Logger): CallObserver {
  const log = logger.child({ module: 'store' });
  return {
    open(callId, meta) {
      const writer = store.writer(callId);
      const startedAt = new Date();
      writer.start(callId, meta, startedAt);
      // The LLM step of the intent chain may judge the caller's mood turn by turn; it wins over the lexicon when it did.
      const judged: number[] = [];
      return {
        onEvent: (event) => {
          if (event.type === 'intent' && event.sentiment) judged.push(SCORE[event.sentiment]);
          writer.event(event);
        },
        async finish(summary) {
          try {
            const ended = summary ?? notRun(callId, meta.language, startedAt);
            const sentiment = judged.length > 0 ? fromScores(judged) : callerSentiment(ended.transcript);
            writer.end(ended, { outcome: deriveOutcome(ended), sentiment, usage: ended.usage, cost: ended.cost?.total ?? null });
          } catch (err) {
            log.error({ err, callId }, 'could not queue the end of the call for the store');
          }
        },
      };
    },
  };
}

const SCORE = { positive: 1, neutral: 0, negative: -1 } as const;

/** The mean of the model's per-turn judgements, labelled with the lexicon's thresholds. */
function fromScores(scores: number[]): { label: 'positive' | 'neutral' | 'negative'; score: number } {
  const score = Math.round((scores.reduce((a, b) => a + b, 0) / scores.length) * 100) / 100;
  return { label: score >= SENTIMENT_THRESHOLD ? 'positive' : score <= -SENTIMENT_THRESHOLD ? 'negative' : 'neutral', score };
}

/** The end of a call that never ran (its session failed to start). */
function notRun(callId: string, language: string, startedAt: Date): CallSummary {
  const now = new Date();
  return {
    id: callId,
    language,
    startedAt: startedAt.toISOString(),
    endedAt: now.toISOString(),
    durationMs: now.getTime() - startedAt.getTime(),
    endReason: 'error',
    endDetail: 'the call could not run',
    transcript: [],
    states: [],
    records: [],
    turns: [],
    bargeIns: { total: 0, false: 0 },
    errors: [],
  };
}
