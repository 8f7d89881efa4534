import { describe, expect, it } from 'vitest';
import { TimedAudio } from './timed-audio.js';

const frame = (value: number, n = 320): Int16Array => new Int16Array(n).fill(value);

describe('TimedAudio', () => {
  it('keeps frames in order with their times, drops the oldest, and copies out what was asked', () => {
    const a = new TimedAudio(16_000, 60);
    for (let i = 1; i <= 20; i++) a.append(frame(i), i * 20);
    expect(a.frames).toBe(20);
    expect(a.firstStartMs).toBe(0);
    a.dropWhile((endMs) => 400 - endMs > 100);
    expect(a.frames).toBe(6);
    expect(a.firstStartMs).toBe(280);
    const seen: Array<[number, number]> = [];
    a.forEach(340, (samples, endMs) => seen.push([samples[0], endMs]));
    expect(seen).toEqual([
      [18, 360],
      [19, 380],
      [20, 400],
    ]);
    // Frames starting before 350 ms: those ending at 300 … 360.
    const upTo = a.until(350);
    expect(upTo.samples.length).toBe(4 * 320);
    expect([upTo.samples[0], upTo.samples[upTo.samples.length - 1]]).toEqual([15, 18]);
  });

  it('grows and compacts without losing or reordering samples, whatever the frame sizes', () => {
    const a = new TimedAudio(8_000, 10);
    let t = 0;
    const expected: number[] = [];
    for (let i = 0; i < 500; i++) {
      const n = 1 + ((i * 37) % 400);
      const f = new Int16Array(n).map((_, k) => (i * 7 + k) % 30000);
      t += (n * 1000) / 8000;
      a.append(f, t);
      expected.push(...f);
      if (i % 50 === 49) {
        const cut = t - 500;
        a.dropWhile((endMs) => endMs <= cut);
      }
    }
    const all = a.until(Infinity).samples;
    expect(Array.from(all)).toEqual(expected.slice(expected.length - all.length));
    expect(a.firstStartMs).toBeCloseTo(t - (all.length * 1000) / 8000, 6);
  });

  it('is empty after clear() and after every frame is dropped', () => {
    const a = new TimedAudio(16_000);
    a.append(frame(1), 20);
    a.dropWhile(() => true);
    expect(a.frames).toBe(0);
    expect(a.until(Infinity).samples.length).toBe(0);
    a.append(frame(2), 40);
    a.clear();
    expect(a.firstStartMs).toBeUndefined();
  });
});
