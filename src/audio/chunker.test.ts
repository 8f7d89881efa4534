import { describe, expect, it } from 'vitest';
import { Chunker } from './chunker.js';

const ramp = (n: number, from = 0) => Int16Array.from({ length: n }, (_, i) => (from + i) % 30000);

describe('Chunker', () => {
  it('re-frames arbitrary chunk sizes into exact frames, in order, losing nothing', () => {
    const c = new Chunker(16000);
    expect(c.frameSize).toBe(320);
    const input = ramp(10_007);
    const frames = [];
    for (let pos = 0, k = 0; pos < input.length; k++) {
      const n = [1, 319, 320, 321, 7, 1000, 0, 641][k % 8];
      frames.push(...c.push(input.subarray(pos, pos + n)));
      pos += n;
    }
    expect(frames.every((f) => f.samples.length === 320 && f.sampleRate === 16000)).toBe(true);
    expect(frames).toHaveLength(31);
    expect(c.pending).toBe(10_007 - 31 * 320);
    const last = c.flush();
    expect(last?.samples.length).toBe(87);
    const joined = Int16Array.from(frames.flatMap((f) => [...f.samples]).concat([...(last?.samples ?? [])]));
    expect(joined).toEqual(input);
    expect(c.flush()).toBeNull();
  });

  it('pads the last frame with silence on request', () => {
    const c = new Chunker(8000, 20);
    c.push(ramp(100, 1));
    const f = c.flush(true);
    expect(f?.samples.length).toBe(160);
    expect(f?.samples.subarray(0, 100)).toEqual(ramp(100, 1));
    expect(f?.samples.subarray(100).every((s) => s === 0)).toBe(true);
  });

  it('hands out frames the caller may keep: later pushes never rewrite them', () => {
    const c = new Chunker(8000, 10);
    const buf = ramp(100);
    const first = c.push(buf);
    buf.fill(-1);
    const second = c.push(ramp(60, 500));
    expect(first[0].samples).toEqual(ramp(80));
    expect(second[0].samples.subarray(0, 20)).toEqual(ramp(20, 80));
  });

  it('checks the rate of chunks and can drop what is pending', () => {
    const c = new Chunker(8000);
    expect(() => c.pushChunk({ samples: new Int16Array(10), sampleRate: 16000 })).toThrow(/Chunker expects 8000 Hz audio but got 16000 Hz/);
    c.push(new Int16Array(50));
    c.reset();
    expect(c.pending).toBe(0);
    expect(c.flush()).toBeNull();
  });
});
