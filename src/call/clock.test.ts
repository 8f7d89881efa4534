import { describe, expect, it } from 'vitest';
import { createFastClock, realClock, sleep } from './clock.js';

describe('FastClock', () => {
  it('runs a minute of 20 ms timers in well under a second, on time', async () => {
    const clock = createFastClock();
    const start = clock.now();
    const fired: number[] = [];
    const realStart = performance.now();
    for (let i = 1; i <= 3000; i++) {
      await sleep(clock, 20);
      fired.push(clock.now() - start);
    }
    const realMs = performance.now() - realStart;
    expect(fired[fired.length - 1]).toBeGreaterThanOrEqual(60_000);
    expect(fired[fired.length - 1]).toBeLessThan(60_000 + 200);
    // Each timer fires at its own due time, not in a burst.
    for (let i = 1; i < fired.length; i++) expect(fired[i] - fired[i - 1]).toBeGreaterThanOrEqual(19.99);
    expect(realMs).toBeLessThan(1000);
    expect(clock.pending).toBe(0);
  });

  it('does not skip ahead while tracked work is pending: the work takes its real time', async () => {
    const clock = createFastClock();
    const start = clock.now();
    let firedAt = -1;
    clock.setTimeout(() => (firedAt = clock.now() - start), 1000);
    const work = new Promise<number>((resolve) => setTimeout(() => resolve(clock.now() - start), 60));
    const doneAt = await clock.track(work);
    // Without tracking, the clock would have jumped to the 1000 ms timer during the 60 ms of work.
    expect(doneAt).toBeGreaterThanOrEqual(55);
    expect(doneAt).toBeLessThan(500);
    expect(firedAt).toBe(-1);
    await sleep(clock, 1000);
    expect(firedAt).toBeGreaterThanOrEqual(1000);
  });

  it('skips idle time when nothing is tracked', async () => {
    const clock = createFastClock();
    const realStart = performance.now();
    await sleep(clock, 30_000);
    expect(clock.now()).toBeGreaterThanOrEqual(30_000);
    expect(performance.now() - realStart).toBeLessThan(200);
    expect(clock.skippedMs).toBeGreaterThan(29_000);
  });

  it('fires timers due at the same time in the order they were set, and honours clearTimeout', async () => {
    const clock = createFastClock();
    const order: string[] = [];
    clock.setTimeout(() => order.push('a'), 100);
    const b = clock.setTimeout(() => order.push('b'), 100);
    clock.setTimeout(() => order.push('c'), 100);
    clock.setTimeout(() => order.push('early'), 50);
    clock.clearTimeout(b);
    await sleep(clock, 200);
    expect(order).toEqual(['early', 'a', 'c']);
    expect(clock.pending).toBe(0);
  });

  it('sleep rejects with aborted when its signal fires, leaving no timer', async () => {
    const clock = createFastClock();
    const ac = new AbortController();
    const p = sleep(clock, 10_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
    expect(clock.pending).toBe(0);
  });
});

describe('realClock', () => {
  it('waits in real time', async () => {
    const t = realClock.now();
    await sleep(realClock, 30);
    expect(realClock.now() - t).toBeGreaterThanOrEqual(25);
  });
});
