/**
 * The store's call observer: the caller's sentiment comes from the model's
 * per-turn judgement when the intent chain gave one, else from the lexicon;
 * usage and cost from the summary land on the call's row.
 */
import { describe, expect, it } from 'vitest';
import type { CallEvent, CallSummary } from '../call/events.js';
import type { CallIO } from '../call/io.js';
import { silentLogger } from '../log.js';
import { openStore } from './db.js';
import { createStoreObserver } from './observer.js';

function summary(id: string, caller: string): CallSummary {
  const now = new Date().toISOString();
  return {
    id,
    language: 'en',
    startedAt: now,
    endedAt: now,
    durationMs: 1000,
    endReason: 'bot_hangup',
    transcript: [{ role: 'caller', text: caller, atMs: 100, turn: 1 }],
    states: [],
    records: [],
    turns: [],
    bargeIns: { total: 0, false: 0 },
    errors: [],
    usage: [{ kind: 'stt', engine: 'deepgram', requests: 1, errors: 0, audioSeconds: 3, characters: 0, promptTokens: 0, completionTokens: 0 }],
    cost: { currency: 'EUR', total: 0.0005, byEngine: { 'stt:deepgram': 0.0005 } },
  };
}

const intent = (callId: string, sentiment: 'positive' | 'neutral' | 'negative'): CallEvent => ({ type: 'intent', callId, atMs: 200, intent: null, confidence: 0.4, source: 'llm', text: 'x', sentiment });

describe('the store observer', () => {
  it('takes the model\'s sentiment over the lexicon, falls back to the lexicon, and stores usage and cost', async () => {
    const store = await openStore({ url: 'memory://', dataDir: '/tmp', logger: silentLogger, writer: { batchMs: 5 } });
    try {
      await store.migrate();
      const observer = createStoreObserver(store, silentLogger);
      const io = {} as CallIO;
      // The caller's words read as happy to the lexicon, but the model judged both turns negative.
      const judged = observer.open('call-judged', { transport: 'simulate', flow: 'f', language: 'en' }, io, silentLogger)!;
      judged.onEvent!(intent('call-judged', 'negative'));
      judged.onEvent!(intent('call-judged', 'negative'));
      await judged.finish!(summary('call-judged', 'great thank you so much, perfect'));
      const plain = observer.open('call-plain', { transport: 'simulate', flow: 'f', language: 'en' }, io, silentLogger)!;
      await plain.finish!(summary('call-plain', 'great thank you so much, perfect'));
      await store.flush();
      const rows = await store.db.selectFrom('calls').select(['id', 'sentiment', 'sentiment_score', 'usage', 'cost']).orderBy('id').execute();
      expect(rows.map((r) => [r.id, r.sentiment, r.sentiment_score])).toEqual([
        ['call-judged', 'negative', -1],
        ['call-plain', 'positive', expect.any(Number)],
      ]);
      expect(rows[0].usage).toEqual([expect.objectContaining({ engine: 'deepgram', audioSeconds: 3 })]);
      expect(Number(rows[0].cost)).toBeCloseTo(0.0005, 6);
    } finally {
      await store.close();
    }
  });
});
