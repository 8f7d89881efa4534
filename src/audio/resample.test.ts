import { describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { SUPPORTED_RATES } from './frame.js';
import { loadResampler, resample, resampleWith } from './resample.js';
import { ASTERISK_HELLO, correlation, int16FromLe, int16ToLe, sine, sox, toneAmplitude, zeroCrossingHz } from './test-support.js';

const PAIRS: Array<[number, number]> = [
  [8000, 16000],
  [16000, 48000],
  [48000, 8000],
  [44100, 16000],
  [16000, 8000],
  [8000, 48000],
  [22050, 16000],
  [24000, 16000],
];

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('resampler', () => {
  it('loads the WASM once and hands back the same factory', async () => {
    const [a, b] = await Promise.all([loadResampler(), loadResampler()]);
    expect(a).toBe(b);
    expect(await loadResampler()).toBe(a);
  });

  it.each(PAIRS)('keeps a 1 kHz sine at 1 kHz and its amplitude through %i → %i Hz', async (from, to) => {
    const input = sine(1000, from, from, 10_000);
    const out = await resample({ samples: input, sampleRate: from }, to);
    expect(out.sampleRate).toBe(to);
    expect(out.samples.length).toBe(to);
    // Judge the steady state: the filter rings for a few ms at both ends.
    const body = out.samples.subarray(Math.round(to * 0.05), Math.round(to * 0.95));
    expect(Math.abs(zeroCrossingHz(body, to) - 1000)).toBeLessThan(2);
    // Amplitude within 0.2 dB (2.5 %); at 1 kHz every supported rate is well inside the passband.
    expect(toneAmplitude(body, 1000, to) / 10_000).toBeGreaterThan(0.975);
    expect(toneAmplitude(body, 1000, to) / 10_000).toBeLessThan(1.025);
  });

  it('removes a tone above the new Nyquist frequency when downsampling 48 → 8 kHz', async () => {
    const out = await resample({ samples: sine(6000, 48000, 48000, 10_000), sampleRate: 48000 }, 8000);
    const body = out.samples.subarray(400, 7600);
    // 6 kHz would alias to 2 kHz without the low-pass; demand at least 40 dB rejection.
    expect(toneAmplitude(body, 2000, 8000)).toBeLessThan(100);
  });

  it.each([[8000, 16000], [44100, 16000], [16000, 48000], [48000, 8000]])(
    'gives the same samples streamed in odd chunk sizes as in one shot (%i → %i)',
    async (from, to) => {
      const factory = await loadResampler();
      const input = sine(1000, from, Math.round(from * 1.3), 8000, 0.3);
      const oneShot = resampleWith(factory, { samples: input, sampleRate: from }, to).samples;
      const r = factory.create(from, to, { alignStart: true });
      const parts: Int16Array[] = [];
      const sizes = [1, 7, 13, 160, 333, 5000, 2, 941];
      for (let pos = 0, k = 0; pos < input.length; k++) {
        const n = Math.min(sizes[k % sizes.length], input.length - pos);
        parts.push(r.process(input.subarray(pos, pos + n)));
        pos += n;
      }
      parts.push(r.flush());
      r.close();
      const streamed = concat(parts);
      expect(streamed.length).toBe(oneShot.length);
      expect(streamed).toEqual(oneShot);
    },
  );

  it.each(SUPPORTED_RATES.flatMap((a) => SUPPORTED_RATES.filter((b) => b !== a).map((b) => [a, b] as const)))(
    'turns each 20 ms frame into one 20 ms frame in a stream (%i → %i)',
    async (from, to) => {
      const r = (await loadResampler()).create(from, to);
      const inLen = from / 50;
      const outLen = to / 50;
      const lengths = new Set<number>();
      for (let i = 0; i < 25; i++) lengths.add(r.process(sine(440, from, inLen, 5000, i)).length);
      r.close();
      expect([...lengths]).toEqual([outLen]);
    },
  );

  it('is reusable after flush() and starts the new stream from silence', async () => {
    const factory = await loadResampler();
    const r = factory.create(8000, 16000, { alignStart: true });
    const x = sine(500, 8000, 800, 9000);
    const first = concat([r.process(x), r.flush()]);
    const second = concat([r.process(x), r.flush()]);
    r.close();
    expect(second).toEqual(first);
  });

  it('matches sox resampling of real speech (correlation > 0.99)', async () => {
    const speech8k = int16FromLe(sox([ASTERISK_HELLO, '-t', 'raw', '-e', 'signed', '-b', '16', '-']));
    const cases: Array<[Int16Array, number, number]> = [
      [speech8k, 8000, 16000],
      [speech8k, 8000, 48000],
    ];
    const speech44 = int16FromLe(sox([ASTERISK_HELLO, '-t', 'raw', '-e', 'signed', '-b', '16', '-r', '44100', '-']));
    cases.push([speech44, 44100, 16000], [speech44, 44100, 8000]);
    for (const [input, from, to] of cases) {
      const ours = (await resample({ samples: input, sampleRate: from }, to)).samples;
      const theirs = int16FromLe(
        sox(['-t', 'raw', '-r', String(from), '-e', 'signed', '-b', '16', '-c', '1', '-', '-t', 'raw', '-e', 'signed', '-b', '16', '-r', String(to), '-'], int16ToLe(input)),
      );
      expect(Math.abs(ours.length - theirs.length)).toBeLessThanOrEqual(1);
      expect(correlation(ours, theirs), `${from} → ${to}`).toBeGreaterThan(0.99);
    }
  });

  it('passes audio through untouched (as a copy) when both rates are equal', async () => {
    const r = (await loadResampler()).create(16000, 16000);
    const x = sine(300, 16000, 320);
    const y = r.process(x);
    expect(y).toEqual(x);
    expect(y).not.toBe(x);
    expect(r.flush().length).toBe(0);
    r.close();
  });

  it('returns nothing for an empty chunk and an empty stream', async () => {
    const r = (await loadResampler()).create(8000, 16000, { alignStart: true });
    expect(r.process(new Int16Array(0)).length).toBe(0);
    expect(r.flush().length).toBe(0);
    r.close();
  });

  it('refuses bad rates and qualities with a message naming the value', async () => {
    const factory = await loadResampler();
    for (const bad of [0, -8000, 8000.5, Number.NaN, 10_000_000]) {
      expect(() => factory.create(bad, 16000)).toThrow(PalabreError);
      expect(() => factory.create(16000, bad)).toThrow(/output rate must be a whole number/);
    }
    expect(() => factory.create(8000, 16000, { quality: 11 })).toThrow(/quality must be a whole number from 0 to 10, got 11/);
  });

  it('fails clearly, without crashing, when used after close()', async () => {
    const factory = await loadResampler();
    for (const r of [factory.create(8000, 16000), factory.create(8000, 8000)]) {
      r.close();
      r.close();
      expect(() => r.process(new Int16Array(160))).toThrow(/used after close\(\)/);
      expect(() => r.flush()).toThrow(PalabreError);
    }
  });

  it('frees WASM memory on close: 10,000 resamplers leave the heap where it was', async () => {
    const factory = await loadResampler();
    const frame = sine(1000, 48000, 960);
    // Warm up so the scratch buffers and allocator pools reach their working size.
    for (let i = 0; i < 50; i++) {
      const r = factory.create(48000, 8000, { quality: 7 });
      r.process(frame);
      r.close();
    }
    const live = factory.live;
    const heap = factory.heapBytes();
    for (let i = 0; i < 10_000; i++) {
      const r = factory.create(48000, 8000, { quality: 7 });
      r.process(frame);
      r.flush();
      r.close();
    }
    expect(factory.live).toBe(live);
    expect(factory.heapBytes()).toBe(heap);
  });
});
