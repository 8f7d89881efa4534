import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsDbfs } from '../../audio/frame.js';
import { resample } from '../../audio/resample.js';
import { PalabreError } from '../../errors.js';
import { createFliteTts, type FliteBackend, type FliteTts } from './flite.js';
import { collect, EN_SENTENCE, estimateF0, seconds, silentShare } from './test-support.js';

async function errorOf(p: Promise<unknown>): Promise<PalabreError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PalabreError);
    return e as PalabreError;
  }
  throw new Error('expected a rejection');
}

const fliteTemps = (): string[] => readdirSync(tmpdir()).filter((f) => f.startsWith('palabre-flite-'));

describe.each<FliteBackend>(['wasm', 'cli'])('flite (%s back-end)', (backend) => {
  let tts: FliteTts;
  beforeAll(async () => {
    tts = await createFliteTts({ backend });
  });
  afterAll(async () => {
    await tts.close();
  });

  it('lists its five English voices and speaks at 16 kHz', () => {
    expect(tts.backend).toBe(backend);
    expect(tts.sampleRate).toBe(16_000);
    expect(tts.languages).toEqual(['en']);
    expect(tts.voices().map((v) => v.id)).toEqual(['slt', 'kal16', 'kal', 'awb', 'rms']);
  });

  it('speaks an English sentence in the default voice (slt) as audible speech of plausible length', async () => {
    const audio = await collect(tts.synthesize(EN_SENTENCE));
    expect(audio.sampleRate).toBe(16_000);
    // 12 words at flite's pace: 3.6 s measured with the Debian program.
    expect(seconds(audio)).toBeGreaterThan(2.8);
    expect(seconds(audio)).toBeLessThan(4.5);
    expect(rmsDbfs(audio.samples)).toBeGreaterThan(-30);
    // A female voice: slt's median F0 is about 165 Hz.
    expect(estimateF0(audio).medianHz).toBeGreaterThan(130);
  });

  it('resamples the 8 kHz kal voice to 16 kHz without changing its length', async () => {
    const audio = await collect(tts.synthesize(EN_SENTENCE, { voice: 'kal' }));
    expect(audio.sampleRate).toBe(16_000);
    expect(seconds(audio)).toBeGreaterThan(3.5);
    expect(seconds(audio)).toBeLessThan(4.4);
    const f0 = estimateF0(audio);
    expect(f0.medianHz).toBeGreaterThan(70);
    expect(f0.medianHz).toBeLessThan(130);
  });

  it('gives speech that still looks like speech once brought to the 16 kHz pipeline rate', async () => {
    const kal16 = await collect(tts.synthesize('Please say yes or no after the tone.', { voice: 'kal16' }));
    const at16k = await resample(kal16, 16_000);
    const f0 = estimateF0(at16k);
    expect(seconds(at16k)).toBeGreaterThan(1.5);
    expect(seconds(at16k)).toBeLessThan(3.5);
    // Voiced frames with a male pitch, and pauses between words: neither silence, noise nor a tone.
    expect(f0.voicedShare).toBeGreaterThan(0.3);
    expect(f0.medianHz).toBeGreaterThan(70);
    expect(f0.medianHz).toBeLessThan(160);
    expect(silentShare(at16k)).toBeGreaterThan(0.03);
    expect(silentShare(at16k)).toBeLessThan(0.6);
  });

  it('yields a long text sentence by sentence, the first well before the last', async () => {
    const started = performance.now();
    const at: number[] = [];
    for await (const _c of tts.synthesize(`${EN_SENTENCE} `.repeat(4))) at.push(performance.now() - started);
    // EN_SENTENCE has two sentences: eight in all.
    expect(at.length).toBe(8);
    expect(at[0]).toBeLessThan(at[7] / 2);
  });

  it('speaks text that starts with a dash or holds quotes and markup', async () => {
    const audio = await collect(tts.synthesize(`-voice kal -o /etc/passwd "quoted" <b>bold</b> & $HOME`));
    expect(seconds(audio)).toBeGreaterThan(2);
    expect(rmsDbfs(audio.samples)).toBeGreaterThan(-30);
  });

  it('refuses other languages, unknown voices and empty text with a clear error', async () => {
    let err = await errorOf(collect(tts.synthesize('bonjour', { language: 'fr' })));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/English only/u);
    err = await errorOf(collect(tts.synthesize('hello', { voice: 'mary' })));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/no voice 'mary'.*slt/u);
    err = await errorOf(collect(tts.synthesize('')));
    expect(err.message).toMatch(/empty/u);
  });

  it('answers an abort at once and stays usable, leaving no temporary files', async () => {
    const before = fliteTemps();
    const ac = new AbortController();
    const pending = collect(tts.synthesize(`${EN_SENTENCE} `.repeat(8), { signal: ac.signal }));
    setTimeout(() => ac.abort(), 5);
    const started = performance.now();
    const err = await errorOf(pending);
    expect(err.code).toBe('aborted');
    expect(performance.now() - started).toBeLessThan(300);
    const after = await collect(tts.synthesize(EN_SENTENCE));
    expect(seconds(after)).toBeGreaterThan(2.8);
    expect(fliteTemps()).toEqual(before);
  });
});

describe('flite loading', () => {
  it('names the missing program when the CLI back-end is forced', async () => {
    const err = await errorOf(createFliteTts({ backend: 'cli', program: '/nowhere/flite' }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(/'\/nowhere\/flite' is not on PATH/u);
  });

  it('names the missing npm package, falling back to the program in auto mode', async () => {
    const err = await errorOf(createFliteTts({ backend: 'wasm', wasmPackage: '@echogarden/flite-missing' }));
    expect(err.message).toMatch(/@echogarden\/flite-missing.*not installed/u);
    const tts = await createFliteTts({ wasmPackage: '@echogarden/flite-missing' });
    expect(tts.backend).toBe('cli');
    await tts.close();
  });

  it('refuses an unknown default voice', async () => {
    const err = await errorOf(createFliteTts({ voice: 'hal9000' }));
    expect(err.code).toBe('config_invalid');
  });
});
