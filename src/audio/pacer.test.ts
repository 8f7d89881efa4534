import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import type { Frame } from './frame.js';
import { Pacer, type PacerOptions } from './pacer.js';

/** A virtual clock whose timers fire exactly when due, in order. */
class FakeClock {
  now = 0;
  private timers: Array<{ id: number; due: number; fn: () => void }> = [];
  private nextId = 1;
  readonly options = {
    now: () => this.now,
    setTimer: (fn: () => void, ms: number) => {
      const id = this.nextId++;
      this.timers.push({ id, due: this.now + ms, fn });
      return id;
    },
    clearTimer: (id: unknown) => {
      this.timers = this.timers.filter((t) => t.id !== id);
    },
  };
  get pending(): number {
    return this.timers.length;
  }
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let first: { id: number; due: number; fn: () => void } | undefined;
      for (const t of this.timers) if (t.due <= end && (!first || t.due < first.due)) first = t;
      if (!first) break;
      this.timers = this.timers.filter((t) => t !== first);
      this.now = Math.max(this.now, first.due);
      first.fn();
    }
    this.now = end;
  }
  /** The event loop froze: time passes but no timer runs. */
  stall(ms: number): void {
    this.now += ms;
  }
}

const RATE = 8000;
const frame = (value = 1): Frame => ({ samples: new Int16Array(160).fill(value), sampleRate: RATE });

function setup(extra: Partial<PacerOptions> = {}) {
  const clock = new FakeClock();
  const sent: Array<{ t: number; frame: Frame }> = [];
  const pacer = new Pacer({ sampleRate: RATE, send: (f) => sent.push({ t: clock.now, frame: f }), ...clock.options, ...extra });
  return { clock, sent, pacer };
}

describe('Pacer', () => {
  it('sends exactly one frame per 20 ms over a simulated hour with zero drift', () => {
    const clock = new FakeClock();
    const f = frame();
    let count = 0;
    let worst = 0;
    let earliest = 0;
    const pacer: Pacer = new Pacer({
      sampleRate: RATE,
      ...clock.options,
      send: () => {
        const n = count++;
        // Frames 0-2 leave at once (the lead); from then on frame n leaves at exactly n·20 − 40 ms.
        const expected = Math.max(0, n * 20 - 40);
        worst = Math.max(worst, Math.abs(clock.now - expected));
        earliest = Math.min(earliest, clock.now - n * 20);
        if (pacer.queuedMs < 200 && count < 180_000 - 20) for (let i = 0; i < 20; i++) pacer.push(f);
      },
    });
    for (let i = 0; i < 20; i++) pacer.push(f);
    clock.advance(3_600_000);
    expect(count).toBe(180_000);
    expect(worst).toBe(0);
    expect(earliest).toBe(-40);
    expect(pacer.stats).toMatchObject({ framesSent: 180_000, lateFrames: 0, maxLatenessMs: 0, queuedMs: 0 });
    expect(clock.pending).toBe(0);
  });

  it.each([0, 40, 100])('never sends a frame more than leadMs = %i ahead of its time', (leadMs) => {
    const { clock, sent, pacer } = setup({ leadMs });
    for (let i = 0; i < 50; i++) pacer.push(frame());
    for (let t = 0; t < 1200; t += 7) {
      clock.advance(7);
      sent.forEach((s, n) => expect(s.t).toBeGreaterThanOrEqual(n * 20 - leadMs));
    }
    expect(sent).toHaveLength(50);
    expect(sent[49].t).toBe(Math.max(0, 49 * 20 - leadMs));
    expect(sent.filter((s) => s.t === 0)).toHaveLength(Math.floor(leadMs / 20) + 1);
  });

  it('re-anchors after an event-loop stall instead of bursting the backlog', () => {
    const { clock, sent, pacer } = setup();
    for (let i = 0; i < 100; i++) pacer.push(frame());
    clock.advance(200);
    const before = sent.length;
    clock.stall(500);
    clock.advance(0.001);
    const burst = sent.length - before;
    // Only the late frame plus what the 40 ms lead allows: never the 25 frames the stall "owes".
    expect(burst).toBeLessThanOrEqual(3);
    expect(pacer.stats.lateFrames).toBe(1);
    expect(pacer.stats.maxLatenessMs).toBeCloseTo(700 - 260, 0);
    const resume = sent.length;
    clock.advance(200);
    const times = sent.slice(resume).map((s) => s.t);
    expect(times).toHaveLength(10);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeCloseTo(20, 6);
  });

  it('stops output at once on clear() and reports what it dropped', async () => {
    const { clock, sent, pacer } = setup();
    for (let i = 0; i < 100; i++) pacer.push(frame());
    clock.advance(100);
    const sentBefore = sent.length;
    expect(sentBefore).toBe(8);
    const done = pacer.drained();
    expect(pacer.clear()).toBe((100 - sentBefore) * 20);
    await done;
    clock.advance(1000);
    expect(sent).toHaveLength(sentBefore);
    expect(pacer.stats).toMatchObject({ queuedMs: 0, droppedMs: 92 * 20 });
    // New audio after a barge-in goes out straight away, still paced.
    pacer.push(frame(7));
    pacer.push(frame(7));
    expect(sent).toHaveLength(sentBefore + 2);
  });

  it('resolves drained() when the last frame has had its time to play', async () => {
    const { clock, pacer } = setup();
    for (let i = 0; i < 5; i++) pacer.push(frame());
    let done = false;
    void pacer.drained().then(() => (done = true));
    clock.advance(99);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await Promise.resolve();
    expect(done).toBe(true);
  });

  it('fills idle slots with silence on time and puts audio in the next slot', () => {
    const drains: number[] = [];
    const { clock, sent, pacer } = setup({ fillSilence: true, onDrain: () => drains.push(clock.now) });
    clock.advance(990);
    expect(sent).toHaveLength(50);
    expect(sent.every((s, n) => s.t === n * 20 && s.frame.samples.every((x) => x === 0))).toBe(true);
    clock.advance(15);
    for (let i = 0; i < 10; i++) pacer.push(frame(5));
    clock.advance(1000);
    const audio = sent.filter((s) => s.frame.samples[0] === 5);
    expect(audio).toHaveLength(10);
    expect(audio[0].t).toBe(1005);
    // No slot is lost or doubled: 100 slots in 2 s, plus the lead the audio took.
    expect(sent.length).toBeGreaterThanOrEqual(100);
    expect(sent.length).toBeLessThanOrEqual(102);
    // Once, when the last audio frame (slot due at 1200 ms) has played out, not once per push.
    expect(drains).toEqual([1220]);
    expect(pacer.stats.idleFramesSent + pacer.stats.framesSent).toBe(sent.length);
    pacer.stop();
    expect(clock.pending).toBe(0);
  });

  it('asks onIdle for the idle frame', () => {
    const comfort = frame(3);
    const { clock, sent } = setup({ onIdle: () => comfort });
    clock.advance(100);
    expect(sent.map((s) => s.frame)).toEqual(new Array(6).fill(comfort));
  });

  it('bounds the queue and refuses frames of the wrong size or rate', () => {
    const { pacer } = setup({ maxQueueMs: 200 });
    let pushed = 0;
    expect(() => {
      for (;;) {
        pacer.push(frame());
        pushed++;
      }
    }).toThrow(/queue is full: it already holds 200 ms \(maxQueueMs 200\)/);
    // Three frames left at once within the lead; ten more fit in the queue.
    expect(pushed).toBe(13);
    expect(() => pacer.push({ samples: new Int16Array(320), sampleRate: RATE })).toThrow(PalabreError);
    expect(() => pacer.push({ samples: new Int16Array(160), sampleRate: 16000 })).toThrow(/expects 20 ms frames of 160 samples at 8000 Hz/);
  });

  it('refuses use after stop() and stops on a failing send', () => {
    const { pacer, clock } = setup();
    pacer.push(frame());
    pacer.stop();
    expect(() => pacer.push(frame())).toThrow(/after stop\(\)/);
    expect(clock.pending).toBe(0);
    const errors: unknown[] = [];
    const broken = new Pacer({ sampleRate: RATE, ...clock.options, send: () => { throw new Error('socket closed'); }, onError: (e) => errors.push(e) });
    broken.push(frame());
    expect(errors).toHaveLength(1);
    expect(() => broken.push(frame())).toThrow(/after stop\(\)/);
  });

  it('keeps real time on the real clock (1 s, loosely)', async () => {
    const times: number[] = [];
    const pacer = new Pacer({ sampleRate: RATE, send: () => times.push(performance.now()) });
    const start = performance.now();
    for (let i = 0; i < 50; i++) pacer.push(frame());
    await pacer.drained();
    const total = performance.now() - start;
    pacer.stop();
    expect(times).toHaveLength(50);
    // The last frame is due at 980 ms and may leave 40 ms early; playout ends at 1000 ms.
    // Upper bounds are loose: a loaded machine delays timers, and the pacer then re-anchors later.
    expect(times[49] - start).toBeGreaterThan(935);
    expect(times[49] - start).toBeLessThan(1250);
    expect(total).toBeGreaterThanOrEqual(999);
    expect(total).toBeLessThan(1300);
    const gaps = times.slice(4).map((t, i) => t - times[i + 3]);
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeGreaterThan(18);
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeLessThan(25);
    for (let n = 0; n < 50; n++) expect(times[n] - start).toBeGreaterThanOrEqual(n * 20 - 40 - 1);
  });
});
