import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsDbfs } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { createEspeakTts, type EspeakBackend, type EspeakTts } from './espeak.js';
import { collect, EN_SENTENCE, FR_SENTENCE, LONG_EN_TEXT, seconds } from './test-support.js';

async function errorOf(p: Promise<unknown>): Promise<PalabreError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PalabreError);
    return e as PalabreError;
  }
  throw new Error('expected a rejection');
}

describe.each<EspeakBackend>(['wasm', 'cli'])('espeak-ng (%s back-end)', (backend) => {
  let tts: EspeakTts;
  beforeAll(async () => {
    tts = await createEspeakTts({ backend, warmUp: false, maxQueue: 4 });
  });
  afterAll(async () => {
    await tts.close();
  });

  it('loads the requested back-end at 22,050 Hz with French and English voices', () => {
    expect(tts.backend).toBe(backend);
    expect(tts.sampleRate).toBe(22_050);
    const ids = tts.voices().map((v) => v.id);
    expect(ids).toEqual(expect.arrayContaining(['fr', 'fr-fr', 'en-us', 'en-gb']));
    expect(tts.languages).toEqual(expect.arrayContaining(['fr', 'en']));
    expect(tts.voices().find((v) => v.id === 'fr')?.name).toMatch(/French/u);
  });

  it.each([
    ['fr', FR_SENTENCE],
    ['en', EN_SENTENCE],
  ])('speaks a %s sentence as audible speech of plausible length', async (language, text) => {
    const audio = await collect(tts.synthesize(text, { language }));
    expect(audio.sampleRate).toBe(22_050);
    // ~14 words at espeak's 175 words/min is about 3.3 s.
    expect(seconds(audio)).toBeGreaterThan(2.2);
    expect(seconds(audio)).toBeLessThan(5.5);
    expect(rmsDbfs(audio.samples)).toBeGreaterThan(-35);
  });

  it('maps languages to voices (fr → fr, en → en-us) and lets a voice override the language', async () => {
    expect(tts.resolveVoice({ language: 'fr' })).toBe('fr');
    expect(tts.resolveVoice({ language: 'en' })).toBe('en-us');
    expect(tts.resolveVoice({ language: 'en-GB' })).toBe('en-gb');
    expect(tts.resolveVoice({ voice: 'en-gb', language: 'fr' })).toBe('en-gb');
    expect(tts.resolveVoice({})).toBe('fr');
    const us = await collect(tts.synthesize('tomato', { voice: 'en-us' }));
    const gb = await collect(tts.synthesize('tomato', { voice: 'en-gb' }));
    expect(Buffer.from(us.samples.buffer).equals(Buffer.from(gb.samples.buffer))).toBe(false);
  });

  it('streams: the first chunk of a long text arrives well before the last', async () => {
    const started = performance.now();
    let first = 0;
    let chunks = 0;
    let samples = 0;
    for await (const c of tts.synthesize(LONG_EN_TEXT, { language: 'en' })) {
      if (chunks === 0) first = performance.now() - started;
      chunks++;
      samples += c.samples.length;
    }
    const total = performance.now() - started;
    expect(samples / 22_050).toBeGreaterThan(25);
    expect(chunks).toBeGreaterThan(5);
    expect(first).toBeLessThan(total / 2);
  });

  it('stops at once when aborted mid-synthesis and stays usable', async () => {
    const ac = new AbortController();
    let received = 0;
    const started = performance.now();
    let abortedAt = 0;
    const err = await errorOf(
      (async () => {
        for await (const c of tts.synthesize(LONG_EN_TEXT, { language: 'en', signal: ac.signal })) {
          received += c.samples.length;
          if (!ac.signal.aborted) {
            ac.abort();
            abortedAt = performance.now();
          }
        }
      })(),
    );
    expect(err.code).toBe('aborted');
    expect(performance.now() - abortedAt).toBeLessThan(100);
    expect(received / 22_050).toBeLessThan(10);
    expect(performance.now() - started).toBeLessThan(5_000);
    const after = await collect(tts.synthesize(EN_SENTENCE, { language: 'en' }));
    expect(seconds(after)).toBeGreaterThan(2.2);
  });

  it('refuses an already aborted request without synthesising', async () => {
    const err = await errorOf(collect(tts.synthesize(EN_SENTENCE, { signal: AbortSignal.abort() })));
    expect(err.code).toBe('aborted');
  });

  it('keeps concurrent requests apart: each gets its own whole sentence', async () => {
    const fr = await collect(tts.synthesize(FR_SENTENCE, { voice: 'fr' }));
    const en = await collect(tts.synthesize(EN_SENTENCE, { voice: 'en-us' }));
    const [a, b] = await Promise.all([collect(tts.synthesize(FR_SENTENCE, { voice: 'fr' })), collect(tts.synthesize(EN_SENTENCE, { voice: 'en-us' }))]);
    // espeak carries a few samples of state from one utterance to the next, so compare lengths, not bytes:
    // chunks of one request leaking into the other would shift both by a second or more.
    expect(Math.abs(seconds(a) - seconds(fr))).toBeLessThan(0.02);
    expect(Math.abs(seconds(b) - seconds(en))).toBeLessThan(0.02);
  });

  it('speaks text with quotes, markup-like characters and leading dashes without breaking', async () => {
    const text = `--help -v xx "Bonjour" <speak>l'été</speak> & a < b > c \\ $HOME \`ls\``;
    const audio = await collect(tts.synthesize(text, { language: 'fr' }));
    expect(rmsDbfs(audio.samples)).toBeGreaterThan(-35);
    expect(seconds(audio)).toBeGreaterThan(3);
    // Markup is text, never obeyed: a 9 s break tag would make this last over 9 s.
    const tagged = await collect(tts.synthesize('un <break time="9s"/> deux', { language: 'fr' }));
    expect(seconds(tagged)).toBeLessThan(5);
  });

  it('refuses empty text, unknown voices and unknown languages with a clear error', async () => {
    let err = await errorOf(collect(tts.synthesize('  \n ')));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/empty/u);
    err = await errorOf(collect(tts.synthesize('bonjour', { voice: 'fr-xx-nowhere' })));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/no voice 'fr-xx-nowhere'.*fr-fr/u);
    err = await errorOf(collect(tts.synthesize('bonjour', { language: 'tlh' })));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/language 'tlh'/u);
    err = await errorOf(collect(tts.synthesize('x'.repeat(10_001))));
    expect(err.code).toBe('payload_too_large');
  });

  it('refuses requests beyond its waiting line instead of queueing without bound', async () => {
    const one = await createEspeakTts({ backend, warmUp: false, maxQueue: 1, maxProcesses: 1 });
    try {
      const runs = [0, 1, 2].map(() => collect(one.synthesize(LONG_EN_TEXT, { language: 'en' })).then(() => 'ok', (e: PalabreError) => e.code));
      expect((await Promise.all(runs)).sort()).toEqual(['engine_unavailable', 'ok', 'ok']);
    } finally {
      await one.close();
    }
  });
});

describe('espeak-ng loading', () => {
  it('names the missing npm package when the WASM back-end is forced', async () => {
    const err = await errorOf(createEspeakTts({ backend: 'wasm', wasmPackage: '@echogarden/espeak-ng-missing' }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(/@echogarden\/espeak-ng-missing.*not installed/u);
  });

  it('names the missing program when the CLI back-end is forced', async () => {
    const err = await errorOf(createEspeakTts({ backend: 'cli', program: '/nowhere/espeak-ng' }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(/'\/nowhere\/espeak-ng' is not on PATH/u);
  });

  it('falls back from a missing package to the program, and reports both when neither works', async () => {
    const tts = await createEspeakTts({ wasmPackage: '@echogarden/espeak-ng-missing', warmUp: false });
    expect(tts.backend).toBe('cli');
    await tts.close();
    const err = await errorOf(createEspeakTts({ wasmPackage: '@echogarden/espeak-ng-missing', program: '/nowhere/espeak-ng' }));
    expect(err.message).toMatch(/not installed.*not on PATH/u);
  });

  it('refuses work after close()', async () => {
    const tts = await createEspeakTts({ backend: 'wasm', warmUp: false });
    await tts.close();
    const err = await errorOf(collect(tts.synthesize('bonjour')));
    expect(err.code).toBe('engine_unavailable');
  });
});
