/**
 * The cloud engines' extras wired into calls, against the local fakes (each proven with
 * the service's official client): ElevenLabs' word timings kept by the phrase cache and
 * used to say exactly which words a barge-in let the caller hear; ElevenLabs asked for
 * the format a request wants (µ-law 8 kHz) instead of PCM converted here; and Deepgram's
 * endpointing following each listening state, with its SpeechStarted reaching the turn
 * detector as a second opinion for barge-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_MS, PIPELINE_RATE, type Frame } from '../src/audio/frame.js';
import { decodeG711 } from '../src/audio/g711.js';
import { loadResampler, resample, type ResamplerFactory } from '../src/audio/resample.js';
import { SpeechCapture, sttEndpointing } from '../src/call/capture.js';
import { createFastClock, sleep } from '../src/call/clock.js';
import { createMemoryIO } from '../src/call/memory-io.js';
import { Player } from '../src/call/player.js';
import { hangup, listen, loadTestEngines, say, ScriptedDialog, soundBounds, speech, startCall, type TestEngines } from '../src/call/test-support.js';
import { TurnDetector, defaultListen } from '../src/call/turn-taking.js';
import { createDeepgram, type DeepgramStt } from '../src/engines/stt/deepgram.js';
import { cleanupSpeech } from '../src/engines/stt/test-support.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import type { ElevenLabsTts } from '../src/engines/tts/elevenlabs.js';
import { createTts } from '../src/engines/tts/index.js';
import { PhraseCache } from '../src/engines/tts/phrase-cache.js';
import type { TimedAudioChunk, Tts, TtsOptions, TtsOutputFormat, TtsWordTiming } from '../src/engines/tts/types.js';
import { silentLogger } from '../src/log.js';
import { FAKE_EN_VOICE, startFakeElevenLabs, type FakeElevenLabs } from './support/fake-elevenlabs.js';
import { startFakeDeepgram, type FakeDeepgram } from './support/fake-deepgram.js';
import { startServer } from './support/server.js';

const S1 = 'Thank you for calling the support line.';
const S2 = 'Please listen carefully, as our menu options have changed recently.';
const S3 = 'You can ask about your bill or your internet connection.';
const TEXT = `${S1} ${S2} ${S3}`;

let fake: FakeElevenLabs;
let eleven: ElevenLabsTts;
let engines: TestEngines;
let resampler: ResamplerFactory;

beforeAll(async () => {
  [fake, engines, resampler] = await Promise.all([startFakeElevenLabs(), loadTestEngines(), loadResampler()]);
  eleven = await createTts('elevenlabs', { apiKey: fake.apiKey, baseUrl: fake.baseUrl, voiceId: FAKE_EN_VOICE });
});

afterAll(async () => {
  await eleven?.close();
  await fake?.close();
  await engines?.close();
  cleanupSpeech();
});

/** What the engine itself says of `text` at `format`: its bytes and word timings. */
async function reference(text: string, format: TtsOutputFormat = 'pcm_16000'): Promise<{ bytes: number; words: TtsWordTiming[] }> {
  let bytes = 0;
  const words: TtsWordTiming[] = [];
  for await (const c of eleven.synthesizeAs(text, format)) {
    bytes += c.bytes.length;
    if (c.words) words.push(...c.words);
  }
  return { bytes, words };
}

/** Ms the player writes for `bytes` of 16 kHz PCM: whole 20 ms frames, the last one padded. */
const framedMs = (bytes: number): number => Math.ceil(bytes / 2 / 320) * FRAME_MS;

/** The words of `text` whose audio had ended `ms` into it. */
function wordsEndedBy(text: string, words: readonly TtsWordTiming[], ms: number): string {
  let end = 0;
  for (const w of words) if (w.endMs <= ms) end = Math.max(end, w.charEnd);
  return text.slice(0, end).trim();
}

/** ElevenLabs seen only through synthesize(): PCM at its rate with timings, as an engine without formats of its own. */
function pcmOnly(inner: ElevenLabsTts): Tts {
  return {
    name: 'elevenlabs-pcm-only',
    sampleRate: inner.sampleRate,
    languages: inner.languages,
    voices: () => inner.voices(),
    synthesize: (text: string, o?: TtsOptions): AsyncIterable<TimedAudioChunk> => inner.synthesize(text, o),
    close: () => Promise.resolve(),
  };
}

describe('word timings in the phrase cache', () => {
  it('keeps the engine timings with the audio in the dynamic and static tiers, unchanged by resampling', async () => {
    const ref = await reference(TEXT);
    expect(ref.words.map((w) => w.word).join(' ')).toBe(TEXT);
    const cache = new PhraseCache({ resampler });
    const stream = cache.stream(eleven, { text: TEXT, language: 'en' }, { encoding: 'pcm16', sampleRate: 16_000 });
    let bytes = 0;
    for await (const c of stream.chunks) bytes += c.length;
    expect(stream.source).toBe('miss');
    expect(bytes).toBe(ref.bytes);
    expect(stream.words()).toEqual(ref.words);
    expect(cache.peek(eleven, { text: TEXT, language: 'en' }, { encoding: 'pcm16', sampleRate: 16_000 })?.words).toEqual(ref.words);
    const hit = cache.stream(eleven, { text: TEXT, language: 'en' }, { encoding: 'pcm16', sampleRate: 16_000 });
    expect(hit.source).toBe('hit');
    expect(hit.words()).toEqual(ref.words);

    // Converted here from 16 kHz PCM to 8 kHz µ-law: the same ms, a quarter of the bytes.
    const loaded = await cache.preload(pcmOnly(eleven), [{ text: TEXT, language: 'en' }], { encoding: 'ulaw', sampleRate: 8000 });
    const entry = cache.peek(pcmOnly(eleven), { text: TEXT, language: 'en' }, { encoding: 'ulaw', sampleRate: 8000 });
    expect(entry?.words).toEqual(ref.words);
    // Within the resampler's flush (a few ms).
    expect(Math.abs(loaded.bytes - ref.bytes / 4), `${loaded.bytes} µ-law bytes for ${ref.bytes} PCM bytes`).toBeLessThanOrEqual(80);
    const last = ref.words[ref.words.length - 1];
    expect(last.endMs).toBeLessThanOrEqual((entry?.durationSec ?? 0) * 1000 + 1);
  });
});

describe('what a barge-in let the caller hear, from ElevenLabs alignment', () => {
  it('reports exactly the words of the cut sentence whose audio had finished playing (player)', async () => {
    const [r1, r2] = await Promise.all([reference(S1), reference(S2)]);
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    const player = new Player({ io, tts: eleven, cache: new PhraseCache({ resampler }), clock, maxAheadMs: 500 });
    const pending = player.say({ text: TEXT, language: 'en' });
    while (io.sent.length === 0) await sleep(clock, 5);
    // Halfway through the second sentence's words.
    const middle = r2.words[Math.floor(r2.words.length / 2)];
    await sleep(clock, framedMs(r1.bytes) + middle.startMs + 10);
    const [cut] = player.interrupt();
    expect(await pending).toEqual(cut);
    expect(cut.status).toBe('cut');
    const inSecond = cut.playedMs - framedMs(r1.bytes);
    const heardOfSecond = wordsEndedBy(S2, r2.words, inSecond);
    expect(heardOfSecond.split(' ').length).toBeGreaterThanOrEqual(2);
    expect(heardOfSecond.length).toBeLessThan(S2.length);
    expect(cut.heard).toBe(`${S1} ${heardOfSecond}`);
    expect(cut.rest).toBe(`${S2} ${S3}`);
  });

  it('uses the timings stored with a prompt rendered whole', async () => {
    const ref = await reference(TEXT);
    const cache = new PhraseCache({ resampler });
    await cache.preload(eleven, [{ text: TEXT, language: 'en' }], { encoding: 'pcm16', sampleRate: 16_000 });
    const before = fake.requests.length;
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    const player = new Player({ io, tts: eleven, cache, clock });
    const pending = player.say({ text: TEXT, language: 'en' });
    while (io.sent.length === 0) await sleep(clock, 5);
    await sleep(clock, ref.words[12].startMs);
    player.interrupt();
    const cut = await pending;
    expect(fake.requests.length).toBe(before);
    const heard = wordsEndedBy(TEXT, ref.words, cut.playedMs);
    expect(heard.length).toBeGreaterThan(S1.length);
    expect(cut.heard).toBe(heard);
  });

  it('records the heard words in the transcript of a call cut by a caller', async () => {
    const [r1, r2] = await Promise.all([reference(S1), reference(S2)]);
    const caller = await speech('i would like to speak to an agent please');
    const dialog = new ScriptedDialog([say(TEXT), listen({ bargeIn: { allowed: true, minSpeechMs: 300, minWords: 1 } })], () => [hangup]);
    const call = startCall({ vad: engines.vad, stt: engines.stt, tts: eleven, cache: new PhraseCache({ resampler }), resampler }, dialog);
    void call.io.waitForBot('speaking');
    // The caller starts a little into the second sentence; the VAD needs ~300 ms more to cut the bot.
    void call.io.silence(framedMs(r1.bytes) + r2.words[1].endMs);
    void call.io.say(caller, { label: 'interruption' });
    const summary = await call.summary;
    const cutLine = summary.transcript.find((l) => l.role === 'bot' && l.cut);
    expect(cutLine?.text).toBe(TEXT);
    const clear = call.io.clears[0];
    const playedMs = call.io.sent.filter((f) => f.sentAtMs <= clear.atMs).length * FRAME_MS;
    const heardOfSecond = wordsEndedBy(S2, r2.words, playedMs - framedMs(r1.bytes));
    expect(heardOfSecond).not.toBe('');
    expect(cutLine?.heard).toBe(`${S1} ${heardOfSecond}`);
    expect(call.of('barge-in').find((e) => e.outcome === 'detected')?.heard).toBe(cutLine?.heard);
  });

  it('keeps the even-pace estimate for engines without timings', async () => {
    const cache = new PhraseCache({ resampler });
    const stream = cache.stream(engines.tts, { text: S1, language: 'en' }, { encoding: 'pcm16', sampleRate: 16_000 });
    for await (const _ of stream.chunks) void _;
    expect(stream.words()).toEqual([]);
    expect(cache.peek(engines.tts, { text: S1, language: 'en' }, { encoding: 'pcm16', sampleRate: 16_000 })?.words).toBeUndefined();
  });
});

describe('the format a request wants, straight from ElevenLabs', () => {
  const TELEPHONE_TEXT = 'Please call me back tomorrow afternoon. I would like to speak to a technician.';

  /** Word error rate of PocketSphinx on µ-law 8 kHz bytes against the text spoken. */
  async function ulawWer(bytes: Uint8Array, text: string): Promise<number> {
    const audio = await resample({ samples: decodeG711('ulaw', bytes), sampleRate: 8000 }, PIPELINE_RATE);
    const said = (await engines.stt.transcribe(audio, { language: 'en' })).text;
    return wordErrorRate(text.toLowerCase().replace(/[^a-z ]/gu, ''), said);
  }

  it('asks the engine for ulaw_8000 instead of converting its PCM, and stores those bytes', async () => {
    const text = TELEPHONE_TEXT;
    const cache = new PhraseCache({ resampler });
    const before = fake.requests.length;
    const parts: Uint8Array[] = [];
    for await (const c of cache.get(eleven, { text, language: 'en' }, { encoding: 'ulaw', sampleRate: 8000 })) parts.push(c);
    const bytes = Buffer.concat(parts);
    expect(fake.requests.slice(before).map((r) => r.query.output_format)).toEqual(['ulaw_8000']);
    const ref = await reference(text, 'ulaw_8000');
    expect(bytes.length).toBe(ref.bytes);
    expect(cache.peek(eleven, { text, language: 'en' }, { encoding: 'ulaw', sampleRate: 8000 })?.words).toEqual(ref.words);
    // The bound test/elevenlabs.test.ts holds the engine's own µ-law to.
    expect(await ulawWer(bytes, text)).toBeLessThanOrEqual(0.45);

    // A rate ElevenLabs has no name for is converted here from the engine's own PCM.
    const odd = fake.requests.length;
    for await (const _ of cache.get(eleven, { text, language: 'en' }, { encoding: 'pcm16', sampleRate: 12_000 })) void _;
    expect(fake.requests.slice(odd).map((r) => r.query.output_format)).toEqual(['pcm_16000']);
  });

  it('serves POST /api/tts/synthesize format=ulaw from ElevenLabs µ-law', async () => {
    const server = await startServer({ engines: { tts: { engine: 'elevenlabs', elevenlabs: { apiKey: fake.apiKey, baseUrl: fake.baseUrl, voiceId: FAKE_EN_VOICE } } } }, { kinds: ['tts'], ttsEngines: ['elevenlabs'] });
    try {
      const text = TELEPHONE_TEXT;
      const before = fake.requests.length;
      const res = await fetch(`${server.url}/api/tts/synthesize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text, format: 'ulaw', engine: 'elevenlabs' }) });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-sample-rate')).toBe('8000');
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(fake.requests.slice(before).map((r) => r.query.output_format)).toEqual(['ulaw_8000']);
      expect(await ulawWer(bytes, text)).toBeLessThanOrEqual(0.45);
    } finally {
      await server.close();
    }
  });
});

const ANSWERS = ['yes please', 'my account number'];

describe('Deepgram endpointing from the listening state', () => {
  let dg: FakeDeepgram;
  let deepgram: DeepgramStt;
  beforeAll(async () => {
    // One answer per live connection (a turn's stream), whatever pauses the fake finds in it.
    dg = await startFakeDeepgram({ apiKey: 'dg-key', script: ({ connection, segment }) => (segment === 0 ? (ANSWERS[connection - 1] ?? 'goodbye') : '') });
    deepgram = await createDeepgram({ apiKey: 'dg-key', baseUrl: dg.baseUrl, connectTimeoutMs: 30_000, timeoutMs: 90_000 });
  });
  afterAll(async () => {
    await deepgram?.close();
    await dg?.close();
  });

  it('maps a state to STT options', () => {
    expect(sttEndpointing({ mode: 'silence', silenceMs: 500 })).toEqual({ endpointingMs: 500, utteranceEndMs: 1000 });
    expect(sttEndpointing({ mode: 'silence', silenceMs: 1500 })).toEqual({ endpointingMs: 1500, utteranceEndMs: 1500 });
    expect(sttEndpointing({ mode: 'digits', count: 4, interDigitMs: 3000 })).toEqual({ utteranceEndMs: 3000 });
    expect(sttEndpointing(undefined)).toEqual({});
  });

  it("opens each turn's stream with its state's endpointing", async () => {
    const answer = await speech('yes please');
    const dialog = new ScriptedDialog([say('Shall I go on?'), listen({ endpointing: { mode: 'silence', silenceMs: 500 }, hints: ['yes', 'no'] })], (_e, n) =>
      n === 1 ? [say('What is your account number?'), listen({ endpointing: { mode: 'silence', silenceMs: 1400 } })] : [hangup],
    );
    const before = dg.live.length;
    const call = startCall({ vad: engines.vad, stt: deepgram, tts: engines.tts, cache: new PhraseCache({ resampler }), resampler }, dialog);
    void call.io.waitForBot('silent');
    void call.io.say(answer);
    void call.io.waitForBot('speaking');
    void call.io.waitForBot('silent');
    void call.io.say(answer);
    void call.io.silence(3000);
    const summary = await call.summary;
    expect(dialog.utterances(), JSON.stringify(call.events.filter((e) => e.type !== 'partial'))).toEqual(['yes please', 'my account number']);
    expect(summary.endReason).toBe('bot_hangup');
    const queries = dg.live.slice(before).map((l) => l.query);
    expect(queries.map((q) => [q.get('endpointing'), q.get('utterance_end_ms')])).toEqual([
      ['500', '1000'],
      ['1400', '1400'],
    ]);
    expect(queries[0].getAll('keyterm')).toEqual(['yes', 'no']);
  });

  it("reports Deepgram's SpeechStarted in call time while the turn collects", async () => {
    const answer = await speech('yes please');
    const heard: Array<[number, number]> = [];
    let started!: () => void;
    const reported = new Promise<void>((resolve) => (started = resolve));
    const capture = new SpeechCapture({
      stt: deepgram,
      resampler,
      sampleRate: PIPELINE_RATE,
      language: 'en',
      streaming: true,
      logger: silentLogger,
      onSpeechStarted: (turn, at) => {
        heard.push([turn, at]);
        started();
      },
    });
    const frames: Frame[] = [];
    const silence = new Int16Array(320 * 25);
    const all = new Int16Array(silence.length + answer.samples.length + silence.length);
    all.set(answer.samples, silence.length);
    for (let at = 0; at + 320 <= all.length; at += 320) frames.push({ samples: all.slice(at, at + 320), sampleRate: PIPELINE_RATE });
    const ac = new AbortController();
    // The call had been going 10 s when the caller's frames began.
    let t = 10_000;
    for (const [i, f] of frames.entries()) {
      t += FRAME_MS;
      capture.push(f, t);
      if (i === 30) capture.begin(7, t - 200, 0, { endpointing: { mode: 'silence', silenceMs: 700 } }, ac.signal);
    }
    // The turn is still collecting while the engine answers, as in a call.
    await reported;
    const turn = capture.end(t - 400);
    await turn.final(ac.signal);
    await capture.close();
    expect(heard.length).toBeGreaterThanOrEqual(1);
    const [turnNo, atMs] = heard[0];
    expect(turnNo).toBe(7);
    // The voice begins 500 ms in, plus flite's lead-in (call time); the fake's detector works in 10 ms windows.
    expect(Math.abs(atMs - (10_000 + 500 + soundBounds(answer).startMs))).toBeLessThanOrEqual(100);
  });

  it('lets an STT speech start stop a bot that began talking over a turn the VAD has not counted as barge-in', () => {
    const d = new TurnDetector();
    d.listen({ ...defaultListen(), minSpeechMs: 200, bargeIn: { allowed: true, minSpeechMs: 400, minWords: 1 } }, 0);
    const out = [];
    for (let t = 20; t <= 300; t += 20) out.push(...d.frame(t, 0.9));
    expect(out.map((s) => s.type)).toEqual(['speech-start']);
    // Not yet in a turn of any length, and no bot: nothing to say.
    expect(d.sttSpeechStarted(300, 40)).toEqual([]);
    d.setBotSpeaking(true, 320);
    // Quiet speech the VAD does not take as speech; the engine hears it.
    for (let t = 320; t <= 500; t += 20) expect(d.frame(t, 0.3)).toEqual([]);
    expect(d.sttSpeechStarted(520, 480)).toEqual([{ type: 'barge-in', atMs: 520, startMs: 0 }]);
    // Once only.
    expect(d.sttSpeechStarted(540, 500)).toEqual([]);
    // Barge-in not allowed: nothing.
    const off = new TurnDetector();
    off.listen({ ...defaultListen(), bargeIn: { allowed: false, minSpeechMs: 400, minWords: 1 } }, 0);
    expect(off.sttSpeechStarted(100, 50)).toEqual([]);
  });
});
