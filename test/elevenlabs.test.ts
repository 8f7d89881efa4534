/**
 * The ElevenLabs engine against the local fake (test/support/fake-elevenlabs.ts, itself
 * checked with the official client): real speech both ways, the formats a transport asks
 * for, styles as voice settings, word timings and what a barge-in heard, cancellation,
 * timeouts, the service's errors, and one whole call with ElevenLabs as the bot's voice.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { charsHeard, wholeWordsWithin } from '../src/call/heard.js';
import { concatChunks } from '../src/audio/frame.js';
import { decodeG711 } from '../src/audio/g711.js';
import { resample } from '../src/audio/resample.js';
import { decodeSlinLe } from '../src/audio/slin.js';
import { loadConfig } from '../src/config.js';
import { loadFlowFile } from '../src/dialog/index.js';
import { loadEngines } from '../src/engines/registry.js';
import { createStt } from '../src/engines/stt/index.js';
import type { Stt } from '../src/engines/stt/types.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import type { ElevenLabsOptions, ElevenLabsTts, ElevenLabsUsageEvent } from '../src/engines/tts/elevenlabs.js';
import { createTts } from '../src/engines/tts/index.js';
import { elevenLabsVoiceSettings } from '../src/engines/tts/styles.js';
import { canStreamText, canSynthesizeAs, SPEAKING_STYLES, type EncodedTtsChunk, type TimedAudioChunk, type TtsWordTiming } from '../src/engines/tts/types.js';
import { PalabreError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { simulate } from '../src/simulate/run.js';
import { parseCallerScript } from '../src/simulate/script.js';
import { FAKE_EN_VOICE, FAKE_FR_VOICE, startFakeElevenLabs, type FakeElevenLabs } from './support/fake-elevenlabs.js';

const ROOT = new URL('..', import.meta.url).pathname;
const TEXT = 'Please call me back tomorrow afternoon. I would like to speak to a technician.';

let fake: FakeElevenLabs;
let stt: Stt;
const engines: ElevenLabsTts[] = [];

async function engine(extra: Partial<ElevenLabsOptions> = {}): Promise<ElevenLabsTts> {
  const tts = await createTts('elevenlabs', { apiKey: fake.apiKey, baseUrl: fake.baseUrl, voiceId: FAKE_EN_VOICE, voices: { fr: FAKE_FR_VOICE }, ...extra });
  engines.push(tts);
  return tts;
}

beforeAll(async () => {
  fake = await startFakeElevenLabs();
  stt = await createStt('pocketsphinx');
});
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await fake?.close();
  await stt?.close();
});

async function heard(samples: Int16Array, rate: number): Promise<string> {
  const audio = await resample({ samples, sampleRate: rate }, 16_000);
  return (await stt.transcribe(audio, { language: 'en' })).text;
}

function werOf(said: string, text: string): number {
  return wordErrorRate(text.toLowerCase().replace(/[^a-z ]/g, ''), said);
}

async function failureOf(run: () => AsyncIterable<unknown>): Promise<{ err: PalabreError; items: number }> {
  let items = 0;
  try {
    for await (const _ of run()) items++;
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return { err: err as PalabreError, items };
  }
  throw new Error('expected the synthesis to fail');
}

/** Waits until the fake has seen the end of the last request (the engine closed it, or it finished). */
async function outcomeOfLast(): Promise<string | number | undefined> {
  for (let i = 0; i < 200 && fake.requests.at(-1)?.outcome === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  return fake.requests.at(-1)?.outcome;
}

function wordsOf(chunks: ReadonlyArray<{ words?: readonly TtsWordTiming[] }>): TtsWordTiming[] {
  return chunks.flatMap((c) => c.words ?? []);
}

function checkWords(words: TtsWordTiming[], text: string, durationMs: number): void {
  expect(words.map((w) => w.word)).toEqual(text.split(' '));
  for (const w of words) expect(text.slice(w.charStart, w.charEnd)).toBe(w.word);
  for (let i = 1; i < words.length; i++) expect(words[i].startMs).toBeGreaterThanOrEqual(words[i - 1].endMs - 1);
  for (const w of words) expect(w.endMs).toBeGreaterThanOrEqual(w.startMs);
  expect(words.at(-1)!.endMs).toBeLessThanOrEqual(durationMs + 1);
}

describe('ElevenLabs over HTTP', () => {
  it('streams PCM at 16 kHz as it arrives, with word timings, and PocketSphinx hears the words', async () => {
    const tts = await engine();
    fake.next({ chunkDelayMs: 20 });
    const chunks: TimedAudioChunk[] = [];
    let doneWhenFirstChunkCame: boolean | undefined;
    for await (const c of tts.synthesize(TEXT, { language: 'en' })) {
      doneWhenFirstChunkCame ??= fake.requests.at(-1)?.outcome !== undefined;
      chunks.push(c);
    }
    // The first audio was in hand while the service was still sending the rest.
    expect(doneWhenFirstChunkCame).toBe(false);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.sampleRate).toBe(16_000);
    const audio = concatChunks(chunks);
    const said = await heard(audio.samples, 16_000);
    expect(werOf(said, TEXT), `heard "${said}"`).toBeLessThanOrEqual(0.3);
    checkWords(wordsOf(chunks), TEXT, (audio.samples.length / 16) | 0);
    const req = fake.requests.at(-1)!;
    expect(req).toMatchObject({ endpoint: 'stream-with-timestamps', voiceId: FAKE_EN_VOICE, query: { output_format: 'pcm_16000' }, outcome: 'ok' });
    expect(req.body).toEqual({ text: TEXT, model_id: 'eleven_flash_v2_5', voice_settings: elevenLabsVoiceSettings(undefined), language_code: 'en' });
  });

  it('delivers µ-law 8 kHz straight from the service, which decodes to the same speech', async () => {
    const tts = await engine();
    expect(canSynthesizeAs(tts, 'ulaw_8000')).toBe(true);
    const chunks: EncodedTtsChunk[] = [];
    for await (const c of tts.synthesizeAs(TEXT, 'ulaw_8000', { language: 'en' })) chunks.push(c);
    expect(fake.requests.at(-1)!.query.output_format).toBe('ulaw_8000');
    const bytes = Buffer.concat(chunks.map((c) => c.bytes));
    expect(chunks.every((c) => c.format === 'ulaw_8000')).toBe(true);
    const seconds = bytes.length / 8000;
    expect(seconds).toBeGreaterThan(3);
    checkWords(wordsOf(chunks), TEXT, seconds * 1000);
    const said = await heard(decodeG711('ulaw', bytes), 8000);
    expect(werOf(said, TEXT), `heard "${said}"`).toBeLessThanOrEqual(0.45);
  });

  it('without timestamps reads the raw stream, re-joining samples split across chunks', async () => {
    const tts = await engine({ withTimestamps: false });
    const chunks: EncodedTtsChunk[] = [];
    for await (const c of tts.synthesizeAs('Hello world. How are you today?', 'pcm_24000')) chunks.push(c);
    expect(fake.requests.at(-1)).toMatchObject({ endpoint: 'stream', query: { output_format: 'pcm_24000' } });
    // The fake splits its writes at odd bytes: every chunk handed on still holds whole samples.
    for (const c of chunks) expect(c.bytes.length % 2).toBe(0);
    expect(chunks.every((c) => c.words === undefined)).toBe(true);
    const said = await heard(decodeSlinLe(Buffer.concat(chunks.map((c) => c.bytes))), 24_000);
    expect(werOf(said, 'hello world how are you today')).toBeLessThanOrEqual(0.4);
  });

  it('sends each speaking style as its voice settings, and refuses an unknown style before any request', async () => {
    const tts = await engine();
    for (const style of SPEAKING_STYLES) {
      for await (const _ of tts.synthesize('Yes.', { style })) void _;
      expect(fake.requests.at(-1)!.body!.voice_settings, style).toEqual(elevenLabsVoiceSettings(style));
    }
    const speeds = SPEAKING_STYLES.map((s) => elevenLabsVoiceSettings(s).speed);
    expect(speeds).toEqual([1, 1.05, 0.85, 1.12, 1, 0.8]);
    const before = fake.requests.length;
    const { err } = await failureOf(() => tts.synthesize('Yes.', { style: 'furieux' as never }));
    expect(err.code).toBe('bad_request');
    expect(fake.requests.length).toBe(before);
  });

  it('picks the voice per language and refuses a language the model does not speak', async () => {
    const tts = await engine();
    expect(tts.resolveVoice({ language: 'fr-FR' })).toBe(FAKE_FR_VOICE);
    expect(tts.resolveVoice({ language: 'de' })).toBe(FAKE_EN_VOICE);
    expect(() => tts.resolveVoice({ language: 'xx' })).toThrow(/does not speak 'xx'/);
    const english = await engine({ modelId: 'eleven_flash_v2' });
    expect(english.languages).toEqual(['en']);
    for await (const _ of tts.synthesize('Bonjour.', { language: 'fr' })) void _;
    expect(fake.requests.at(-1)).toMatchObject({ voiceId: FAKE_FR_VOICE, body: { language_code: 'fr' } });
  });

  it('tells from the alignment which words a barge-in let the caller hear', async () => {
    const tts = await engine();
    const chunks: EncodedTtsChunk[] = [];
    for await (const c of tts.synthesizeAs(TEXT, 'pcm_16000')) chunks.push(c);
    const words = wordsOf(chunks);
    const totalMs = (chunks.reduce((n, c) => n + c.bytes.length, 0) / 32_000) * 1000;
    // Playback stopped just after the fourth word ended.
    const playedMs = words[3].endMs + 1;
    expect(wholeWordsWithin(TEXT, charsHeard(TEXT.length, playedMs, totalMs, words))).toBe('Please call me back');
    expect(charsHeard(TEXT.length, words[0].endMs - 1, totalMs, words)).toBe(0);
    expect(wholeWordsWithin(TEXT, charsHeard(TEXT.length, totalMs, totalMs, words))).toBe(TEXT);
    // Without timings the old even-pace estimate still answers.
    expect(charsHeard(100, 500, 2000)).toBe(25);
  });

  it('cancels mid-stream: the request is closed and the error says aborted', async () => {
    const usage: ElevenLabsUsageEvent[] = [];
    const tts = await engine({ onUsage: (u) => usage.push(u) });
    fake.next({ chunkDelayMs: 40 });
    const controller = new AbortController();
    const { err, items } = await failureOf(async function* () {
      let n = 0;
      for await (const c of tts.synthesize(TEXT, { signal: controller.signal })) {
        if (++n === 2) controller.abort();
        yield c;
      }
    });
    expect(err.code).toBe('aborted');
    expect(items).toBe(2);
    expect(await outcomeOfLast()).toBe('client-closed');
    expect(usage.at(-1)).toMatchObject({ transport: 'http', characters: TEXT.length, outcome: 'aborted' });

    // A consumer that simply stops reading closes the request as well.
    fake.next({ chunkDelayMs: 40 });
    for await (const _ of tts.synthesize(TEXT)) break;
    expect(await outcomeOfLast()).toBe('client-closed');
  });

  it('times out on a slow first byte, a dead TLS handshake, and a synthesis that runs too long', async () => {
    const slow = await engine({ firstByteTimeoutMs: 300 });
    fake.next({ firstByteDelayMs: 3000 });
    const first = await failureOf(() => slow.synthesize('Hello.'));
    expect(first.err.code).toBe('engine_unavailable');
    expect(first.err.message).toMatch(/no audio within 300 ms/);
    expect(first.err.details).toMatchObject({ timeout: 'first-byte', retryable: true });

    // A TCP server that never answers the TLS hello: connecting never completes.
    const mute: Server = createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    try {
      const port = (mute.address() as AddressInfo).port;
      const dead = await engine({ baseUrl: `https://127.0.0.1:${port}`, connectTimeoutMs: 300 });
      const connect = await failureOf(() => dead.synthesize('Hello.'));
      expect(connect.err.message).toMatch(/could not connect to 127\.0\.0\.1:\d+ within 300 ms/);
      expect(connect.err.details).toMatchObject({ timeout: 'connect', retryable: true });
    } finally {
      mute.close();
    }

    const long = await engine({ timeoutMs: 600 });
    fake.next({ chunkDelayMs: 150 });
    const overall = await failureOf(() => long.synthesize(TEXT));
    expect(overall.items).toBeGreaterThan(0);
    expect(overall.err.message).toMatch(/not finished within 600 ms/);
    // Part of the answer was already handed on: retrying would repeat it to the caller.
    expect(overall.err.details).toMatchObject({ timeout: 'overall', retryable: false });
  });

  it('turns 401, 422, 429 and 500 into clear errors, retryable only where a retry can help', async () => {
    const wrong = await engine({ apiKey: 'sk_wrong_key_value' });
    const auth = await failureOf(() => wrong.synthesize('Hello.'));
    expect(auth.err.code).toBe('engine_unavailable');
    expect(auth.err.message).toMatch(/API key was refused \(HTTP 401 invalid_api_key: Invalid API key\)/);
    expect(auth.err.message).not.toContain('sk_wrong_key_value');
    expect(auth.err.details).toMatchObject({ status: 401, retryable: false });

    const tts = await engine();
    fake.next({ status: 422 }, { status: 429 }, { status: 500 });
    const invalid = await failureOf(() => tts.synthesize('Hello.'));
    expect(invalid.err.code).toBe('engine_failed');
    expect(invalid.err.message).toMatch(/HTTP 422 validation_error: body\.voice_settings\.speed: Input should be less than or equal to 1\.2/);
    expect(invalid.err.details).toMatchObject({ retryable: false });
    const limited = await failureOf(() => tts.synthesize('Hello.'));
    expect(limited.err.code).toBe('engine_unavailable');
    expect(limited.err.message).toMatch(/rate limited \(HTTP 429 too_many_concurrent_requests/);
    expect(limited.err.details).toMatchObject({ status: 429, retryable: true });
    const broken = await failureOf(() => tts.synthesize('Hello.'));
    expect(broken.err.message).toMatch(/server error \(HTTP 500 internal_server_error/);
    expect(broken.err.details).toMatchObject({ status: 500, retryable: true });
    expect(tts.usage()).toMatchObject({ requests: 3, failures: 3, characters: 18 });
  });

  it('reports a connection dropped mid-stream and a malformed chunk', async () => {
    const tts = await engine();
    fake.next({ cutAfterChunks: 3 });
    const cut = await failureOf(() => tts.synthesize(TEXT));
    expect(cut.items).toBeGreaterThan(0);
    expect(cut.err.code).toBe('engine_failed');
    expect(cut.err.message).toMatch(/connection dropped mid-stream/);
    expect(cut.err.details).toMatchObject({ retryable: false });

    fake.next({ malformedAfterChunks: 0 }, { malformedAfterChunks: 2 });
    const early = await failureOf(() => tts.synthesize(TEXT));
    expect(early.err.message).toMatch(/malformed stream data \(a line that is not JSON\)/);
    expect(early.err.details).toMatchObject({ reason: 'malformed', retryable: true });
    const late = await failureOf(() => tts.synthesize(TEXT));
    expect(late.items).toBeGreaterThan(0);
    expect(late.err.details).toMatchObject({ reason: 'malformed', retryable: false });
  });
});

/** Sentences as an LLM would hand them over, the last one held back until `gate` opens. */
async function* llmSentences(sentences: string[], gate?: Promise<void>): AsyncGenerator<string> {
  for (const [i, s] of sentences.entries()) {
    if (i === sentences.length - 1 && gate) await Promise.race([gate, new Promise((r) => setTimeout(r, 5000))]);
    yield s;
  }
}

describe('ElevenLabs stream-input (text that arrives in pieces)', () => {
  const SENTENCES = ['Please call me back tomorrow afternoon.', 'I would like to speak to a technician.'];

  it('speaks each sentence as it comes, the first before the last is written, with word timings', async () => {
    const tts = await engine();
    expect(canStreamText(tts)).toBe(true);
    let opened!: () => void;
    const gate = new Promise<void>((r) => (opened = r));
    const chunks: EncodedTtsChunk[] = [];
    let beforeLast = 0;
    for await (const c of tts.synthesizeTextStream(llmSentences(SENTENCES, gate), { language: 'en' })) {
      if (chunks.length === 0) {
        // Audio of the first sentence is here while the second is still unwritten.
        beforeLast = fake.requests.at(-1)!.messages.length;
        opened();
      }
      chunks.push(c);
    }
    expect(beforeLast).toBe(2);
    const bytes = Buffer.concat(chunks.map((c) => c.bytes));
    checkWords(wordsOf(chunks), SENTENCES.join(' '), (bytes.length / 32_000) * 1000);
    const said = await heard(decodeSlinLe(bytes), 16_000);
    expect(werOf(said, TEXT), `heard "${said}"`).toBeLessThanOrEqual(0.3);
    const req = fake.requests.at(-1)!;
    expect(req).toMatchObject({ transport: 'websocket', query: { model_id: 'eleven_flash_v2_5', output_format: 'pcm_16000', language_code: 'en' }, outcome: 'ok' });
    expect(req.headers['xi-api-key']).toBe(fake.apiKey);
    expect(req.messages).toEqual([
      { text: ' ', voice_settings: elevenLabsVoiceSettings(undefined) },
      { text: `${SENTENCES[0]} `, flush: true },
      { text: `${SENTENCES[1]} `, flush: true },
      { text: '' },
    ]);
    expect(tts.usage().characters).toBe(SENTENCES.join(' ').length + 1);
  });

  it('delivers A-law 8 kHz and a style over the socket: the same speech as PCM 8 kHz', async () => {
    const tts = await engine({ chunkLengthSchedule: [50, 100] });
    const bytesOf = async (format: 'alaw_8000' | 'pcm_8000'): Promise<Buffer> => {
      const chunks: EncodedTtsChunk[] = [];
      for await (const c of tts.synthesizeTextStream(llmSentences(SENTENCES), { format, style: 'empathie' })) chunks.push(c);
      expect(fake.requests.at(-1)!.query.output_format).toBe(format);
      return Buffer.concat(chunks.map((c) => c.bytes));
    };
    const alaw = decodeG711('alaw', await bytesOf('alaw_8000'));
    expect(fake.requests.at(-1)!.messages[0]).toEqual({ text: ' ', voice_settings: elevenLabsVoiceSettings('empathie'), generation_config: { chunk_length_schedule: [50, 100] } });
    const pcm = decodeSlinLe(await bytesOf('pcm_8000'));
    // The fake speaks deterministically: A-law must be that PCM within G.711's quantisation noise.
    expect(alaw.length).toBe(pcm.length);
    expect(alaw.length / 8000).toBeGreaterThan(3);
    let signal = 0;
    let noise = 0;
    for (let i = 0; i < pcm.length; i++) {
      signal += pcm[i] * pcm[i];
      noise += (pcm[i] - alaw[i]) ** 2;
    }
    expect(10 * Math.log10(signal / noise)).toBeGreaterThan(30);
  });

  it('cancels: the socket is closed and the text source is stopped', async () => {
    const tts = await engine();
    fake.next({ chunkDelayMs: 40 });
    let sourceClosed = false;
    async function* source(): AsyncGenerator<string> {
      try {
        yield SENTENCES[0];
        await new Promise((r) => setTimeout(r, 300));
        yield SENTENCES[1];
        yield 'This sentence is never asked for.';
      } finally {
        sourceClosed = true;
      }
    }
    const controller = new AbortController();
    const { err } = await failureOf(async function* () {
      for await (const c of tts.synthesizeTextStream(source(), { signal: controller.signal })) {
        controller.abort();
        yield c;
      }
    });
    expect(err.code).toBe('aborted');
    expect(await outcomeOfLast()).toBe('client-closed');
    for (let i = 0; i < 200 && !sourceClosed; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sourceClosed).toBe(true);
    // Only the opening message and the first sentence were sent.
    expect(fake.requests.at(-1)!.messages.length).toBe(2);
  });

  it('reports a refused key, a dropped socket, a malformed message and a server error', async () => {
    const wrong = await engine({ apiKey: 'sk_wrong_key_value' });
    const auth = await failureOf(() => wrong.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(auth.err.code).toBe('engine_unavailable');
    expect(auth.err.message).toMatch(/API key was refused \(close 1008: Invalid API key\)/);
    expect(auth.err.details).toMatchObject({ retryable: false });

    const tts = await engine();
    fake.next({ cutAfterChunks: 2 }, { malformedAfterChunks: 1 }, { status: 500 }, { status: 429 });
    const cut = await failureOf(() => tts.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(cut.items).toBe(2);
    expect(cut.err.message).toMatch(/dropped before the last audio/);
    expect(cut.err.details).toMatchObject({ retryable: false });
    const bad = await failureOf(() => tts.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(bad.err.message).toMatch(/malformed stream data \(a message that is not a JSON object\)/);
    const server = await failureOf(() => tts.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(server.err.code).toBe('engine_unavailable');
    expect(server.err.details).toMatchObject({ closeCode: 1011, retryable: true });
    const busy = await failureOf(() => tts.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(busy.err.message).toMatch(/rate limited \(close 1008: Too many concurrent requests\)/);
    expect(busy.err.details).toMatchObject({ retryable: true });

    // An upgrade answered with HTTP instead of 101 (here: no such path) is read like an HTTP error.
    const lost = await engine({ baseUrl: `${fake.baseUrl}/nowhere` });
    const notFound = await failureOf(() => lost.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(notFound.err.code).toBe('engine_failed');
    expect(notFound.err.message).toMatch(/request refused \(HTTP 404 Not Found\)/);
  });

  it('times out when no audio follows the first text', async () => {
    const tts = await engine({ firstByteTimeoutMs: 300 });
    fake.next({ firstByteDelayMs: 3000 });
    const { err } = await failureOf(() => tts.synthesizeTextStream(llmSentences(SENTENCES)));
    expect(err.message).toMatch(/no audio within 300 ms of the first text/);
    expect(err.details).toMatchObject({ timeout: 'first-byte', retryable: true });
  });
});

describe('ElevenLabs in palabre', () => {
  it('says why it is not loaded when unconfigured, and loads when configured', async () => {
    const bare = await loadEngines(loadConfig({ env: {}, overrides: { log: { level: 'silent' } } }), silentLogger, { kinds: ['tts'], ttsEngines: ['elevenlabs'] });
    expect(bare.statuses.find((s) => s.name === 'elevenlabs')).toMatchObject({ loaded: false, reason: expect.stringMatching(/PALABRE_ENGINES_TTS_ELEVENLABS_API_KEY/) });
    const config = loadConfig({
      env: { PALABRE_ENGINES_TTS_ELEVENLABS_API_KEY: fake.apiKey, PALABRE_ENGINES_TTS_ELEVENLABS_BASE_URL: fake.baseUrl, PALABRE_ENGINES_TTS_ELEVENLABS_VOICE_ID: FAKE_EN_VOICE },
    });
    const loaded = await loadEngines(config, silentLogger, { kinds: ['tts'], ttsEngines: ['elevenlabs'] });
    try {
      expect(loaded.statuses.find((s) => s.name === 'elevenlabs')).toMatchObject({ loaded: true, info: { sampleRate: 16_000 } });
    } finally {
      await loaded.close();
    }
  });

  it('carries a whole support-desk call as the bot voice (simulate)', async () => {
    const config = loadConfig({
      env: {},
      overrides: { log: { level: 'silent' }, engines: { tts: { engine: 'elevenlabs', elevenlabs: { apiKey: fake.apiKey, baseUrl: fake.baseUrl, voiceId: FAKE_EN_VOICE } } } },
    });
    const loaded = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'], ttsEngines: ['elevenlabs', 'flite'] });
    const before = fake.requests.length;
    try {
      const script = parseCallerScript(readFileSync(join(ROOT, 'examples/callers/support-desk.en.yaml'), 'utf8'));
      const flow = await loadFlowFile(join(ROOT, 'flows', `${script.flow}.yaml`), { llmAvailable: false });
      const report = await simulate({ flow, script, baseDir: ROOT, language: 'en', engines: loaded, config, logger: silentLogger });
      expect(report.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(report.summary.endReason).toBe('bot_hangup');
      const spoken = fake.requests.slice(before);
      expect(spoken.length).toBeGreaterThanOrEqual(8);
      for (const r of spoken) expect(r).toMatchObject({ endpoint: 'stream-with-timestamps', query: { output_format: 'pcm_16000' }, outcome: 'ok' });
    } finally {
      await loaded.close();
    }
  });
});
