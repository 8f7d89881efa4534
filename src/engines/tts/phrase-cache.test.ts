import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsDbfs, type AudioChunk } from '../../audio/frame.js';
import { decodeG711 } from '../../audio/g711.js';
import { decodeSlinLe } from '../../audio/slin.js';
import { decodeWav } from '../../audio/wav.js';
import { PalabreError } from '../../errors.js';
import { createEspeakTts, type EspeakTts } from './espeak.js';
import { PhraseCache, type CacheFormat } from './phrase-cache.js';
import { EN_SENTENCE, FR_SENTENCE, LONG_EN_TEXT } from './test-support.js';
import type { TtsOptions, VoiceResolvingTts } from './types.js';

const PCM16K: CacheFormat = { encoding: 'pcm16', sampleRate: 16_000 };
const ULAW8K: CacheFormat = { encoding: 'ulaw', sampleRate: 8_000 };

/** The real engine, counting how many syntheses it is asked for. */
function counting(inner: EspeakTts): VoiceResolvingTts & { calls: number } {
  const wrapper = {
    name: inner.name,
    sampleRate: inner.sampleRate,
    languages: inner.languages,
    calls: 0,
    voices: () => inner.voices(),
    resolveVoice: (o?: TtsOptions) => inner.resolveVoice(o),
    synthesize(text: string, o?: TtsOptions): AsyncIterable<AudioChunk> {
      wrapper.calls++;
      return inner.synthesize(text, o);
    },
    close: () => Promise.resolve(),
  };
  return wrapper;
}

async function all(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

async function errorOf(p: Promise<unknown>): Promise<PalabreError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PalabreError);
    return e as PalabreError;
  }
  throw new Error('expected a rejection');
}

describe('PhraseCache', () => {
  let espeak: EspeakTts;
  let tts: ReturnType<typeof counting>;
  beforeAll(async () => {
    // The program back-end renders the same text to the same bytes, which lets tests compare outputs exactly.
    espeak = await createEspeakTts({ backend: 'cli' });
    tts = counting(espeak);
  });
  afterAll(async () => {
    await espeak.close();
  });

  it('synthesises on a miss, then answers the same phrase from memory', async () => {
    const cache = new PhraseCache();
    const first = await all(cache.get(tts, { text: FR_SENTENCE, language: 'fr' }, PCM16K));
    const callsAfterFirst = tts.calls;
    const second = await all(cache.get(tts, { text: `  ${FR_SENTENCE.replace(/ /gu, '\n  ')} `, voice: 'fr' }, PCM16K));
    expect(second.equals(first)).toBe(true);
    expect(tts.calls).toBe(callsAfterFirst);
    const samples = decodeSlinLe(first);
    expect(samples.length / 16_000).toBeGreaterThan(2.5);
    expect(rmsDbfs(samples)).toBeGreaterThan(-35);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, joined: 0, entries: 1, bytes: first.length });
  });

  it('keys on voice, style and format as well as text', async () => {
    const cache = new PhraseCache();
    await all(cache.get(tts, { text: EN_SENTENCE, voice: 'en-us' }, PCM16K));
    await all(cache.get(tts, { text: EN_SENTENCE, voice: 'en-gb' }, PCM16K));
    await all(cache.get(tts, { text: EN_SENTENCE, voice: 'en-us', style: 'empathie' }, PCM16K));
    const ulaw = await all(cache.get(tts, { text: EN_SENTENCE, voice: 'en-us' }, ULAW8K));
    await all(cache.get(tts, { text: EN_SENTENCE, language: 'en' }, PCM16K));
    expect(cache.stats()).toMatchObject({ misses: 4, hits: 1, entries: 4 });
    // One byte per sample at 8 kHz, and it decodes to speech.
    expect(ulaw.length / 8000).toBeGreaterThan(2.5);
    expect(rmsDbfs(decodeG711('ulaw', ulaw))).toBeGreaterThan(-35);
    expect(cache.peek(tts, { text: EN_SENTENCE, voice: 'en-us' }, ULAW8K)?.bytes.length).toBe(ulaw.length);
  });

  it('evicts least recently used phrases to stay within its byte bound', async () => {
    const one = (await all(new PhraseCache().get(tts, { text: 'un', voice: 'fr' }, ULAW8K))).length;
    const cache = new PhraseCache({ maxBytes: one * 2.5, maxEntries: 100 });
    for (const text of ['un', 'deux', 'trois', 'quatre', 'cinq']) await all(cache.get(tts, { text, voice: 'fr' }, ULAW8K));
    const s = cache.stats();
    expect(s.bytes).toBeLessThanOrEqual(one * 2.5);
    expect(s.evictions).toBeGreaterThanOrEqual(2);
    expect(cache.peek(tts, { text: 'un', voice: 'fr' }, ULAW8K)).toBeUndefined();
    expect(cache.peek(tts, { text: 'cinq', voice: 'fr' }, ULAW8K)).toBeDefined();
  });

  it('evicts to stay within its entry bound', async () => {
    const cache = new PhraseCache({ maxEntries: 2 });
    for (const text of ['un', 'deux', 'trois']) await all(cache.get(tts, { text, voice: 'fr' }, ULAW8K));
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 1 });
  });

  it('keeps pre-rendered static phrases through eviction pressure', async () => {
    const cache = new PhraseCache({ maxEntries: 2 });
    const loaded = await cache.preload(tts, [{ text: 'Bienvenue chez Palabre.', language: 'fr' }, { text: 'Au revoir.', language: 'fr', style: 'empathie' }], ULAW8K);
    expect(loaded.phrases).toBe(2);
    for (const text of ['un', 'deux', 'trois', 'quatre', 'cinq']) await all(cache.get(tts, { text, voice: 'fr' }, ULAW8K));
    const calls = tts.calls;
    const hitsBefore = cache.stats().hits;
    await all(cache.get(tts, { text: 'Bienvenue chez Palabre.', voice: 'fr' }, ULAW8K));
    await all(cache.get(tts, { text: 'Au revoir.', language: 'fr', style: 'empathie' }, ULAW8K));
    expect(tts.calls).toBe(calls);
    const s = cache.stats();
    expect(s.hits).toBe(hitsBefore + 2);
    expect(s).toMatchObject({ staticEntries: 2, entries: 4, evictions: 3 });
    expect(s.staticBytes).toBe(loaded.bytes);
  });

  it('names the phrase that cannot be pre-rendered', async () => {
    const err = await errorOf(new PhraseCache().preload(tts, [{ text: 'ok', voice: 'xx-nowhere' }], PCM16K));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/no voice 'xx-nowhere'/u);
  });

  it('lets a second request for a phrase being synthesised share that synthesis', async () => {
    const cache = new PhraseCache();
    const calls = tts.calls;
    const [a, b] = await Promise.all([all(cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-us' }, PCM16K)), all(cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-us' }, PCM16K))]);
    expect(tts.calls).toBe(calls + 1);
    expect(a.equals(b)).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 1, joined: 1, entries: 1 });
  });

  it('says where a stream comes from, with no word timings for an engine that gives none', async () => {
    const cache = new PhraseCache();
    const first = cache.stream(tts, { text: EN_SENTENCE, voice: 'en-us' }, ULAW8K);
    const second = cache.stream(tts, { text: EN_SENTENCE, voice: 'en-us' }, ULAW8K);
    const [a, b] = await Promise.all([all(first.chunks), all(second.chunks)]);
    expect(a.equals(b)).toBe(true);
    const third = cache.stream(tts, { text: EN_SENTENCE, voice: 'en-us' }, ULAW8K);
    expect([first.source, second.source, third.source]).toEqual(['miss', 'joined', 'hit']);
    expect((await all(third.chunks)).equals(a)).toBe(true);
    for (const s of [first, second, third]) expect(s.words()).toEqual([]);
    expect(() => cache.stream(tts, { text: 'x' }, { encoding: 'pcm16', sampleRate: 12 })).toThrow(/sample rate/u);
  });

  it('streams a miss: the first bytes arrive before the synthesis is over', async () => {
    const cache = new PhraseCache();
    const started = performance.now();
    let first = 0;
    for await (const _chunk of cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-gb' }, PCM16K)) first ||= performance.now() - started;
    expect(first).toBeLessThan((performance.now() - started) / 2);
  });

  it('stores nothing when the only listener aborts, and renders the phrase whole next time', async () => {
    const cache = new PhraseCache();
    const ac = new AbortController();
    const err = await errorOf(
      (async () => {
        for await (const _chunk of cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-us', signal: ac.signal }, PCM16K)) ac.abort();
      })(),
    );
    expect(err.code).toBe('aborted');
    await new Promise((r) => setTimeout(r, 50));
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 });
    const whole = await all(cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-us' }, PCM16K));
    const reference = await all(new PhraseCache().get(tts, { text: LONG_EN_TEXT, voice: 'en-us' }, PCM16K));
    expect(whole.equals(reference)).toBe(true);
    expect(cache.stats()).toMatchObject({ misses: 2, entries: 1 });
  });

  it('keeps synthesising for the remaining listener when one of two aborts', async () => {
    const cache = new PhraseCache();
    const ac = new AbortController();
    const quitter = errorOf(
      (async () => {
        for await (const _chunk of cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-gb', signal: ac.signal }, ULAW8K)) ac.abort();
      })(),
    );
    const stayer = all(cache.get(tts, { text: LONG_EN_TEXT, voice: 'en-gb' }, ULAW8K));
    expect((await quitter).code).toBe('aborted');
    const bytes = await stayer;
    expect(bytes.length / 8000).toBeGreaterThan(25);
    expect(cache.peek(tts, { text: LONG_EN_TEXT, voice: 'en-gb' }, ULAW8K)?.bytes.length).toBe(bytes.length);
  });

  it('passes engine errors through and caches nothing for them', async () => {
    const cache = new PhraseCache();
    const err = await errorOf(all(cache.get(tts, { text: '   ' }, PCM16K)));
    expect(err.code).toBe('bad_request');
    expect(cache.stats().entries).toBe(0);
    const bad = await errorOf(all(cache.get(tts, { text: 'x' }, { encoding: 'mp3' as never, sampleRate: 8000 })));
    expect(bad.message).toMatch(/encoding must be one of pcm16, ulaw, alaw/u);
  });

  it('renders a cached phrase into a WAV or raw container for HTTP replies', async () => {
    const cache = new PhraseCache();
    const wav = await cache.render(tts, { text: EN_SENTENCE, language: 'en' }, { container: 'wav', sampleRate: 16_000 });
    expect(wav).toMatchObject({ contentType: 'audio/wav', sampleRate: 16_000, voice: 'en-us', cached: false });
    const decoded = decodeWav(wav.bytes);
    expect(decoded.sampleRate).toBe(16_000);
    expect(decoded.samples.length / 16_000).toBeCloseTo(wav.durationSec, 3);
    const again = await cache.render(tts, { text: EN_SENTENCE, voice: 'en-us' }, { container: 'pcm', sampleRate: 16_000 });
    expect(again.cached).toBe(true);
    expect(Buffer.from(again.bytes).equals(Buffer.from(wav.bytes.subarray(wav.bytes.length - again.bytes.length)))).toBe(true);
    const alaw = await cache.render(tts, { text: EN_SENTENCE, voice: 'en-us' }, { container: 'alaw', sampleRate: 8000 });
    expect(alaw.contentType).toBe('audio/x-alaw-basic');
    expect(alaw.bytes.length).toBe(Math.round(alaw.durationSec * 8000));
  });
});
