import { describe, expect, it } from 'vitest';
import type { Frame } from '../audio/frame.js';
import { InboundFrames } from './inbound-frames.js';

const frame = (n: number): Frame => ({ samples: new Int16Array(320).fill(n), sampleRate: 16000 });

describe('InboundFrames', () => {
  it('hands frames to one reader in order, waits for more, and ends', async () => {
    const q = new InboundFrames(1000);
    const seen: number[] = [];
    const reading = (async () => {
      for await (const f of q.read('test')) seen.push(f.samples[0]);
    })();
    q.push(frame(1));
    await new Promise((r) => setImmediate(r));
    q.push(frame(2));
    q.end();
    q.push(frame(3)); // after the end: ignored
    await reading;
    expect(seen).toEqual([1, 2]);
    expect(q.ended).toBe(true);
    await expect(q.read('test').next()).rejects.toThrow(/read only once/);
  });

  it('drops the oldest frames beyond its bound, counts them and warns once', async () => {
    let warnings = 0;
    const q = new InboundFrames(100, () => warnings++); // 5 frames of 20 ms
    for (let i = 1; i <= 8; i++) q.push(frame(i));
    q.end();
    const seen: number[] = [];
    for await (const f of q.read('test')) seen.push(f.samples[0]);
    expect(seen).toEqual([4, 5, 6, 7, 8]);
    expect(q.dropped).toBe(3);
    expect(warnings).toBe(1);
  });
});
