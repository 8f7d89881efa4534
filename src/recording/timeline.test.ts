import { describe, expect, it } from 'vitest';
import { BotPlayout } from './bot-playout.js';
import { PendingChannel } from './pending-channel.js';
import { StereoTimeline } from './timeline.js';

const RATE = 16_000;
const FRAME = 320;

/** A frame whose every sample is `level`: where it lands in a channel is easy to find. */
const frame = (level: number, n = FRAME): Int16Array => new Int16Array(n).fill(level);

/** Levels of a channel, one per 20 ms frame (the first sample of each). */
function frameLevels(channel: Int16Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < channel.length; i += FRAME) out.push(channel[i]);
  return out;
}

function drain(t: StereoTimeline, final = true): [Int16Array, Int16Array] {
  const parts: Array<[Int16Array, Int16Array]> = [];
  for (let p = t.take(false); p; p = t.take(false)) parts.push(p);
  if (final) {
    const rest = t.take(true);
    if (rest) parts.push(rest);
  }
  const join = (k: 0 | 1) => {
    const out = new Int16Array(parts.reduce((n, p) => n + p[k].length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p[k], at);
      at += p[k].length;
    }
    return out;
  };
  return [join(0), join(1)];
}

describe('PendingChannel', () => {
  it('inserts silence inside, between and after blocks, and hands samples out in order', () => {
    const c = new PendingChannel();
    c.append(Int16Array.from([1, 2, 3, 4]));
    c.appendSilence(2);
    c.append(Int16Array.from([5, 6]));
    c.insertSilence(2, 3); // inside the first block
    c.insertSilence(0, 1); // at the very start
    c.insertSilence(100, 2); // past the end: appended
    expect(c.length).toBe(4 + 2 + 2 + 3 + 1 + 2);
    expect(Array.from(c.take(7))).toEqual([0, 1, 2, 0, 0, 0, 3]);
    expect(Array.from(c.take(20))).toEqual([4, 0, 0, 5, 6, 0, 0, ...new Array(13).fill(0)]);
    expect(c.length).toBe(0);
  });
});

describe('StereoTimeline', () => {
  it('puts caller frames back to back and bot audio where it played, between the two looks at the IO', () => {
    let now = 0;
    const t = new StereoTimeline({ sampleRate: RATE, now: () => now, holdbackMs: 0 });
    for (let k = 0; k < 10; k++) {
      now += 20;
      t.addCaller(frame(100 + k));
      // The IO is asked at every caller frame; the bot starts during caller frame 4, one frame per caller frame.
      t.addBot(k >= 4 && k < 7 ? [frame(500 + k)] : []);
    }
    const [caller, bot] = drain(t);
    expect(frameLevels(caller)).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    expect(frameLevels(bot)).toEqual([0, 0, 0, 0, 504, 505, 506, 0, 0, 0]);
  });

  it('never lays bot audio over what the bot already said: a late burst follows on', () => {
    let now = 0;
    const t = new StereoTimeline({ sampleRate: RATE, now: () => now, holdbackMs: 0 });
    for (let k = 0; k < 4; k++) {
      now += 20;
      t.addCaller(frame(1));
      t.addBot(k === 3 ? [frame(7)] : []);
    }
    // Three frames reported at once after one more caller frame: they follow the first, running ahead of the caller.
    now += 20;
    t.addCaller(frame(1));
    t.addBot([frame(8), frame(9), frame(10)]);
    const [caller, bot] = drain(t);
    expect(frameLevels(bot)).toEqual([0, 0, 0, 7, 8, 9, 10]);
    // The caller channel is padded to the end of the bot's audio.
    expect(caller.length).toBe(bot.length);
    expect(frameLevels(caller)).toEqual([1, 1, 1, 1, 1, 0, 0]);
  });

  it('places audio reported between caller frames at the time of the look (an IO that counts audio as it plays)', () => {
    let now = 0;
    const t = new StereoTimeline({ sampleRate: RATE, now: () => now, holdbackMs: 0 });
    for (let k = 0; k < 5; k++) {
      now += 20;
      t.addCaller(frame(1));
      t.addBot([]);
    }
    // 10 ms after the fifth caller frame, 5 ms of bot audio have played: it started 5 ms after that frame.
    now += 10;
    t.addBot([new Int16Array(80).fill(9)]);
    const [, bot] = drain(t);
    expect(bot.indexOf(9)).toBe(5 * FRAME + 80);
    expect(bot.lastIndexOf(9)).toBe(5 * FRAME + 159);
  });

  it('fills a gap in the caller frames (the transport skipped time) with silence where it happened', () => {
    let now = 0;
    const t = new StereoTimeline({ sampleRate: RATE, now: () => now });
    for (let k = 0; k < 50; k++) {
      now += 20;
      t.addCaller(frame(1));
    }
    now += 1000; // a second with no frames at all
    for (let k = 0; k < 50; k++) {
      now += 20;
      t.addCaller(frame(2));
    }
    const [caller] = drain(t);
    expect(t.stats.gaps).toBe(1);
    expect(t.stats.gapMs).toBeCloseTo(1000, -1);
    const levels = frameLevels(caller);
    expect(levels.slice(0, 50).every((l) => l === 1)).toBe(true);
    expect(levels.slice(50, 100).every((l) => l === 0)).toBe(true);
    expect(levels.slice(100, 150).every((l) => l === 2)).toBe(true);
    expect(levels).toHaveLength(150);
  });

  it('adds nothing when frames were only held up and then arrive in a burst (an event-loop stall)', () => {
    let now = 0;
    const t = new StereoTimeline({ sampleRate: RATE, now: () => now });
    for (let k = 0; k < 50; k++) {
      now += 20;
      t.addCaller(frame(1));
    }
    // 900 ms of frames delayed, then delivered all at once, then real time again.
    now += 900;
    for (let k = 0; k < 45; k++) t.addCaller(frame(2));
    for (let k = 0; k < 50; k++) {
      now += 20;
      t.addCaller(frame(3));
    }
    const [caller] = drain(t);
    expect(t.stats.gaps).toBe(0);
    expect(caller.length).toBe(145 * FRAME);
  });

  it('holds back the last second for late news and hands out everything at the end', () => {
    let now = 0;
    const t = new StereoTimeline({ sampleRate: RATE, now: () => now, holdbackMs: 1000 });
    for (let k = 0; k < 100; k++) {
      now += 20;
      t.addCaller(frame(1));
    }
    const ready = t.take();
    expect(ready?.[0].length).toBe(50 * FRAME);
    expect(t.take()).toBeUndefined();
    expect(t.take(true)?.[0].length).toBe(50 * FRAME);
  });
});

describe('BotPlayout', () => {
  it('hands out what the IO says has played, in order, and forgets what a clear dropped', () => {
    const p = new BotPlayout(RATE, 0);
    for (let k = 0; k < 5; k++) p.write(frame(10 + k));
    expect(p.played(0).audio).toHaveLength(0);
    const first = p.played(30);
    expect(first.audio.map((a) => a.length)).toEqual([320, 160]);
    expect(first.audio.map((a) => a[0])).toEqual([10, 11]);
    p.dropUnplayed(30);
    expect(p.queuedSamples).toBe(0);
    p.write(frame(20));
    const next = p.played(60);
    expect(next.audio.map((a) => a[0])).toEqual([20]);
    expect(next.silentAfter).toBe(160);
  });
});
