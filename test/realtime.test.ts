/**
 * Realtime calls end to end: a MemoryIO paced on the real clock (frames in
 * and out at 20 ms, as a phone line), the realtime session, and the Realtime
 * fake over a real WebSocket on loopback, with real audio everywhere: the
 * caller is flite speech, the fake hears it with Silero and PocketSphinx and
 * answers in flite speech at 24 kHz.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCallFactory } from '../src/call/factory.js';
import { configSchema } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { loadEngines } from '../src/engines/registry.js';
import { loadResampler, type ResamplerFactory } from '../src/audio/resample.js';
import { realClock } from '../src/call/clock.js';
import type { CallEvent, CallSummary } from '../src/call/events.js';
import { createMemoryIO, type MemoryIO } from '../src/call/memory-io.js';
import { createRealtimeSession, type RealtimeCallSettings } from '../src/call/realtime-session.js';
import { speech } from '../src/call/test-support.js';
import { CallUsage } from '../src/engines/usage.js';
import { cleanupSpeech } from '../src/engines/stt/test-support.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import { silentLogger } from '../src/log.js';
import { type FakeRealtime, type ReplyContext, startFakeRealtime } from './support/fake-openai-realtime.js';

const KEY = 'sk-realtime-call-test';
const GREETING = 'Hello and welcome to the hotel. How can I help you today?';
const LONG_GREETING = 'Hello and welcome to the Hotel des Arts. Our breakfast is served every morning from seven until half past ten in the garden room, and the front desk is open day and night for anything you need.';
const CALLER = 'i would like to book a room for tonight';

let fake: FakeRealtime;
let resampler: ResamplerFactory;
let replies: (c: ReplyContext) => string = () => GREETING;

beforeAll(async () => {
  fake = await startFakeRealtime({ apiKey: KEY, reply: (c) => replies(c) });
  resampler = await loadResampler();
}, 60_000);
afterAll(async () => {
  await fake?.close();
  cleanupSpeech();
});

function settings(over: Partial<RealtimeCallSettings> = {}): RealtimeCallSettings {
  return {
    url: fake.url,
    apiKey: KEY,
    model: 'gpt-realtime',
    voice: 'marin',
    instructions: 'You are the concierge of a hotel.',
    greeting: 'Greet the caller.',
    transcriptionModel: 'gpt-4o-mini-transcribe',
    turnDetection: { threshold: 0.5, silenceDurationMs: 500, prefixPaddingMs: 300 },
    connectTimeoutMs: 5000,
    ...over,
  };
}

interface Run {
  io: MemoryIO;
  events: CallEvent[];
  summary: Promise<CallSummary>;
  usage: CallUsage;
  /** IO time of session time 0. */
  offset: () => number;
  of<T extends CallEvent['type']>(type: T): Array<Extract<CallEvent, { type: T }>>;
}

function call(over: Partial<RealtimeCallSettings> = {}): Run {
  const io = createMemoryIO({ clock: realClock });
  const usage = new CallUsage();
  const session = createRealtimeSession({ io, language: 'en', logger: silentLogger, realtime: settings(over), engines: { resampler }, usage });
  const events: CallEvent[] = [];
  let offset = NaN;
  session.on('event', (e) => {
    if (e.type === 'call-started') offset = io.nowMs() - e.atMs;
    events.push(e);
  });
  return { io, events, usage, summary: session.run(), offset: () => offset, of: (type) => events.filter((e): e is never => e.type === type) };
}

describe('realtime call session', () => {
  it('greets, hears the caller, answers what was heard; transcripts, turns and usage are kept; hang-up closes the socket', async () => {
    replies = (c) => (c.heard === undefined ? GREETING : `You asked ${c.heard}`);
    const before = fake.connections.length;
    const run = call();
    const caller = await speech(CALLER);
    await run.io.waitForBot('speaking', { timeoutMs: 20_000 });
    await run.io.waitForBot('silent', { quietMs: 400 });
    await run.io.say(caller);
    await run.io.silence(300);
    await run.io.waitForBot('speaking', { timeoutMs: 20_000 });
    await run.io.waitForBot('silent', { quietMs: 400 });
    await run.io.hangup();
    const summary = await run.summary;

    expect(summary.endReason).toBe('caller_hangup');
    const lines = summary.transcript.map((l) => [l.role, l.text]);
    expect(lines[0]).toEqual(['bot', GREETING]);
    expect(lines[1][0]).toBe('caller');
    expect(wordErrorRate(CALLER, lines[1][1])).toBeLessThanOrEqual(0.35);
    // The fake answers with what its recogniser heard, which is what the transcript says the caller said.
    expect(lines[2]).toEqual(['bot', `You asked ${lines[1][1]}`]);
    const turn = summary.turns[0];
    expect(turn).toMatchObject({ turn: 1, kind: 'speech', outcome: 'answered' });
    expect(turn.endOfTurnMs).toBeGreaterThan(turn.speechStartMs as number);
    expect(turn.firstAudioOutMs).toBeGreaterThan(turn.endOfTurnMs);
    expect(run.of('bot-audio').map((e) => e.phase)).toEqual(['start', 'end', 'start', 'end']);
    expect(run.events.at(-1)?.type).toBe('call-ended');

    const [llm] = run.usage.snapshot();
    expect(llm).toMatchObject({ kind: 'llm', engine: 'openai-realtime', requests: 2 });
    expect(llm.completionTokens).toBeGreaterThan(0);

    const conn = fake.connections[before];
    expect(conn.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(conn.url.searchParams.get('model')).toBe('gpt-realtime');
    expect(conn.received[0]).toMatchObject({ type: 'session.update', session: { type: 'realtime', instructions: 'You are the concierge of a hotel.', audio: { output: { voice: 'marin' }, input: { turn_detection: { type: 'server_vad', silence_duration_ms: 500 } } } } });
    await expect.poll(() => conn.closed).toBe(true);
    expect(conn.closeCode).toBe(1000);
  }, 90_000);

  it('on barge-in stops the bot at once, truncates the item at what was played, and marks the line cut', async () => {
    replies = (c) => (c.heard === undefined ? LONG_GREETING : 'Of course.');
    const before = fake.connections.length;
    const run = call();
    const caller = await speech('wait a moment please');
    await run.io.waitForBot('speaking', { timeoutMs: 20_000 });
    await run.io.silence(2000);
    await run.io.say(caller);
    await run.io.silence(300);
    await run.io.waitForBot('speaking', { timeoutMs: 20_000 });
    await run.io.waitForBot('silent', { quietMs: 400 });
    await run.io.hangup();
    const summary = await run.summary;
    const conn = fake.connections[before];

    const [detected] = run.of('barge-in');
    expect(detected).toMatchObject({ outcome: 'detected', turn: 1 });
    const speechAtIo = detected.speechStartMs + run.offset();
    // The bot's first stretch of audio ends within 100 ms of the model saying the caller spoke.
    const [greeting, answer] = run.io.botSegments(100);
    expect(greeting.endMs).toBeGreaterThan(speechAtIo - 1000);
    expect(greeting.endMs - speechAtIo).toBeLessThanOrEqual(100);
    expect(run.io.clears[0].atMs - speechAtIo).toBeLessThanOrEqual(100);
    expect(answer.startMs).toBeGreaterThan(speechAtIo + 300);
    // The model is told how much of its item the caller heard.
    // Audio played of the greeting: its frames (late frames stretch the segment, not the audio).
    const played = run.io.sent.filter((f) => f.playStartMs >= greeting.startMs && f.playEndMs <= greeting.endMs).length * 20;
    expect(conn.truncations).toHaveLength(1);
    expect(Math.abs(conn.truncations[0].audioEndMs - played)).toBeLessThanOrEqual(60);
    const truncate = conn.received.find((e) => e.type === 'conversation.item.truncate');
    expect(truncate).toMatchObject({ content_index: 0 });

    const cut = summary.transcript.find((l) => l.role === 'bot' && l.cut);
    // The line holds what the model had said when it was cut, and what of it the caller heard.
    const text = cut?.text as string;
    const heard = cut?.heard as string;
    expect(LONG_GREETING.startsWith(text)).toBe(true);
    expect(heard.length).toBeGreaterThan(0);
    expect(text.startsWith(heard)).toBe(true);
    expect(heard.length).toBeLessThan(LONG_GREETING.length);
    expect(detected.heard).toBe(heard);
    expect(summary.bargeIns.total).toBe(1);
    expect(summary.turns[0].bargeIn).toBeDefined();
    expect(summary.transcript.at(-1)).toMatchObject({ role: 'bot', text: 'Of course.' });
  }, 90_000);

  it('ends the call with reason error when the WebSocket drops mid-call, and closes the caller\'s IO', async () => {
    replies = () => LONG_GREETING;
    fake.dropAfterDeltas(5);
    const run = call();
    const summary = await run.summary;
    expect(summary.endReason).toBe('error');
    expect(summary.endDetail).toMatch(/openai realtime: the connection dropped mid-session \(1006/);
    expect(summary.errors[0]).toMatchObject({ stage: 'dialog', code: 'engine_failed' });
    expect(run.io.closedWith?.reason).toBe('error');
  }, 60_000);

  it('ends the call with reason error naming the problem when the API refuses the key', async () => {
    const run = call({ apiKey: 'sk-wrong' });
    const summary = await run.summary;
    expect(summary.endReason).toBe('error');
    expect(summary.endDetail).toMatch(/refused with 401.*engines\.realtime\.apiKey/);
    expect(run.io.closedWith?.reason).toBe('error');
  }, 30_000);

  it('the call factory runs a `mode: realtime` flow as a realtime call, with its instructions, greeting and usage', async () => {
    replies = (c) => (c.heard === undefined ? GREETING : 'Certainly.');
    const config = configSchema.parse({ engines: { realtime: { apiKey: KEY, baseUrl: fake.url } } });
    const engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
    try {
      const registry = loadFlowsDir(join(import.meta.dirname, '..', 'flows'), { llmAvailable: false, realtimeAvailable: true });
      const factory = createCallFactory({ config, engines, flows: () => registry });
      const before = fake.connections.length;
      const io = createMemoryIO({ clock: realClock });
      const session = await factory({ io, meta: { transport: 'simulate', flow: 'realtime-concierge', language: 'fr' }, logger: silentLogger });
      const summary = session.run();
      await io.waitForBot('speaking', { timeoutMs: 20_000 });
      await io.waitForBot('silent', { quietMs: 400 });
      await io.hangup();
      const done = await summary;
      expect(done.endReason).toBe('caller_hangup');
      expect(done.transcript).toEqual([expect.objectContaining({ role: 'bot', text: GREETING })]);
      expect(done.usage).toEqual([expect.objectContaining({ kind: 'llm', engine: 'openai-realtime', requests: 1 })]);
      const conn = fake.connections[before];
      expect(conn.received[0]).toMatchObject({ type: 'session.update', session: { instructions: expect.stringMatching(/^Vous êtes le concierge/), audio: { input: { turn_detection: { silence_duration_ms: 600 } } } } });
      expect(conn.received.find((e) => e.type === 'response.create')).toMatchObject({ response: { instructions: expect.stringMatching(/^Saluez/) } });
    } finally {
      await engines.close();
    }
  }, 60_000);
});
