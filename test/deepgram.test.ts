/**
 * The Deepgram engine against the local Deepgram fake (proven with the
 * official SDK in fake-deepgram.test.ts): flite speaks, the fake hears it
 * with PocketSphinx, and the engine must turn Deepgram's messages into
 * partials and finals, send the right query string and control messages,
 * and fail clearly (naming the engine, saying whether a retry may help) on
 * every kind of trouble. Last, a whole support-desk call with Deepgram as
 * its STT.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_RATE, type AudioChunk } from '../src/audio/frame.js';
import { decodeMulaw, encodeMulaw } from '../src/audio/g711.js';
import { resample } from '../src/audio/resample.js';
import { loadConfig } from '../src/config.js';
import { loadFlowFile } from '../src/dialog/index.js';
import { createDeepgram, type DeepgramOptions, type DeepgramStt } from '../src/engines/stt/deepgram.js';
import { isRetryable } from '../src/engines/stt/deepgram-errors.js';
import { createPocketSphinx, type PocketSphinxStt } from '../src/engines/stt/pocketsphinx.js';
import { cleanupSpeech, fliteSpeech } from '../src/engines/stt/test-support.js';
import type { SttEvent, SttStream } from '../src/engines/stt/types.js';
import { normalizedEditDistance } from '../src/engines/stt/wer.js';
import { loadEngines, type Engines } from '../src/engines/registry.js';
import { PalabreError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { simulate } from '../src/simulate/run.js';
import { parseCallerScript } from '../src/simulate/script.js';
import { scriptLines, startFakeDeepgram, type FakeDeepgram, type LiveRecord } from './support/fake-deepgram.js';

const ROOT = new URL('..', import.meta.url).pathname;
const KEY = 'dg-engine-key';
const SENTENCE = 'i would like to speak to an agent please';
const MAX_DISTANCE = 0.25;

let stt: PocketSphinxStt;
/** Recognises with PocketSphinx. */
let fake: FakeDeepgram;
/** Answers from a script; 2 s idle cut (NET-0001) so the KeepAlive tests are quick. */
let scripted: FakeDeepgram;
let speech: AudioChunk;
const engines: DeepgramStt[] = [];

async function engine(overrides: Partial<DeepgramOptions> = {}, on: FakeDeepgram = fake): Promise<DeepgramStt> {
  // Generous limits: the fake recognises with PocketSphinx on a shared, busy machine; the timeout tests set their own.
  const e = await createDeepgram({ apiKey: KEY, baseUrl: on.baseUrl, connectTimeoutMs: 30_000, timeoutMs: 90_000, ...overrides });
  engines.push(e);
  return e;
}

beforeAll(async () => {
  stt = await createPocketSphinx({ poolSize: 2 });
  fake = await startFakeDeepgram({ apiKey: KEY, stt });
  scripted = await startFakeDeepgram({ apiKey: KEY, script: () => 'hello there', netTimeoutMs: 2000 });
  speech = await fliteSpeech(SENTENCE);
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await fake?.close();
  await scripted?.close();
  await stt?.close();
  cleanupSpeech();
});

const silence = (ms: number, rate = PIPELINE_RATE): Int16Array => new Int16Array(Math.round((rate * ms) / 1000));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pushes audio in 20 ms frames, letting the event loop breathe now and then, as a live line would. */
async function feed(stream: SttStream, samples: Int16Array, rate = PIPELINE_RATE): Promise<void> {
  const n = Math.round(rate / 50);
  for (let i = 0; i < samples.length; i += n) {
    stream.push({ samples: samples.slice(i, i + n), sampleRate: rate });
    if ((i / n) % 10 === 9) await new Promise((r) => setImmediate(r));
  }
}

function collect(stream: SttStream): { events: SttEvent[]; done: Promise<unknown> } {
  const events: SttEvent[] = [];
  const done = (async () => {
    for await (const e of stream.events()) events.push(e);
  })().catch((err: unknown) => err);
  return { events, done };
}

async function failure(p: Promise<unknown>): Promise<PalabreError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PalabreError);
  return err as PalabreError;
}

/** The record of the next live connection to `on`, once the fake has accepted it. */
function nextLive(on: FakeDeepgram): () => Promise<LiveRecord> {
  const n = on.live.length;
  return async () => {
    await until(() => on.live.length > n, 'the live connection');
    return on.live[n];
  };
}

const until = async (cond: () => boolean, what: string, ms = 60_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

describe('Deepgram engine: pre-recorded REST', { timeout: 240_000 }, () => {
  it('transcribes real speech and counts the request', async () => {
    const dg = await engine({ smartFormat: true });
    const r = await dg.transcribe(speech, { language: 'en', hints: ['agent'] });
    expect(r.engine).toBe('deepgram');
    expect(normalizedEditDistance(SENTENCE, r.text)).toBeLessThanOrEqual(MAX_DISTANCE);
    expect(r.text).toMatch(/\.$/);
    expect(r.words!.length).toBeGreaterThan(4);
    expect(r.segments).toHaveLength(1);
    expect(r.duration).toBeCloseTo(speech.samples.length / PIPELINE_RATE, 2);
    const sent = fake.rest.at(-1)!;
    expect(sent.headers.authorization).toBe(`Token ${KEY}`);
    expect(sent.headers['content-type']).toBe('audio/wav');
    expect(Object.fromEntries(sent.query)).toMatchObject({ model: 'nova-3', language: 'en', smart_format: 'true', keyterm: 'agent' });
    expect(dg.usage()).toMatchObject({ requests: 1, errors: 0 });
    expect(dg.usage().audioSeconds).toBeCloseTo(speech.samples.length / PIPELINE_RATE, 3);
  });

  it('refuses audio at another rate than its own', async () => {
    const dg = await engine();
    await expect(dg.transcribe({ samples: silence(500, 8000), sampleRate: 8000 })).rejects.toMatchObject({ code: 'rate_mismatch' });
  });

  it('429, 5xx, 401, a bad parameter, malformed JSON, a cut answer: clear errors, retryable only where a retry may help', async () => {
    const dg = await engine();
    fake.nextRest({ status: 429 }, { status: 503 }, { malformed: true }, { cut: true });
    const e429 = await failure(dg.transcribe(speech));
    expect(e429).toMatchObject({ code: 'engine_unavailable', details: { engine: 'deepgram', retryable: true, status: 429, requestId: expect.any(String) } });
    expect(e429.message).toMatch(/^deepgram: .*429.*TOO_MANY_REQUESTS/);
    const e503 = await failure(dg.transcribe(speech));
    expect(e503).toMatchObject({ code: 'engine_failed', details: { retryable: true, status: 503 } });
    const bad = await failure(dg.transcribe(speech));
    expect(bad.code).toBe('engine_failed');
    expect(bad.message).toMatch(/malformed/);
    expect(isRetryable(bad)).toBe(false);
    const cut = await failure(dg.transcribe(speech));
    expect(cut.message).toMatch(/cut off/);
    expect(isRetryable(cut)).toBe(true);

    const wrong = await engine({ apiKey: 'not-the-key' });
    const e401 = await failure(wrong.transcribe(speech));
    expect(e401).toMatchObject({ code: 'engine_unavailable', details: { retryable: false, status: 401 } });
    expect(e401.message).toMatch(/apiKey/);
    expect(e401.message).not.toContain('not-the-key');

    const old = await engine({ model: 'nova-2-phonecall' });
    await old.transcribe(speech, { hints: ['an agent'] });
    expect(fake.rest.at(-1)!.query.getAll('keywords')).toEqual(['an', 'agent']);
    const e400 = await failure(dg.transcribe(speech, { language: 'english' }));
    expect(e400).toMatchObject({ code: 'bad_request', details: { retryable: false, status: 400 } });
    expect(dg.usage().errors).toBe(5);
  });

  it('a slow answer times out; an abort cancels at once', async () => {
    const dg = await engine({ timeoutMs: 300 });
    fake.nextRest({ delayMs: 3000 });
    const slow = await failure(dg.transcribe(speech));
    expect(slow).toMatchObject({ code: 'engine_failed', details: { retryable: true, timeout: true } });
    expect(slow.message).toMatch(/300 ms/);

    fake.nextRest({ delayMs: 3000 });
    const ac = new AbortController();
    const started = performance.now();
    const pending = dg.transcribe(speech, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect((await failure(pending)).code).toBe('aborted');
    expect(performance.now() - started).toBeLessThan(2500);
  });
});

describe('Deepgram engine: live stream', { timeout: 240_000 }, () => {
  it('streams real speech: partials, speech-started, a final close to what was said, Finalize then CloseStream', async () => {
    const dg = await engine();
    const stream = dg.stream({ language: 'en', hints: ['agent', 'ticket number'], endpointingMs: 450, utteranceEndMs: 1200 });
    const { events, done } = collect(stream);
    await feed(stream, new Int16Array([...silence(300), ...speech.samples, ...silence(700)]));
    const final = await stream.finish();
    await done;
    expect(normalizedEditDistance(SENTENCE, final.text)).toBeLessThanOrEqual(MAX_DISTANCE);
    expect(final.engine).toBe('deepgram');
    expect(final.words!.length).toBeGreaterThan(4);
    expect(final.duration).toBeCloseTo((speech.samples.length + silence(1000).length) / PIPELINE_RATE, 2);
    expect(events.at(-1)).toEqual({ type: 'final', result: final });
    expect(events.some((e) => e.type === 'partial' && e.text !== '')).toBe(true);
    const started = events.find((e) => e.type === 'speech-started');
    expect(started).toMatchObject({ type: 'speech-started', at: expect.any(Number) });
    expect((started as { at: number }).at).toBeGreaterThanOrEqual(0.25);

    const live = fake.live.at(-1)!;
    expect(Object.fromEntries(live.query)).toMatchObject({
      model: 'nova-3',
      language: 'en',
      encoding: 'linear16',
      sample_rate: '16000',
      channels: '1',
      interim_results: 'true',
      endpointing: '450',
      utterance_end_ms: '1200',
      vad_events: 'true',
    });
    expect(live.query.getAll('keyterm')).toEqual(['agent', 'ticket number']);
    expect(live.auth).toBe('header');
    await until(() => live.closed !== undefined, 'the socket to close');
    expect(live.controls).toEqual(['Finalize', 'CloseStream']);
    expect(live.closed).toMatchObject({ code: 1000, by: 'server' });
    expect(live.audioSeconds).toBeCloseTo(final.duration, 2);
    expect(dg.usage()).toMatchObject({ requests: 1, errors: 0 });
    expect(dg.openStreams).toBe(0);
  });

  it('µ-law at 8 kHz, for telephone lines: the bytes Deepgram decodes are the caller audio', async () => {
    const wire = await startFakeDeepgram({ apiKey: KEY, stt, keepAudio: true });
    try {
      const dg = await engine({ encoding: 'mulaw', sampleRate: 8000 }, wire);
      expect(dg.sampleRate).toBe(8000);
      const narrow = await resample(speech, 8000);
      const sent = new Int16Array([...silence(200, 8000), ...narrow.samples, ...silence(300, 8000)]);
      const stream = dg.stream({ endpointingMs: 0 });
      await feed(stream, sent, 8000);
      const final = await stream.finish();
      const live = wire.live[0];
      expect(Object.fromEntries(live.query)).toMatchObject({ encoding: 'mulaw', sample_rate: '8000', endpointing: 'false' });
      // One byte per sample, and exactly G.711 µ-law of what was pushed.
      expect(live.audioBytes).toBe(sent.length);
      const heard = new Int16Array(live.audio!.flatMap((c) => [...c]));
      expect(heard).toEqual(decodeMulaw(encodeMulaw(sent)));
      // Narrowband speech is hard for PocketSphinx; what matters here is that it was heard and timed.
      expect(final.words!.length).toBeGreaterThan(3);
      expect(final.duration).toBeCloseTo(sent.length / 8000, 3);
    } finally {
      await wire.close();
    }
  });

  it('keeps an idle stream alive with KeepAlive while the bot speaks', async () => {
    const dg = await engine({ keepAliveMs: 200 }, scripted);
    const stream = dg.stream();
    await feed(stream, new Int16Array([...silence(200), ...speech.samples.subarray(0, 16000)]));
    // Longer than the fake's 2 s idle cut.
    await sleep(4500);
    await feed(stream, new Int16Array([...speech.samples.subarray(0, 16000), ...silence(400)]));
    const final = await stream.finish();
    expect(final.text).toContain('hello there');
    const live = scripted.live.at(-1)!;
    expect(live.controls.filter((c) => c === 'KeepAlive').length).toBeGreaterThanOrEqual(5);
    await until(() => live.closed !== undefined, 'the socket to close');
    expect(live.controls.slice(-2)).toEqual(['Finalize', 'CloseStream']);
  });

  it('without KeepAlive Deepgram cuts an idle stream (1011 NET-0001): a retryable error naming the cause', async () => {
    const dg = await engine({ keepAliveMs: 8000 }, scripted);
    const record = nextLive(scripted);
    const stream = dg.stream();
    const { done } = collect(stream);
    await feed(stream, speech.samples.subarray(0, 8000));
    const live = await record();
    await until(() => live.closed !== undefined, 'the idle cut');
    expect(live.closed).toMatchObject({ code: 1011, reason: 'NET-0001', by: 'server' });
    const err = await failure(stream.finish());
    expect(err).toMatchObject({ code: 'engine_failed', details: { engine: 'deepgram', retryable: true, closeCode: 1011 } });
    expect(err.message).toMatch(/NET-0001/);
    expect(await done).toBe(err);
    expect(dg.usage().errors).toBe(1);
  });

  it('an unanswered Finalize is followed by CloseStream, and the result still comes', async () => {
    const dg = await engine({ finalizeWaitMs: 200 }, scripted);
    scripted.nextLive({ ignoreFinalize: true });
    const stream = dg.stream({ endpointingMs: 0 });
    await feed(stream, new Int16Array([...silence(200), ...speech.samples, ...silence(200)]));
    const final = await stream.finish();
    expect(final.text).toBe('hello there');
    expect(scripted.live.at(-1)!.controls).toEqual(['Finalize', 'CloseStream']);
  });

  it('close() before the end sends CloseStream and Deepgram closes the socket', async () => {
    const dg = await engine({}, scripted);
    const record = nextLive(scripted);
    const stream = dg.stream();
    await feed(stream, speech.samples.subarray(0, 16000));
    const live = await record();
    await until(() => live.audioSeconds >= 0.9, 'the audio to arrive');
    stream.close();
    await until(() => live.closed !== undefined, 'the socket to close');
    expect(live.controls).toEqual(['CloseStream']);
    expect(live.closed).toMatchObject({ code: 1000, by: 'server' });
    expect(() => stream.push({ samples: silence(20), sampleRate: PIPELINE_RATE })).toThrow(/after close/);
    expect(dg.openStreams).toBe(0);
  });

  it('cancellation (barge-in, hang-up) fails the stream as aborted and closes the socket', async () => {
    const dg = await engine({}, scripted);
    const ac = new AbortController();
    const record = nextLive(scripted);
    const stream = dg.stream({ signal: ac.signal });
    const { done } = collect(stream);
    await feed(stream, speech.samples.subarray(0, 16000));
    const live = await record();
    await until(() => live.audioSeconds >= 0.9, 'the audio to arrive');
    ac.abort();
    expect(((await done) as PalabreError).code).toBe('aborted');
    expect((await failure(stream.finish())).code).toBe('aborted');
    await until(() => live.closed !== undefined, 'the socket to close');
    expect(live.closed).toMatchObject({ by: 'client' });
    expect(live.controls).toEqual([]);
  });

  it('a connection dropped mid-stream is a retryable engine failure', async () => {
    const dg = await engine({}, scripted);
    scripted.nextLive({ cutAfterMs: 500 });
    const record = nextLive(scripted);
    const stream = dg.stream();
    await feed(stream, speech.samples);
    const live = await record();
    await until(() => live.closed !== undefined, 'the cut');
    const err = await failure(stream.finish());
    expect(err).toMatchObject({ code: 'engine_failed', details: { engine: 'deepgram', retryable: true, closeCode: 1006 } });
    expect(err.message).toMatch(/^deepgram: the live stream was closed mid-way/);
  });

  it('a malformed message fails the stream and closes it', async () => {
    const dg = await engine({}, scripted);
    scripted.nextLive({ malformedAt: 0 });
    const record = nextLive(scripted);
    const stream = dg.stream();
    await feed(stream, new Int16Array([...silence(100), ...speech.samples]));
    const err = await failure(stream.finish());
    expect(err.code).toBe('engine_failed');
    expect(err.message).toMatch(/malformed message: a message is not JSON/);
    expect(isRetryable(err)).toBe(false);
    const live = await record();
    await until(() => live.closed !== undefined, 'the socket to close');
  });

  it('handshake refusals: 429 and 5xx are retryable, 401 and 400 are not', async () => {
    const dg = await engine({}, scripted);
    scripted.nextLive({ status: 429 }, { status: 500 });
    const e429 = await failure(dg.stream().finish());
    expect(e429).toMatchObject({ code: 'engine_unavailable', details: { retryable: true, status: 429 } });
    const e500 = await failure(dg.stream().finish());
    expect(e500).toMatchObject({ code: 'engine_failed', details: { retryable: true, status: 500 } });
    const wrong = await engine({ apiKey: 'bad' }, scripted);
    const e401 = await failure(wrong.stream().finish());
    expect(e401).toMatchObject({ code: 'engine_unavailable', details: { retryable: false, status: 401 } });
    expect(e401.message).toMatch(/Invalid credentials/);
    const e400 = await failure(dg.stream({ language: 'english' }).finish());
    expect(e400).toMatchObject({ code: 'bad_request', details: { retryable: false, status: 400 } });
    expect(e400.message).toMatch(/language "english"/);
  });

  it('timeouts: a handshake that never completes, a final that never comes', async () => {
    const slow = await engine({ connectTimeoutMs: 300 }, scripted);
    scripted.nextLive({ delayMs: 3000 });
    const connect = await failure(slow.stream().finish());
    expect(connect).toMatchObject({ code: 'engine_failed', details: { retryable: true, timeout: true } });
    expect(connect.message).toMatch(/did not open within 300 ms/);

    const dg = await engine({ timeoutMs: 600, finalizeWaitMs: 100 }, scripted);
    scripted.nextLive({ ignoreFinalize: true, ignoreCloseStream: true });
    const stream = dg.stream({ endpointingMs: 0 });
    await feed(stream, speech.samples.subarray(0, 16000));
    const late = await failure(stream.finish());
    expect(late).toMatchObject({ code: 'engine_failed', details: { retryable: true, timeout: true } });
    expect(late.message).toMatch(/no final result within 600 ms/);
  });
});

describe('Deepgram engine: configuration and a call', { timeout: 240_000 }, () => {
  it('is listed in /health with the reason when no key is set, and loads when one is', async () => {
    const bare = await loadEngines(loadConfig({ env: {} }), silentLogger, { kinds: ['stt'], sttEngines: [] });
    try {
      expect(bare.statuses.find((s) => s.name === 'deepgram')).toMatchObject({ kind: 'stt', loaded: false, reason: expect.stringMatching(/PALABRE_ENGINES_STT_DEEPGRAM_API_KEY/) });
    } finally {
      await bare.close();
    }
    const config = loadConfig({ env: { PALABRE_ENGINES_STT_ENGINE: 'deepgram', PALABRE_ENGINES_STT_DEEPGRAM_API_KEY: KEY, PALABRE_ENGINES_STT_DEEPGRAM_BASE_URL: fake.baseUrl } });
    const loaded = await loadEngines(config, silentLogger, { kinds: ['stt'] });
    try {
      expect(loaded.statuses.find((s) => s.name === 'deepgram')).toMatchObject({ loaded: true, info: { streaming: true } });
      expect(loaded.stt.get('deepgram')?.name).toBe('deepgram');
    } finally {
      await loaded.close();
    }
  });

  it('a support-desk call in English with Deepgram as its STT', async () => {
    const config = loadConfig({
      env: {},
      overrides: { log: { level: 'silent' }, engines: { stt: { engine: 'deepgram', deepgram: { apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: 90_000 } } } },
    });
    let callEngines: Engines | undefined;
    try {
      callEngines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
      const script = parseCallerScript(readFileSync(join(ROOT, 'examples/callers/support-desk.en.yaml'), 'utf8'));
      const flow = await loadFlowFile(join(ROOT, 'flows', `${script.flow}.yaml`), { llmAvailable: false });
      const before = fake.live.length;
      const report = await simulate({ flow, script, baseDir: ROOT, language: 'en', engines: callEngines, config, logger: silentLogger });
      expect(report.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(report.summary.records).toEqual([{ kind: 'ticket', data: expect.objectContaining({ ticket_number: '123456', name: 'John Smith', problem: 'internet', solved: true }) }]);
      expect(report.summary.endReason).toBe('bot_hangup');
      // Every spoken turn went through the live socket, each ended with Finalize and CloseStream.
      const calls = fake.live.slice(before);
      expect(calls.length).toBeGreaterThanOrEqual(8);
      for (const c of calls) expect(c.controls.filter((x) => x !== 'KeepAlive')).toEqual(['Finalize', 'CloseStream']);
      const dg = callEngines.stt.get('deepgram') as DeepgramStt;
      expect(dg.usage()).toMatchObject({ errors: 0 });
      expect(dg.usage().requests).toBe(calls.length);
    } finally {
      await callEngines?.close();
    }
  });

  it('scripted mode answers by turn, for the calls benchmark', async () => {
    const bench = await startFakeDeepgram({ apiKey: KEY, script: scriptLines(['first answer', 'second answer']) });
    try {
      const dg = await engine({}, bench);
      const texts: string[] = [];
      for (let i = 0; i < 2; i++) {
        const s = dg.stream();
        await feed(s, new Int16Array([...silence(100), ...speech.samples, ...silence(100)]));
        texts.push((await s.finish()).text);
      }
      expect(texts).toEqual(['first answer', 'second answer']);
    } finally {
      await bench.close();
    }
  });
});
