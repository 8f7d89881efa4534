import { beforeAll, describe, expect, it } from 'vitest';
import { loadResampler } from '../../audio/resample.js';
import { buildScene, gaps, mixNoise, prng, regionDb, type Scene } from '../../../test/fixtures/vad-audio.js';
import { PalabreError } from '../../errors.js';
import { createRnnoise, type RnnoiseDenoiser } from './rnnoise.js';

/** Runs a whole chunk through a fresh stream in 20 ms frames; returns the output with the stream's delay removed. */
function denoise(d: RnnoiseDenoiser, scene: Scene): Int16Array {
  const rate = scene.chunk.sampleRate;
  const x = scene.chunk.samples;
  const step = rate / 50;
  const s = d.createStream(rate);
  const y = new Int16Array(x.length);
  for (let i = 0; i < x.length; i += step) {
    const out = s.process({ samples: x.subarray(i, i + step), sampleRate: rate });
    y.set(out.samples, i);
  }
  s.close();
  const delay = Math.round((d.delayMs * rate) / 1000);
  const aligned = new Int16Array(x.length);
  aligned.set(y.subarray(delay));
  return aligned;
}

/** Lag (in samples, 0..max) at which `y` best matches `x`. */
function bestLag(x: Int16Array, y: Int16Array, max: number): number {
  let best = -Infinity;
  let lag = 0;
  for (let l = 0; l <= max; l++) {
    let c = 0;
    let e = 0;
    for (let i = 0; i < x.length && i + l < y.length; i++) {
      c += x[i] * y[i + l];
      e += y[i + l] * y[i + l];
    }
    const r = c / Math.sqrt(e + 1);
    if (r > best) {
      best = r;
      lag = l;
    }
  }
  return lag;
}

describe('RNNoise denoiser', () => {
  let d: RnnoiseDenoiser;
  beforeAll(async () => {
    d = await createRnnoise();
  });

  /**
   * Measured on agent-pass + conf-getpin (1 s lead, 1 s gap, 1.5 s tail), noise
   * at 10 dB SNR against the speech, seeded: the pauses lose 39.5–44 dB and the
   * speech regions end up 0.1–0.3 dB below the clean prompt (16 kHz and 8 kHz,
   * white and pink). Bounds: ≥ 30 dB and < 1.5 dB.
   */
  it.each([
    [16_000, 'white'],
    [16_000, 'pink'],
    [8_000, 'white'],
    [8_000, 'pink'],
  ] as const)('at %i Hz removes ≥ 30 dB of %s noise from the pauses while speech loses < 1.5 dB', async (rate, kind) => {
    const clean = await buildScene(['agent-pass', 'conf-getpin'], { sampleRate: rate });
    const noisy = mixNoise(clean, 10, kind, 3);
    const out = { samples: denoise(d, noisy), sampleRate: rate };
    const totalMs = (noisy.chunk.samples.length * 1000) / rate;
    // Pauses, 100 ms away from speech, after the first 300 ms in which RNNoise learns the noise.
    const pauses = gaps(clean.truth, totalMs, 100).filter((r) => r.startMs >= 300);
    const reduction = regionDb(noisy.chunk, pauses) - regionDb(out, pauses);
    expect(reduction).toBeGreaterThanOrEqual(30);
    const speechLoss = regionDb(clean.chunk, clean.truth) - regionDb(out, clean.truth);
    expect(speechLoss).toBeLessThan(1.5);
    expect(speechLoss).toBeGreaterThan(-1.5);
  });

  it('returns as many samples as it is given, call by call, whatever the call sizes and rate', () => {
    const rand = prng(5);
    for (const rate of [8_000, 16_000, 22_050, 44_100, 48_000]) {
      const s = d.createStream(rate);
      for (let i = 0; i < 400; i++) {
        const n = 1 + Math.floor(rand() * rand() * 2000);
        const samples = Int16Array.from({ length: n }, () => Math.round((rand() - 0.5) * 8000));
        const out = s.process({ samples, sampleRate: rate });
        expect(out.sampleRate).toBe(rate);
        expect(out.samples.length).toBe(n);
      }
      s.close();
    }
  });

  it('lags its input by exactly delayMs at 8, 16 and 48 kHz', async () => {
    expect(d.delayMs).toBeGreaterThan(10);
    expect(d.delayMs).toBeLessThan(40);
    for (const rate of [8_000, 16_000, 48_000]) {
      const scene = await buildScene(['conf-onlyperson'], { sampleRate: rate, leadMs: 100, tailMs: 100 });
      const s = d.createStream(rate);
      const step = rate / 50;
      const y = new Int16Array(scene.chunk.samples.length);
      for (let i = 0; i < y.length; i += step) y.set(s.process({ samples: scene.chunk.samples.subarray(i, i + step), sampleRate: rate }).samples, i);
      s.close();
      // 600 ms of the prompt from its start is enough to pin the lag, and keeps the search quick at 48 kHz.
      const from = Math.round(rate * 0.1);
      const span = Math.round(rate * 0.6);
      const lag = bestLag(scene.chunk.samples.subarray(from, from + span), y.subarray(from, from + span + rate * 0.06), Math.round(rate * 0.06));
      // Within one sample: at 48 kHz RNNoise's own overlap-add lands one sample short of its frame.
      expect(Math.abs(lag - (d.delayMs * rate) / 1000)).toBeLessThanOrEqual(1);
    }
  });

  it('frees each stream on close: 10,000 streams leave both WASM heaps where they were', async () => {
    const factory = await loadResampler();
    const frame = { samples: new Int16Array(320).fill(1000), sampleRate: 16_000 };
    for (let i = 0; i < 50; i++) d.createStream(16_000).close();
    const mark = d.heapMark();
    const liveResamplers = factory.live;
    const liveStreams = d.live;
    for (let i = 0; i < 10_000; i++) {
      const s = d.createStream(16_000);
      s.process(frame);
      s.close();
    }
    // RNNoise's state is about 18 KB: a leak would move the mark by about 180 MB.
    expect(Math.abs(d.heapMark() - mark)).toBeLessThan(256 * 1024);
    expect(factory.live).toBe(liveResamplers);
    expect(d.live).toBe(liveStreams);
  });

  it('refuses a frame at another rate (rate_mismatch), use after close, and rates it cannot take', () => {
    const s = d.createStream(16_000);
    let err: unknown;
    try {
      s.process({ samples: new Int16Array(160), sampleRate: 8_000 });
    } catch (e) {
      err = e;
    }
    expect((err as PalabreError).code).toBe('rate_mismatch');
    s.close();
    expect(() => s.process({ samples: new Int16Array(320), sampleRate: 16_000 })).toThrow(/after close/);
    expect(() => d.createStream(4_000)).toThrow(PalabreError);
    expect(() => d.createStream(4_000)).toThrow(/8000–192000 Hz audio, not 4000 Hz/);
  });

  it('takes its resampling quality as an option, with a longer delay for better filters', async () => {
    const q10 = await createRnnoise({ quality: 10 });
    expect(q10.delayMs).toBeGreaterThan(d.delayMs);
    await expect(createRnnoise({ quality: 11 })).rejects.toThrow(/0 to 10, got 11/);
  });
});
