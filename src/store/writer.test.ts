/**
 * The write queue and the rows it makes, on every database: batching, what
 * each event becomes, overflow counted and logged, a bad value losing only
 * itself, and a database that is not there never holding up the caller.
 */
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent, CallEventBody, CallSummary, TurnTimeline } from '../call/events.js';
import type { CallMeta } from '../call/factory.js';
import { type Logger, silentLogger } from '../log.js';
import { openStore } from './db.js';
import { createStore } from './store.js';
import { createStoreMetrics, type StoreMetrics } from './metrics.js';
import { DEFAULT_QUEUE_OPTIONS } from './queue.js';
import { createWriter, NOT_STORED, type StoreWriter, type WriterOptions } from './writer.js';
import { storeTargets, type TestDatabase } from './test-support.js';
import type { Store } from './types.js';

const META: CallMeta = { transport: 'audiosocket', flow: 'support-desk', language: 'en', callerId: '+33612345678', externalId: 'ext-1' };

const ev = (callId: string, atMs: number, body: CallEventBody): CallEvent => ({ ...body, callId, atMs }) as CallEvent;

function timeline(turn: number, extra: Partial<TurnTimeline> = {}): TurnTimeline {
  return { turn, kind: 'speech', speechStartMs: 1000 * turn, speechEndMs: 1000 * turn + 800, endOfTurnMs: 1000 * turn + 1100, endReason: 'silence', firstAudioOutMs: 1000 * turn + 1500, outcome: 'answered', ...extra };
}

function summary(callId: string, extra: Partial<CallSummary> = {}): CallSummary {
  return {
    id: callId,
    language: 'en',
    startedAt: '2026-01-05T10:00:00.000Z',
    endedAt: '2026-01-05T10:00:09.000Z',
    durationMs: 9000,
    endReason: 'bot_hangup',
    transcript: [],
    states: ['greet', 'ask', 'done'],
    records: [{ kind: 'ticket', data: {} }],
    turns: [timeline(1), timeline(2, { firstAudioOutMs: undefined, kind: 'dtmf' }), timeline(3, { outcome: 'empty' })],
    bargeIns: { total: 2, false: 1 },
    errors: [{ stage: 'stt', code: 'engine_failed', message: 'x', atMs: 5 }],
    ...extra,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A write queue of its own over the shared database, for the tests that need other bounds. */
function writerOn(store: Store, options: Partial<WriterOptions>, extra: { logger?: Logger; metrics?: StoreMetrics } = {}): StoreWriter {
  const w = createWriter(store.db, { ...DEFAULT_QUEUE_OPTIONS, ...options }, extra.logger ?? silentLogger, extra.metrics);
  cleanups.push(() => w.close());
  return w;
}

describe.each(storeTargets().map((t) => [t.name, t] as const))('store writer on %s', (_name, target) => {
  let test: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    test = await target.create();
    store = await test.open();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await test?.dispose();
  });

  it('turns a call into calls, turns, events and records rows', async () => {
    const id = 'call-rows';
    const w = store.writer(id);
    w.start(id, META, new Date('2026-01-05T10:00:00.000Z'));
    const events: CallEventBody[] = [
      { type: 'call-started', language: 'en', startedAt: '2026-01-05T10:00:00.000Z' },
      { type: 'state', from: null, to: 'greet' },
      { type: 'bot-audio', phase: 'start' },
      { type: 'transcript', role: 'bot', text: 'Hello, how can I help?' },
      { type: 'speech', phase: 'start', startMs: 1000 },
      { type: 'partial', turn: 1, text: 'my prin' },
      { type: 'transcript', role: 'caller', text: 'My printer is broken', turn: 1, confidence: 0.8 },
      { type: 'intent', intent: 'report_problem', confidence: 0.9, source: 'keywords', text: 'My printer is broken' },
      { type: 'slot', name: 'device', value: 'printer', confidence: 0.9 },
      { type: 'barge-in', outcome: 'detected', turn: 1, speechStartMs: 1000, reactionMs: 40, heard: 'Hello' },
      { type: 'transcript', role: 'bot', text: 'Sorry to hear that, let me open a ticket for you.', cut: true, heard: 'Sorry to hear' },
      { type: 'turn', timeline: timeline(1, { intent: 'ignored-because-the-intent-event-wins' }) },
      { type: 'dtmf', digit: '5', accepted: true },
      { type: 'turn', timeline: timeline(2, { kind: 'dtmf', text: '5' }) },
      { type: 'record', kind: 'ticket', data: { device: 'printer', priority: 'high' } },
      { type: 'effect', id: 'e1', kind: 'save_record', ok: true, durationMs: 3 },
      { type: 'error', stage: 'tts', code: 'engine_failed', message: 'espeak \u0000 died' },
      { type: 'call-ended', reason: 'bot_hangup', endedAt: '2026-01-05T10:00:09.000Z', durationMs: 9000 },
    ];
    events.forEach((e, i) => w.event(ev(id, 100 * i + 0.4, e)));
    w.end(summary(id), { outcome: 'completed', sentiment: { label: 'negative', score: -0.41234 } });
    await store.flush();

    const call = await store.db.selectFrom('calls').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(call).toMatchObject({
      transport: 'audiosocket', external_id: 'ext-1', caller_id: '+33612345678', flow: 'support-desk', language: 'en',
      end_reason: 'bot_hangup', duration_ms: 9000, outcome: 'completed', sentiment: 'negative', sentiment_score: -0.412,
      states: ['greet', 'ask', 'done'], turn_count: 2, barge_ins: 1, error_count: 1, mean_turn_latency_ms: 400,
    });
    expect(call.started_at.toISOString()).toBe('2026-01-05T10:00:00.000Z');
    expect(call.ended_at?.toISOString()).toBe('2026-01-05T10:00:09.000Z');

    const turns = await store.db.selectFrom('turns').selectAll().where('call_id', '=', id).orderBy('seq').execute();
    expect(turns.map((t) => [t.seq, t.turn, t.speaker, t.text, t.cut, t.heard])).toEqual([
      [0, null, 'bot', 'Hello, how can I help?', false, null],
      [1, 1, 'caller', 'My printer is broken', false, null],
      [2, 1, 'bot', 'Sorry to hear that, let me open a ticket for you.', true, 'Sorry to hear'],
      [3, 2, 'caller', '5', false, null],
    ]);
    expect(turns[1]).toMatchObject({ confidence: 0.8, intent: 'report_problem', slots: { device: 'printer' }, at_ms: 600, timeline: { turn: 1, endOfTurnMs: 2100, firstAudioOutMs: 2500 } });
    expect(turns[3]).toMatchObject({ timeline: { kind: 'dtmf', turn: 2 }, at_ms: 3100 });
    expect(turns[0]?.timeline).toBeNull();

    const storedEvents = await store.db.selectFrom('events').selectAll().where('call_id', '=', id).orderBy('seq').execute();
    expect(storedEvents.map((e) => e.type)).toEqual(['call-started', 'state', 'intent', 'slot', 'barge-in', 'dtmf', 'effect', 'error', 'call-ended']);
    expect(storedEvents.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(storedEvents.some((e) => NOT_STORED.has(e.type as CallEvent['type']))).toBe(false);
    expect(storedEvents[1]).toMatchObject({ at_ms: 100, data: { from: null, to: 'greet' } });
    expect(storedEvents[7]?.data).toEqual({ stage: 'tts', code: 'engine_failed', message: 'espeak  died' });

    const records = await store.db.selectFrom('records').selectAll().where('call_id', '=', id).execute();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ flow: 'support-desk', kind: 'ticket', data: { device: 'printer', priority: 'high' } });
    expect(store.stats()).toMatchObject({ queued: 0, dropped: 0 });
  });

  it('writes in batches of at most batchMax, one transaction each', async () => {
    const registry = new Registry();
    const metrics = createStoreMetrics(registry);
    const writes = writerOn(store, { batchMax: 100, batchMs: 20 }, { metrics });
    const w = writes.writer('call-batch');
    w.start('call-batch', META, new Date());
    for (let i = 0; i < 249; i++) w.event(ev('call-batch', i, { type: 'dtmf', digit: String(i % 10), accepted: true }));
    expect(writes.stats().queued).toBe(250);
    await writes.flush();
    expect(await registry.metrics()).toMatch(/^palabre_store_batch_seconds_count 3$/m);
    expect(writes.stats()).toMatchObject({ written: 250, queued: 0, maxQueued: 250, dropped: 0 });
    const count = await store.db.selectFrom('events').where('call_id', '=', 'call-batch').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(count.n).toBe(249);
    const written = await registry.getSingleMetric('palabre_store_written_total')?.get();
    expect(written?.values).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { table: 'events' }, value: 249 }), expect.objectContaining({ labels: { table: 'calls' }, value: 1 })]));
  });

  it('counts and logs what overflows the queue, and still stores the call', async () => {
    const errors: string[] = [];
    const logger = { child: () => logger, error: (_o: unknown, msg: string) => void errors.push(msg), warn: () => undefined } as unknown as Logger;
    const registry = new Registry();
    const writes = writerOn(store, { queueMax: 50, batchMax: 20, batchMs: 10 }, { metrics: createStoreMetrics(registry), logger });
    const w = writes.writer('call-overflow');
    w.start('call-overflow', META, new Date());
    for (let i = 0; i < 119; i++) w.event(ev('call-overflow', i, { type: 'dtmf', digit: '1', accepted: true }));
    w.end(summary('call-overflow'));
    await writes.flush();
    expect(writes.stats()).toMatchObject({ written: 50, dropped: 71, maxQueued: 50 });
    const dropped = await registry.getSingleMetric('palabre_store_dropped_total')?.get();
    expect(dropped?.values).toEqual([expect.objectContaining({ labels: { reason: 'overflow' }, value: 71 })]);
    // One line when the burst starts, one when it ends: not one per write.
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/queue is full/);
    expect(errors[1]).toMatch(/71 store writes were dropped/);
    // The end write was dropped with the rest, so the call is still open.
    const call = await store.db.selectFrom('calls').select(['outcome']).where('id', '=', 'call-overflow').executeTakeFirstOrThrow();
    expect(call.outcome).toBe('in_progress');
  });

  it('loses only a write the database refuses, and keeps a call whose start was lost', async () => {
    const writes = writerOn(store, { queueMax: 3, batchMax: 10, batchMs: 10 });
    const w = writes.writer('call-bad');
    w.start('call-bad', META, new Date());
    w.event(ev('call-bad', 1, { type: 'state', from: null, to: 'a' }));
    w.event(ev('call-bad', 2, { type: 'dtmf', digit: '1', accepted: true }));
    // The queue is full: this call's start row and first event are dropped.
    const lost = writes.writer('call-lost-start');
    lost.start('call-lost-start', META, new Date());
    lost.event(ev('call-lost-start', 1, { type: 'state', from: null, to: 'a' }));
    await writes.flush();
    expect(writes.stats().dropped).toBe(2);
    lost.event(ev('call-lost-start', 2, { type: 'state', from: 'a', to: 'b' }));
    // A turn number beyond int4 makes the database refuse the batch: only that write is lost.
    w.event(ev('call-bad', 3, { type: 'transcript', role: 'caller', text: 'fine', turn: 2 ** 40 }));
    w.event(ev('call-bad', 4, { type: 'dtmf', digit: '2', accepted: true }));
    await writes.flush();
    expect(writes.stats().dropped).toBe(3);
    const events = await store.db.selectFrom('events').select(['call_id', 'type', 'seq']).where('call_id', 'in', ['call-bad', 'call-lost-start']).orderBy('call_id').orderBy('seq').execute();
    expect(events).toEqual([
      { call_id: 'call-bad', type: 'state', seq: 0 },
      { call_id: 'call-bad', type: 'dtmf', seq: 1 },
      { call_id: 'call-bad', type: 'dtmf', seq: 2 },
      { call_id: 'call-lost-start', type: 'state', seq: 1 },
    ]);
    // The lost start row came back with the call's next write.
    const calls = await store.db.selectFrom('calls').select(['id', 'flow']).where('id', 'in', ['call-bad', 'call-lost-start']).orderBy('id').execute();
    expect(calls).toEqual([
      { id: 'call-bad', flow: 'support-desk' },
      { id: 'call-lost-start', flow: 'support-desk' },
    ]);
  });

  it('closes calls a crash left open as interrupted, and only those', async () => {
    const open = store.writer('call-open');
    open.start('call-open', META, new Date(Date.now() - 60_000));
    open.event(ev('call-open', 10, { type: 'transcript', role: 'caller', text: 'hello', turn: 1 }));
    const done = store.writer('call-done');
    done.start('call-done', META, new Date());
    done.end(summary('call-done'));
    await store.flush();
    // Calls of the other tests are all ended, except call-overflow whose end was dropped.
    expect(await store.closeInterrupted()).toBeGreaterThanOrEqual(1);
    expect(await store.closeInterrupted()).toBe(0);
    const rows = await store.db.selectFrom('calls').select(['id', 'outcome', 'end_reason', 'ended_at', 'duration_ms']).where('id', 'in', ['call-done', 'call-open']).orderBy('id').execute();
    expect(rows[0]).toMatchObject({ id: 'call-done', outcome: 'completed', end_reason: 'bot_hangup' });
    expect(rows[1]).toMatchObject({ id: 'call-open', outcome: 'interrupted', end_reason: 'interrupted' });
    expect(rows[1]?.ended_at).toBeInstanceOf(Date);
    expect(rows[1]?.duration_ms).toBeGreaterThanOrEqual(59_000);
  });

  it('with servers sharing the database, a restarting one closes only its own open calls (and those stored before calls named theirs)', async () => {
    const serverA = createStore({ kind: store.kind, db: store.db, logger: silentLogger, instanceId: 'palabre-a:8080', onClose: async () => {} });
    const serverB = createStore({ kind: store.kind, db: store.db, logger: silentLogger, instanceId: 'palabre-b:8080', onClose: async () => {} });
    for (const [s, id] of [[serverA, 'shared-a'], [serverB, 'shared-b']] as const) {
      const w = s.writer(id);
      w.start(id, META, new Date(Date.now() - 30_000));
      w.event(ev(id, 10, { type: 'transcript', role: 'caller', text: 'hello', turn: 1 }));
      await s.flush();
    }
    await store.db.insertInto('calls').values({ id: 'shared-legacy', transport: 'simulate', server_id: null, flow: 'f', language: 'en', started_at: new Date(), outcome: 'in_progress' }).execute();
    const stored = await store.db.selectFrom('calls').select(['id', 'server_id']).where('id', 'in', ['shared-a', 'shared-b']).orderBy('id').execute();
    expect(stored).toEqual([
      { id: 'shared-a', server_id: 'palabre-a:8080' },
      { id: 'shared-b', server_id: 'palabre-b:8080' },
    ]);

    // B restarts while A still carries its call.
    expect(await serverB.closeInterrupted()).toBe(2);
    const after = await store.db.selectFrom('calls').select(['id', 'outcome']).where('id', 'in', ['shared-a', 'shared-b', 'shared-legacy']).orderBy('id').execute();
    expect(after).toEqual([
      { id: 'shared-a', outcome: 'in_progress' },
      { id: 'shared-b', outcome: 'interrupted' },
      { id: 'shared-legacy', outcome: 'interrupted' },
    ]);
    expect(await serverA.closeInterrupted()).toBe(1);
  });
});

describe('store writer with the database down', () => {
  it('never holds up the caller, retries with backoff, then drops and counts', async () => {
    const port = await freePort();
    const store = await openStore({ url: `postgres://postgres@127.0.0.1:${port}/none`, dataDir: '/nonexistent', logger: silentLogger, writer: { retries: 2, backoffMs: 20, maxBackoffMs: 40, batchMs: 5, queueMax: 1000 } });
    try {
      const started = performance.now();
      for (let c = 0; c < 20; c++) {
        const w = store.writer(`down-${c}`);
        w.start(`down-${c}`, META, new Date());
        for (let i = 0; i < 60; i++) w.event(ev(`down-${c}`, i, { type: 'dtmf', digit: '1', accepted: true }));
        w.end(summary(`down-${c}`));
      }
      // 1240 writes against a queue of 1000: the pushes themselves never wait on the database.
      const pushMs = performance.now() - started;
      expect(pushMs).toBeLessThan(1000);
      expect(store.stats().dropped).toBe(240);
      await store.flush();
      expect(store.stats()).toMatchObject({ written: 0, dropped: 1240, queued: 0 });
      expect(store.stats().failedBatches).toBeGreaterThanOrEqual(3);
    } finally {
      await store.close();
    }
  });

  it('names the problem when the URL is not one the store takes', async () => {
    await expect(openStore({ url: 'mysql://u:secret@h/db', dataDir: '/tmp', logger: silentLogger })).rejects.toThrow(/store.url must be empty.*postgres:\/\/ URL, not "mysql:\/\/\*\*\*@h\/db"/);
  });
});
