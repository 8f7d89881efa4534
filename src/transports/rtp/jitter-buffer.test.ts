import { describe, expect, it } from 'vitest';
import { emptyJitterStats, JitterBuffer, type JitterPacket } from './jitter-buffer.js';

const N = 320;

/** Packet `seq` of a 20 ms/16 kHz stream whose samples all hold `seq` (mod 2^15), so order is visible. */
function pkt(seq: number, options: { ssrc?: number; tsOffset?: number; ts?: number } = {}): JitterPacket {
  const sequence = seq & 0xffff;
  return { sequence, timestamp: (options.ts ?? 1000 + seq * N + (options.tsOffset ?? 0)) >>> 0, ssrc: options.ssrc ?? 42, samples: new Int16Array(N).fill(seq % 0x7fff || 1) };
}

/** What came out, as the packet markers in order, with 0 for each 20 ms of inserted silence. */
function played(runs: Int16Array[]): number[] {
  const out: number[] = [];
  for (const r of runs) {
    if (r[0] === 0) for (let i = 0; i < r.length / N; i++) out.push(0);
    else out.push(r[0]);
  }
  return out;
}

function feed(jb: JitterBuffer, seqs: Array<number | JitterPacket>): number[] {
  return seqs.flatMap((s) => played(jb.push(typeof s === 'number' ? pkt(s) : s)));
}

const buffer = (depth = 3, totals = emptyJitterStats()) => new JitterBuffer({ depth, maxConcealSamples: 10 * N, totals });

describe('JitterBuffer', () => {
  it('passes an in-order stream straight through', () => {
    const jb = buffer();
    expect(feed(jb, [1, 2, 3, 4])).toEqual([1, 2, 3, 4]);
    expect(jb.pending).toBe(0);
    expect(jb.stats).toMatchObject({ received: 4, emitted: 4, lost: 0, reordered: 0, duplicates: 0 });
  });

  it('puts swapped packets back in order', () => {
    const jb = buffer();
    expect(feed(jb, [1, 3, 2, 4, 6, 5])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(jb.stats).toMatchObject({ reordered: 2, lost: 0, concealedSamples: 0 });
  });

  it('declares a packet lost after `depth` later ones and fills its time with silence', () => {
    const totals = emptyJitterStats();
    const jb = buffer(3, totals);
    expect(feed(jb, [1, 2, 4, 5])).toEqual([1, 2]);
    expect(feed(jb, [6])).toEqual([]);
    expect(feed(jb, [7])).toEqual([0, 4, 5, 6, 7]);
    expect(jb.stats).toMatchObject({ lost: 1, concealedSamples: N, emitted: 6 });
    expect(totals).toMatchObject({ lost: 1, concealedSamples: N });
    // The lost packet turning up afterwards is late, not a duplicate.
    expect(feed(jb, [3, 8])).toEqual([8]);
    expect(jb.stats).toMatchObject({ late: 1, duplicates: 0 });
  });

  it('drops duplicates, held or already played', () => {
    const jb = buffer();
    expect(feed(jb, [1, 2, 2, 4, 4, 3, 1])).toEqual([1, 2, 3, 4]);
    expect(jb.stats).toMatchObject({ duplicates: 3, late: 0 });
  });

  it('follows the sequence number across its 16-bit wrap, reordered on the wrap', () => {
    const jb = buffer();
    const seqs = [65533, 65534, 65536, 65535, 65537, 65538];
    const out = feed(jb, seqs);
    expect(out).toEqual([65533, 65534, 65535, 65536, 65537, 65538].map((s) => s % 0x7fff || 1));
    expect(jb.stats).toMatchObject({ lost: 0, duplicates: 0, jumps: 0, resets: 0 });
  });

  it('fills a timestamp gap (silence suppression) and plays on after one too long to fill', () => {
    const jb = buffer();
    expect(feed(jb, [1, pkt(2, { tsOffset: 2 * N })])).toEqual([1, 0, 0, 2]);
    expect(jb.stats.concealedSamples).toBe(2 * N);
    expect(feed(jb, [pkt(3, { tsOffset: 100 * N })])).toEqual([3]);
    expect(jb.stats.timestampJumps).toBe(1);
    // The timestamp wraps at 2^32 without a gap.
    const wrap = buffer();
    expect(feed(wrap, [pkt(1, { ts: 2 ** 32 - N }), pkt(2, { ts: 0 }), pkt(3, { ts: N })])).toEqual([1, 2, 3]);
    expect(wrap.stats.concealedSamples).toBe(0);
  });

  it('restarts on a new SSRC, and on a far sequence jump only once the next packet confirms it', () => {
    const jb = buffer();
    expect(feed(jb, [1, 2, pkt(500, { ssrc: 7 }), pkt(501, { ssrc: 7 })])).toEqual([1, 2, 500, 501]);
    expect(jb.stats.resets).toBe(1);
    // One stray packet far away is dropped…
    expect(feed(jb, [pkt(20_000, { ssrc: 7 }), pkt(502, { ssrc: 7 })])).toEqual([502]);
    expect(jb.stats.jumps).toBe(1);
    // …two in a row are a restart.
    expect(feed(jb, [pkt(30_000, { ssrc: 7 }), pkt(30_001, { ssrc: 7 }), pkt(30_002, { ssrc: 7 })])).toEqual([30_000 % 0x7fff, 30_001 % 0x7fff, 30_002 % 0x7fff]);
    expect(jb.stats).toMatchObject({ jumps: 2, resets: 2 });
  });

  it('hands out what it holds at the end of the stream', () => {
    const jb = buffer();
    expect(feed(jb, [1, 3, 4])).toEqual([1]);
    expect(played(jb.flush())).toEqual([0, 3, 4]);
    expect(jb.stats.lost).toBe(1);
  });
});
