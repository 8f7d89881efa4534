/**
 * The write queue's own rules, with a write function that fails on demand:
 * retries with growing waits then success, a bounded number of retries,
 * a refused write isolated, flush() not waiting on later writes, close()
 * not retrying. (The same queue against real databases: writer.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { DEFAULT_QUEUE_OPTIONS, isTransient, type QueueOptions, WriteQueue } from './queue.js';

const connRefused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const badValue = () => Object.assign(new Error('value out of range for type integer'), { code: '22003' });

function queue(write: (batch: number[]) => Promise<void>, options: Partial<QueueOptions> = {}) {
  const dropped: Array<{ items: number[]; reason: string }> = [];
  const q = new WriteQueue<number>({ ...DEFAULT_QUEUE_OPTIONS, batchMs: 5, backoffMs: 10, maxBackoffMs: 40, ...options }, { write, dropped: (items, reason) => dropped.push({ items, reason }) }, silentLogger);
  return { q, dropped };
}

describe('write queue', () => {
  it('tells a lost database from a refused value', () => {
    expect(isTransient(connRefused())).toBe(true);
    expect(isTransient(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isTransient(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isTransient(badValue())).toBe(false);
    expect(isTransient(Object.assign(new Error('x'), { code: '23503' }))).toBe(false);
  });

  it('retries a batch with growing waits and keeps it when the database comes back', async () => {
    const attempts: number[] = [];
    let failures = 3;
    const written: number[] = [];
    const { q, dropped } = queue(async (batch) => {
      attempts.push(performance.now());
      if (failures-- > 0) throw connRefused();
      written.push(...batch);
    });
    for (let i = 0; i < 10; i++) q.push(i);
    await q.flush();
    expect(written).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(dropped).toEqual([]);
    expect(q.stats()).toMatchObject({ written: 10, dropped: 0, failedBatches: 3 });
    const waits = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    // 10, 20, 40 ms of backoff (timers fire no earlier than asked).
    expect(waits[0]).toBeGreaterThanOrEqual(9);
    expect(waits[1]).toBeGreaterThanOrEqual(19);
    expect(waits[2]).toBeGreaterThanOrEqual(39);
  });

  it('gives a batch up after the retries, and goes on with the next', async () => {
    let calls = 0;
    const { q, dropped } = queue(
      async () => {
        calls++;
        if (calls <= 3) throw connRefused();
      },
      { retries: 2, batchMax: 4 },
    );
    for (let i = 0; i < 6; i++) q.push(i);
    await q.flush();
    expect(dropped).toEqual([{ items: [0, 1, 2, 3], reason: 'failed' }]);
    expect(q.stats()).toMatchObject({ written: 2, dropped: 4, failedBatches: 3 });
  });

  it('loses only the write the database refuses', async () => {
    const written: number[] = [];
    const { q, dropped } = queue(async (batch) => {
      if (batch.includes(3)) throw badValue();
      written.push(...batch);
    });
    for (let i = 0; i < 6; i++) q.push(i);
    await q.flush();
    expect(written).toEqual([0, 1, 2, 4, 5]);
    expect(dropped).toEqual([{ items: [3], reason: 'rejected' }]);
  });

  it('flush() waits for what was pushed before it, not for what comes after', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const written: number[] = [];
    const { q } = queue(async (batch) => {
      if (batch.includes(100)) await gate;
      written.push(...batch);
    }, { batchMax: 2 });
    q.push(1);
    q.push(2);
    const flushed = q.flush();
    q.push(100);
    await flushed;
    expect(written).toEqual([1, 2]);
    release();
    await q.flush();
    expect(written).toEqual([1, 2, 100]);
  });

  it('does not retry once closing, and refuses writes after', async () => {
    let calls = 0;
    const { q, dropped } = queue(async () => {
      calls++;
      throw connRefused();
    }, { retries: 10, backoffMs: 1000 });
    q.push(1);
    await q.close();
    expect(calls).toBe(1);
    expect(q.push(2)).toBe(false);
    expect(dropped.map((d) => d.reason)).toEqual(['failed', 'closed']);
  });
});
