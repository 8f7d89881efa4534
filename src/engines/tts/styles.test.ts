import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioChunk } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { createEspeakTts } from './espeak.js';
import { createFliteTts } from './flite.js';
import { applyGain, espeakParams, fliteFeatures, prosodyFor, STYLE_PROSODY } from './styles.js';
import { collect, estimateF0, seconds, semitones, silentShare, speechLevelDbfs } from './test-support.js';
import { SPEAKING_STYLES, type SpeakingStyle, type Tts } from './types.js';

const TEXT = 'Thank you for your answer. We will now move on to the next question. Take your time.';

describe('style table', () => {
  it('covers the six styles, with neutral as the identity', () => {
    expect(Object.keys(STYLE_PROSODY).sort()).toEqual([...SPEAKING_STYLES].sort());
    expect(prosodyFor(undefined)).toEqual({ rate: 1, pitch: 0, volume: 1, range: 1, sentencePauseMs: 0 });
    expect(espeakParams(prosodyFor('neutre'))).toEqual({ rate: 175, pitch: 50, amplitude: 100, range: 50 });
    expect(fliteFeatures(prosodyFor('neutre'), 'slt')).toEqual([]);
  });

  it('turns styles into each engine units, within their limits', () => {
    const e = espeakParams(prosodyFor('empathie'));
    expect(e.rate).toBeLessThan(175);
    expect(e.pitch).toBeLessThan(50);
    expect(e.amplitude).toBeLessThan(100);
    const up = espeakParams({ rate: 9, pitch: 40, volume: 9, range: 9, sentencePauseMs: 0 });
    expect(up).toEqual({ rate: 450, pitch: 99, amplitude: 200, range: 99 });
    const f = fliteFeatures(prosodyFor('enthousiasme_modere'), 'slt');
    expect(f).toContain('--setf');
    expect(f.find((a) => a.startsWith('duration_stretch='))).toBe(`duration_stretch=${(1 / 1.12).toFixed(4)}`);
    expect(Number(f.find((a) => a.startsWith('int_f0_target_mean='))?.split('=')[1])).toBeCloseTo(168 * 2 ** (3 / 12), 0);
  });

  it('refuses an unknown style by name', () => {
    expect(() => prosodyFor('joyeux' as SpeakingStyle)).toThrow(PalabreError);
    expect(() => prosodyFor('joyeux' as SpeakingStyle)).toThrow(/unknown speaking style 'joyeux'.*empathie/u);
  });

  it('applies gain with saturation instead of wrap-around', () => {
    expect([...applyGain(Int16Array.from([1000, -1000, 30000, -30000]), 1.5)]).toEqual([1500, -1500, 32767, -32768]);
  });
});

type Measured = Record<SpeakingStyle, { dur: number; level: number; f0: number; silent: number }>;

async function measureStyles(tts: Tts, options: { voice?: string }): Promise<Measured> {
  const out = {} as Measured;
  for (const style of SPEAKING_STYLES) {
    const audio: AudioChunk = await collect(tts.synthesize(TEXT, { ...options, style }));
    out[style] = { dur: seconds(audio), level: speechLevelDbfs(audio), f0: estimateF0(audio).medianHz, silent: silentShare(audio) };
  }
  return out;
}

describe.each([
  ['espeak-ng', () => createEspeakTts({ backend: 'cli' }), { voice: 'en-us' }],
  ['flite', () => createFliteTts({ backend: 'wasm' }), { voice: 'slt' }],
] as const)('styles on %s', (_name, create, options) => {
  let tts: Tts;
  let m: Measured;
  beforeAll(async () => {
    tts = await create();
    m = await measureStyles(tts, options);
  });
  afterAll(async () => {
    await tts?.close();
  });

  it('changes the rate: empathie and reflexion are slower, enthousiasme_modere faster', () => {
    expect(m.empathie.dur).toBeGreaterThan(m.neutre.dur * 1.1);
    expect(m.reflexion.dur).toBeGreaterThan(m.neutre.dur * 1.2);
    expect(m.enthousiasme_modere.dur).toBeLessThan(m.neutre.dur * 0.95);
  });

  it('changes the level: empathie is softer, enthousiasme_modere louder', () => {
    expect(m.empathie.level).toBeLessThan(m.neutre.level - 2);
    expect(m.enthousiasme_modere.level).toBeGreaterThan(m.neutre.level + 0.5);
  });

  it('changes the pitch: enthousiasme_modere and curiosite higher, empathie lower', () => {
    expect(semitones(m.neutre.f0, m.enthousiasme_modere.f0)).toBeGreaterThan(1.5);
    expect(semitones(m.neutre.f0, m.curiosite.f0)).toBeGreaterThan(1);
    expect(semitones(m.neutre.f0, m.empathie.f0)).toBeLessThan(-1);
  });

  it('gives reflexion longer pauses between sentences', () => {
    expect(m.reflexion.silent).toBeGreaterThan(m.neutre.silent + 0.05);
  });
});
