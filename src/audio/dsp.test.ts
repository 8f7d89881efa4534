import { describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { rmsDbfs } from './frame.js';
import { LowpassFilter, lowpass, normalizeRms, normalizeRmsDetailed, trim } from './dsp.js';
import { ASTERISK_HELLO, correlation, int16FromLe, int16ToLe, maxAbsDiff, peak, sine, sox, toneAmplitude } from './test-support.js';

const gainDb = (input: Int16Array, output: Int16Array, freq: number, rate: number) =>
  20 * Math.log10(toneAmplitude(output.subarray(rate / 10), freq, rate) / toneAmplitude(input.subarray(rate / 10), freq, rate));

describe('lowpass', () => {
  it('is a Butterworth response: flat in the passband, -3 dB at the cut-off, falling 12 or 24 dB per octave', () => {
    const rate = 16000;
    const at = (freq: number, order: 2 | 4) => {
      const x = sine(freq, rate, rate, 10_000);
      return gainDb(x, lowpass(x, rate, 2000, order), freq, rate);
    };
    expect(Math.abs(at(300, 2))).toBeLessThan(0.1);
    expect(at(2000, 2)).toBeCloseTo(-3.01, 1);
    expect(at(2000, 4)).toBeCloseTo(-3.01, 1);
    // Bilinear warping makes the slope steeper near Nyquist than the analogue 12/24 dB per octave.
    expect(at(4000, 2)).toBeLessThan(-12);
    expect(at(4000, 4)).toBeLessThan(-24);
  });

  it('matches sox lowpass -2 (a 2-pole Butterworth biquad) on real speech', () => {
    const speech = int16FromLe(sox([ASTERISK_HELLO, '-t', 'raw', '-']));
    const ours = lowpass(speech, 8000, 1000);
    const theirs = int16FromLe(sox(['-D', '-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', '-', '-t', 'raw', '-', 'lowpass', '-2', '1000'], int16ToLe(speech)));
    expect(correlation(ours, theirs)).toBeGreaterThan(0.999);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(64);
  });

  it('filters a stream in chunks exactly as in one piece', () => {
    const x = int16FromLe(sox([ASTERISK_HELLO, '-t', 'raw', '-']));
    const whole = lowpass(x, 8000, 3000, 4);
    const f = new LowpassFilter(8000, 3000, 4);
    const parts: number[] = [];
    for (let i = 0; i < x.length; i += 157) parts.push(...f.process(x.subarray(i, i + 157)));
    expect(Int16Array.from(parts)).toEqual(whole);
  });

  it('refuses a cut-off at or above Nyquist', () => {
    expect(() => lowpass(new Int16Array(10), 8000, 4000)).toThrow(/below half the sample rate \(4000 Hz\)/);
    expect(() => lowpass(new Int16Array(10), 8000, 0)).toThrow(PalabreError);
  });
});

describe('normalizeRms', () => {
  it('brings speech to the target RMS level', () => {
    const speech = int16FromLe(sox([ASTERISK_HELLO, '-t', 'raw', '-', 'vol', '0.1']));
    const out = normalizeRms(speech, -26);
    expect(rmsDbfs(out)).toBeCloseTo(-26, 1);
  });

  it('caps the gain at the peak limit instead of clipping', () => {
    // A lone spike in quiet audio: reaching -10 dBFS RMS would drive the spike far past full scale.
    const x = sine(200, 8000, 8000, 500);
    x[4000] = 16000;
    const r = normalizeRmsDetailed(x, -10, { peakDbfs: -1 });
    expect(r.peakLimited).toBe(true);
    expect(peak(r.samples)).toBeLessThanOrEqual(Math.round(32768 * 10 ** (-1 / 20)));
    expect(peak(r.samples)).toBeGreaterThan(29000);
    expect(rmsDbfs(r.samples)).toBeLessThan(-10);
  });

  it('leaves digital silence alone and bounds the gain on near-silence', () => {
    expect(normalizeRms(new Int16Array(100), -20)).toEqual(new Int16Array(100));
    const hiss = sine(1000, 8000, 800, 3);
    expect(normalizeRmsDetailed(hiss, -20).gainDb).toBe(30);
  });
});

describe('trim', () => {
  it('copies the range, clamping to the buffer', () => {
    const x = Int16Array.from([1, 2, 3, 4, 5]);
    expect(trim(x, 1, 3)).toEqual(Int16Array.from([2, 3]));
    expect(trim(x, -5, 99)).toEqual(x);
    expect(trim(x, 2)).toEqual(Int16Array.from([3, 4, 5]));
    expect(trim(x, 1, 3).buffer).not.toBe(x.buffer);
    expect(() => trim(x, 3, 1)).toThrow(/start 3 is after its end 1/);
    expect(() => trim(x, 0.5, 2)).toThrow(PalabreError);
  });
});
