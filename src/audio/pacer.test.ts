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
        // The lead grows 2 ms a frame (frame n leaves 2n ms early) until it is 40 ms; from then on frame n leaves at exactly n·20 − 40 ms.
        const expected = n * 20 - Math.min(40, 2 * n);
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

  it.each([0, 40, 100])('never sends a frame more than leadMs = %i ahead of its time, and builds the lead without a burst', (leadMs) => {
    const { clock, sent, pacer } = setup({ leadMs });
    for (let i = 0; i < 50; i++) pacer.push(frame());
    for (let t = 0; t < 1200; t += 7) {
      clock.advance(7);
      sent.forEach((s, n) => expect(s.t).toBeGreaterThanOrEqual(n * 20 - leadMs));
    }
    expect(sent).toHaveLength(50);
    // The lead is built over 20 frames by default: leadMs / 20 more of it each frame.
    const step = leadMs / 20;
    sent.forEach((s, n) => expect(s.t).toBeCloseTo(n * 20 - Math.min(leadMs, step * n), 9));
    // However much audio is queued, frames leave one at a time, never closer than 20 ms less a step.
    expect(sent.filter((s) => s.t === 0)).toHaveLength(1);
    for (let n = 1; n < sent.length; n++) expect(sent[n].t - sent[n - 1].t).toBeGreaterThanOrEqual(20 - step - 1e-9);
  });

  it('keeps the wire at one frame per 20 ms across utterances, clears and silences, once the lead is built', () => {
    for (const leadStepMs of [1, 2, 5]) {
      const { clock, sent, pacer } = setup({ fillSilence: true, leadStepMs });
      const utterance = (frames: number) => {
        for (let i = 0; i < frames; i++) pacer.push(frame(9));
      };
      clock.advance(113);
      utterance(40);
      clock.advance(517);
      utterance(3);
      clock.advance(331);
      pacer.clear(); // barge-in
      clock.advance(47);
      utterance(60);
      clock.advance(3000);
      expect(sent.filter((s) => s.frame.samples[0] === 9).length).toBeGreaterThan(60);
      // Silence builds the lead from the start, one step a slot; speech then just takes the next slot.
      const ramp = 40 / leadStepMs;
      sent.forEach((s, n) => expect(s.t).toBeCloseTo(n * 20 - Math.min(40, n * leadStepMs), 9));
      const gaps = sent.slice(1).map((s, i) => s.t - sent[i].t);
      expect(Math.min(...gaps)).toBeCloseTo(20 - leadStepMs, 9);
      expect(Math.min(...gaps.slice(ramp))).toBeCloseTo(20, 9);
      expect(Math.max(...gaps)).toBeCloseTo(20, 9);
      pacer.stop();
    }
  });

  it('rides out a hiccup shorter than the lead: no late frame, the lead kept, caught up without a burst', () => {
    const { clock, sent, pacer } = setup();
    for (let i = 0; i < 100; i++) pacer.push(frame());
    clock.advance(600); // the lead (40 ms) is built by now
    const before = sent.length;
    clock.stall(30);
    clock.advance(0.001);
    expect(sent.length - before).toBe(1);
    clock.advance(400);
    expect(pacer.stats.lateFrames).toBe(0);
    // Frame 33 (due at 660) was to leave at 620 and left at 630, still 30 ms early; frame 34 keeps its time
    // (640: half a frame after, not at once), and from then on frame n leaves at n·20 − 40 again.
    expect(sent[before].t).toBeCloseTo(630, 2);
    expect(sent[before + 1].t).toBeCloseTo(640, 2);
    for (let n = before + 2; n < sent.length; n++) expect(sent[n].t).toBeCloseTo(n * 20 - 40, 6);
    sent.forEach((s, n) => expect(s.t).toBeGreaterThanOrEqual(n * 20 - 40));
  });

  it('catches up after a longer hiccup no faster than one frame per half frame', () => {
    const { clock, sent, pacer } = setup({ leadMs: 100 });
    for (let i = 0; i < 200; i++) pacer.push(frame());
    clock.advance(2000); // the lead (100 ms) is built by now
    const before = sent.length;
    clock.stall(70);
    clock.advance(300);
    expect(pacer.stats.lateFrames).toBe(0);
    const gaps = sent.slice(before).map((s, i) => s.t - sent[before + i - 1].t);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(10 - 1e-6);
    expect(gaps.filter((g) => Math.abs(g - 10) < 1e-6).length).toBeGreaterThanOrEqual(3);
    // Back on the 100 ms lead once caught up.
    expect(sent[sent.length - 1].t).toBeCloseTo((sent.length - 1) * 20 - 100, 6);
  });

  it('re-anchors after an event-loop stall instead of bursting the backlog', () => {
    const { clock, sent, pacer } = setup();
    for (let i = 0; i < 100; i++) pacer.push(frame());
    clock.advance(200);
    // Frame n leaves 2n ms early: frames 0-11 have gone by 200 ms (frame 11 at 198), frame 12 is due at 240.
    const before = sent.length;
    expect(before).toBe(12);
    clock.stall(500);
    clock.advance(0.001);
    const burst = sent.length - before;
    // Only the late frame: never the 25 frames the stall "owes", nor the lead's frames at once.
    expect(burst).toBe(1);
    expect(pacer.stats.lateFrames).toBe(1);
    expect(pacer.stats.maxLatenessMs).toBeCloseTo(700 - 240, 0);
    const resume = sent.length;
    clock.advance(200);
    const times = sent.slice(resume - 1).map((s) => s.t);
    // The schedule restarts from the late frame, and the lead is rebuilt 2 ms a frame: gaps of 18 ms.
    expect(times).toHaveLength(12);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeCloseTo(18, 2);
    expect(pacer.stats.lateFrames).toBe(1);
  });

  it('stops output at once on clear() and reports what it dropped', async () => {
    const { clock, sent, pacer } = setup();
    for (let i = 0; i < 100; i++) pacer.push(frame());
    clock.advance(100);
    const sentBefore = sent.length;
    // Frame n leaves 2n ms early: frame 8 is due at 160 and leaves at 144.
    expect(sentBefore).toBe(6);
    const done = pacer.drained();
    expect(pacer.clear()).toBe((100 - sentBefore) * 20);
    await done;
    clock.advance(1000);
    expect(sent).toHaveLength(sentBefore);
    expect(pacer.stats).toMatchObject({ queuedMs: 0, droppedMs: (100 - sentBefore) * 20 });
    // New audio after a barge-in goes out straight away, still paced.
    pacer.push(frame(7));
    pacer.push(frame(7));
    expect(sent).toHaveLength(sentBefore + 1);
    clock.advance(18);
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

  it('fills idle slots with silence, keeping the lead, and puts audio in the next slot', () => {
    const drains: number[] = [];
    const { clock, sent, pacer } = setup({ fillSilence: true, onDrain: () => drains.push(clock.now) });
    const slotTime = (n: number) => n * 20 - Math.min(40, 2 * n);
    clock.advance(990);
    expect(sent).toHaveLength(52);
    expect(sent.every((s, n) => s.t === slotTime(n) && s.frame.samples.every((x) => x === 0))).toBe(true);
    clock.advance(15);
    for (let i = 0; i < 10; i++) pacer.push(frame(5));
    clock.advance(1000);
    const audio = sent.filter((s) => s.frame.samples[0] === 5);
    expect(audio).toHaveLength(10);
    // Slot 52 left at 1000; slot 53 (due at 1060) leaves at 1020 with the lead, and carries the audio.
    expect(audio[0].t).toBe(1020);
    expect(sent.indexOf(audio[0])).toBe(53);
    // No slot is lost or doubled, audio or silence: slot n always leaves at n·20 − 40 ms once the lead is built.
    expect(sent).toHaveLength(103);
    sent.forEach((s, n) => expect(s.t).toBe(slotTime(n)));
    // Once, when the last audio frame (slot 62, due at 1240 ms) has played out, not once per push.
    expect(drains).toEqual([1260]);
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
    // One frame left at once (the lead is built a step at a time); ten more fit in the queue.
    expect(pushed).toBe(11);
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
