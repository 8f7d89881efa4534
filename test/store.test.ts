/**
 * A real call stored: the emulated Asterisk streams a flite-synthesised
 * English caller through `support-desk` over AudioSocket with real engines,
 * and the store observer writes it, at the same time, to every database the
 * store runs on (PGlite in memory, PGlite on disk, PostgreSQL when
 * PALABRE_TEST_DATABASE_URL is set). Each one then holds the call with its
 * outcome and sentiment, every line of the conversation with the turn
 * timelines, the events, and the ticket the flow saved.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../src/audio/resample.js';
import { decodeWav } from '../src/audio/wav.js';
import type { CallSummary, TurnTimeline } from '../src/call/events.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { createStoreObserver } from '../src/store/observer.js';
import { storeTargets, type TestDatabase } from '../src/store/test-support.js';
import type { Store } from '../src/store/types.js';
import { createAudioSocketCallFactory } from '../src/transports/audiosocket/call.js';
import { type AudioSocketServer, startAudioSocketServer } from '../src/transports/audiosocket/server.js';
import { AsteriskAudioSocket } from './support/asterisk-audiosocket.js';
import { botHangsUp, playSupportDesk, SUPPORT_DESK_LINES } from './support/support-desk.js';
import { fliteWav } from './support/server.js';

const ROOT = new URL('..', import.meta.url).pathname;
const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
const targets = storeTargets();
const stores = new Map<string, { test: TestDatabase; store: Store }>();
let engines: Engines;
let server: AudioSocketServer;
let uuid: string;
let summary: CallSummary | undefined;

async function caller8k(text: string): Promise<Int16Array> {
  const wav = decodeWav(fliteWav(text));
  return (await resample({ samples: wav.samples, sampleRate: wav.sampleRate }, 8000)).samples;
}

beforeAll(async () => {
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
  for (const target of targets) {
    const test = await target.create();
    const store = await test.open();
    await store.migrate();
    stores.set(target.name, { test, store });
  }
  const observers = [...stores.values()].map(({ store }) => createStoreObserver(store, silentLogger));
  const registry = loadFlowsDir(join(ROOT, 'flows'), { llmAvailable: false });
  let ended: (s: CallSummary | undefined) => void = () => undefined;
  const callEnded = new Promise<CallSummary | undefined>((resolve) => (ended = resolve));
  server = await startAudioSocketServer({
    host: '127.0.0.1',
    port: 0,
    chooseFlow: () => ({ flow: 'support-desk', language: 'en' }),
    createCall: createAudioSocketCallFactory({ config, engines, flows: () => registry, observers }),
    resampler: engines.resampler,
    onCallEnded: (info) => ended(info.summary),
  });

  uuid = randomUUID();
  const audio = new Map<string, Int16Array>();
  for (const l of new Set(SUPPORT_DESK_LINES)) audio.set(l, await caller8k(l));
  const ast = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid });
  await playSupportDesk({ get voiced() { return ast.voiced; }, botDone: (v) => ast.botDone(v), say: (l) => ast.say(audio.get(l)!), dtmf: (d) => ast.dtmf(d) });
  await botHangsUp(ast.closed);
  summary = await callEnded;
  for (const { store } of stores.values()) await store.flush();
}, 180_000);

afterAll(async () => {
  await server?.close();
  for (const { test, store } of stores.values()) {
    await store.close();
    await test.dispose();
  }
  await engines?.close();
});

describe.each(targets.map((t) => [t.name] as const))('a real AudioSocket call stored on %s', (name) => {
  it('keeps the call, its lines with their timelines, its events and its ticket', async () => {
    expect(summary?.records).toHaveLength(1);
    const { store } = stores.get(name)!;
    expect(store.stats()).toMatchObject({ dropped: 0, queued: 0 });
    const db = store.db;

    const call = await db.selectFrom('calls').selectAll().where('id', '=', uuid).executeTakeFirstOrThrow();
    expect(call).toMatchObject({
      transport: 'audiosocket',
      external_id: uuid,
      flow: 'support-desk',
      language: 'en',
      end_reason: 'bot_hangup',
      outcome: 'completed',
      states: ['WELCOME', 'TICKET_VERIFICATION', 'IDENTIFICATION', 'DIAGNOSTIC', 'SOLUTION', 'VERIFICATION', 'GOODBYE'],
      barge_ins: 0,
      error_count: 0,
    });
    expect(call.duration_ms).toBe(summary!.durationMs);
    expect(call.ended_at?.toISOString()).toBe(summary!.endedAt);
    expect(call.turn_count).toBe(9);
    expect(['positive', 'neutral', 'negative']).toContain(call.sentiment);
    expect(call.sentiment_score).toBeGreaterThanOrEqual(-1);
    expect(call.sentiment_score).toBeLessThanOrEqual(1);
    expect(call.mean_turn_latency_ms).toBeGreaterThan(0);

    const turns = await db.selectFrom('turns').selectAll().where('call_id', '=', uuid).orderBy('seq').execute();
    expect(turns.map((t) => t.seq)).toEqual(turns.map((_, i) => i));
    const callerRows = turns.filter((t) => t.speaker === 'caller');
    // Nine caller turns: eight spoken lines and the keyed ticket number, each with its timeline.
    expect(callerRows.map((t) => t.turn)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(callerRows[0]).toMatchObject({ text: 'yes', intent: 'YES' });
    expect(callerRows[1]).toMatchObject({ text: '123456' });
    expect((callerRows[1]?.timeline as TurnTimeline | null)?.kind).toBe('dtmf');
    expect(callerRows[2]?.text).toMatch(/^my name is john/);
    expect(callerRows[2]?.intent).toBe('IDENTITY_PROVIDED');
    for (const row of callerRows) expect((row.timeline as TurnTimeline | null)?.turn).toBe(row.turn);
    for (const row of callerRows) if (row.confidence !== null) expect(row.confidence).toBeGreaterThanOrEqual(0);
    // What the caller heard, in order, as the summary has it.
    const botLines = turns.filter((t) => t.speaker === 'bot').map((t) => t.text);
    expect(botLines).toEqual(summary!.transcript.filter((l) => l.role === 'bot').map((l) => l.text));
    expect(turns.find((t) => t.speaker === 'bot')?.turn).toBeNull();
    const timelines = callerRows.map((r) => r.timeline);
    expect(timelines).toEqual(summary!.turns);

    const events = await db.selectFrom('events').select(['type', 'seq', 'data']).where('call_id', '=', uuid).orderBy('seq').execute();
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('call-started');
    expect(types.at(-1)).toBe('call-ended');
    expect(types.filter((t) => t === 'state')).toHaveLength(7);
    expect(types.filter((t) => t === 'dtmf')).toHaveLength(6);
    expect(types).toContain('intent');
    expect(types).toContain('effect');
    expect(types).not.toContain('partial');
    expect(types).not.toContain('transcript');

    const records = await db.selectFrom('records').selectAll().where('call_id', '=', uuid).execute();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ flow: 'support-desk', kind: 'ticket', data: expect.objectContaining({ ticket_number: '123456', problem: 'internet', solved: true }) });
  });
});
