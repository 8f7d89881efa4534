import { describe, expect, it } from 'vitest';
import { FRAME_MS, PIPELINE_RATE, type AudioChunk, type Frame } from '../audio/frame.js';
import { createFastClock, sleep } from './clock.js';
import { createMemoryIO, type MemoryIO } from './memory-io.js';

function tone(ms: number, amplitude = 8000): AudioChunk {
  const n = (PIPELINE_RATE * ms) / 1000;
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / PIPELINE_RATE));
  return { samples, sampleRate: PIPELINE_RATE };
}

function frameOf(value: number): Frame {
  return { samples: new Int16Array(320).fill(value), sampleRate: PIPELINE_RATE };
}

/** Reads frames until the IO ends, noting when each arrived and whether it held sound. */
async function readAll(io: MemoryIO): Promise<Array<{ atMs: number; loud: boolean }>> {
  const got: Array<{ atMs: number; loud: boolean }> = [];
  for await (const f of io.frames()) got.push({ atMs: io.nowMs(), loud: f.samples.some((s) => s !== 0) });
  return got;
}

describe('MemoryIO caller side', () => {
  it('delivers a script in 20 ms frames on the clock: speech, silence, keypad digits, hangup', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    const events: string[] = [];
    io.on('dtmf', (d) => events.push(`dtmf ${d} @${Math.round(io.nowMs())}`));
    io.on('hangup', (r) => events.push(`hangup ${r} @${Math.round(io.nowMs())}`));
    void io.say(tone(1000), { label: 'hello' });
    void io.silence(500);
    void io.dtmf('12', { gapMs: 200 });
    void io.hangup();
    const frames = await readAll(io);

    expect(frames.filter((f) => f.loud)).toHaveLength(50);
    // Frame k covers [20k, 20k + 20) and is delivered at its end.
    const t0 = io.framesStartMs ?? NaN;
    // Each frame arrives at its due time, late only by the event loop's own delay (real time runs while code runs).
    frames.forEach((f, k) => {
      expect(f.atMs - t0).toBeGreaterThanOrEqual((k + 1) * FRAME_MS - 0.01);
      expect(f.atMs - t0).toBeLessThan((k + 1) * FRAME_MS + 30);
    });
    expect(frames.length).toBe(50 + 25 + 20);
    expect(events.map((e) => e.replace(/ @\d+$/, ''))).toEqual(['dtmf 1', 'dtmf 2', 'hangup caller_hangup']);
    const times = events.map((e) => Number(/@(\d+)$/.exec(e)?.[1]) - t0);
    [1500, 1700, 1900].forEach((due, i) => {
      expect(times[i]).toBeGreaterThanOrEqual(due - 1);
      expect(times[i]).toBeLessThan(due + 30);
    });
    const audio = io.callerLog.find((e) => e.kind === 'audio');
    expect(audio).toMatchObject({ kind: 'audio', label: 'hello', audioMs: 1000 });
    expect(io.closedWith?.reason).toBe('caller_hangup');
  });

  it('plays audio faster than real time when asked', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock, afterScript: 'hangup' });
    void io.say(tone(1000), { speed: 4 });
    const frames = await readAll(io);
    expect(frames).toHaveLength(50);
    expect(frames[49].atMs - (io.framesStartMs ?? NaN)).toBeGreaterThanOrEqual(250 - 0.01);
    expect(frames[49].atMs - (io.framesStartMs ?? NaN)).toBeLessThan(280);
  });

  it('carries silence once the script runs out, until the call is closed', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    const reading = readAll(io);
    await sleep(clock, 1000);
    await io.close('bot_hangup');
    const frames = await reading;
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.length).toBeLessThanOrEqual(51);
    expect(frames.every((f) => !f.loud)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('throws from frames() when the transport fails', async () => {
    const io = createMemoryIO({ clock: createFastClock() });
    void io.silence(100);
    void io.fail(new Error('socket reset'));
    await expect(readAll(io)).rejects.toThrow('socket reset');
  });

  it('waits for the bot to speak and to fall silent before going on', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    void io.waitForBot('speaking');
    const spoke = io.say(tone(100));
    void io.waitForBot('silent', { quietMs: 300 });
    const after = io.say(tone(100));
    void io.hangup();
    const reading = readAll(io);
    await sleep(clock, 500);
    for (let i = 0; i < 50; i++) io.write(frameOf(1000)); // 1 s of bot audio from 500 ms
    await spoke;
    const spokeAt = io.callerLog.find((e) => e.kind === 'audio');
    expect(spokeAt?.kind === 'audio' && spokeAt.startMs).toBeGreaterThanOrEqual(500);
    expect(spokeAt?.kind === 'audio' && spokeAt.startMs).toBeLessThan(560);
    await after;
    const second = io.callerLog.filter((e) => e.kind === 'audio')[1];
    // The bot stops at 1500 ms; the caller goes on 300 ms of quiet later.
    expect(second?.kind === 'audio' && second.startMs).toBeGreaterThanOrEqual(1800);
    expect(second?.kind === 'audio' && second.startMs).toBeLessThan(1860);
    await reading;
  });
});

describe('MemoryIO bot side', () => {
  it('paces written audio at real time and records when each frame played', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    for (let i = 0; i < 100; i++) io.write(frameOf(i + 1));
    expect(io.playedMs()).toBe(20); // the first frame goes out at once
    await io.waitForPlayout();
    expect(io.nowMs()).toBeGreaterThanOrEqual(2000);
    expect(io.nowMs()).toBeLessThan(2050);
    expect(io.playedMs()).toBe(2000);
    expect(io.sent).toHaveLength(100);
    // One frame per 20 ms slot, in order, never early and never two in a burst. Slots are anchored to absolute
    // time (no drift), so a frame the event loop sent a little late is followed by an on-time one a little
    // sooner: the gap can be under 20 ms by that lateness, but a burst (two frames in one slot) is near 0.
    io.sent.forEach((f, i) => {
      expect(f.sentAtMs).toBeGreaterThanOrEqual(i * 20 - 1);
      if (i > 0) expect(f.sentAtMs - io.sent[i - 1].sentAtMs).toBeGreaterThan(10);
      expect(f.samples[0]).toBe(i + 1);
    });
    const [segment] = io.botSegments();
    expect(io.botSegments()).toHaveLength(1);
    expect(segment.endMs - segment.startMs).toBeCloseTo(2000, 0);
    await io.close('bot_hangup');
  });

  it('clear() drops what is queued at once and says how much', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    for (let i = 0; i < 100; i++) io.write(frameOf(1));
    await sleep(clock, 510);
    const dropped = io.clear();
    const clearedAt = io.nowMs();
    await sleep(clock, 500);
    expect(io.sent.length).toBe(26); // frames due at 0, 20, … 500
    expect(dropped).toBe(2000 - io.playedMs());
    expect(io.clears).toEqual([{ atMs: expect.closeTo(clearedAt, 0), droppedMs: dropped }]);
    // The last frame sent finishes playing at most one frame after the clear.
    expect(io.playEndMs()).toBeLessThanOrEqual(clearedAt + FRAME_MS);
    await io.waitForPlayout();
    await io.close('bot_hangup');
  });

  it('drops writes after close, and close is idempotent', async () => {
    const io = createMemoryIO({ clock: createFastClock() });
    await io.close('transfer', { transferTarget: 'queue-1' });
    await io.close('error');
    io.write(frameOf(1));
    expect(io.droppedAfterClose).toBe(1);
    expect(io.closedWith).toMatchObject({ reason: 'transfer', detail: { transferTarget: 'queue-1' } });
  });

  it('simulates a one-minute call (caller frames in, bot frames out) in well under a second', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    void io.say(tone(30_000));
    void io.silence(30_000);
    void io.hangup();
    const realStart = performance.now();
    let n = 0;
    for await (const f of io.frames()) {
      // The bot answers every second frame with one of its own: both directions run for the whole minute.
      if (n++ % 2 === 0) io.write(f);
    }
    const realMs = performance.now() - realStart;
    expect(io.nowMs()).toBeGreaterThanOrEqual(60_000);
    expect(io.sent.length).toBeGreaterThan(1400);
    expect(realMs).toBeLessThan(1000);
  });
});
