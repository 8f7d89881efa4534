import { describe, expect, it } from 'vitest';
import { PalabreError } from '../../errors.js';
import { DEFAULT_VAD_OPTIONS, Segmenter, resolveVadOptions } from './segmenter.js';
import type { VadEvent } from './types.js';

/** Feeds one probability per 32 ms window; returns events and the `speaking` flag after each window. */
function feed(seg: Segmenter, probs: number[], windowMs = 32): { events: VadEvent[]; speaking: boolean[] } {
  const events: VadEvent[] = [];
  const speaking: boolean[] = [];
  probs.forEach((p, i) => {
    events.push(...seg.push(p, i * windowMs, windowMs));
    speaking.push(seg.speaking);
  });
  return { events, speaking };
}

const rep = (p: number, n: number) => Array<number>(n).fill(p);

describe('Segmenter (hysteresis shared by every VAD)', () => {
  const opts = { threshold: 0.5, minSpeechMs: 250, minSilenceMs: 300 };

  it('starts speech once it has lasted minSpeechMs, dated where it began', () => {
    const seg = new Segmenter(opts);
    // 5 silent windows, then speech from 160 ms: 250 ms is reached at the end of the 8th speech window (416 ms).
    const { events, speaking } = feed(seg, [...rep(0.1, 5), ...rep(0.9, 10)]);
    expect(events).toEqual([{ type: 'speech-start', atMs: 160 }]);
    expect(speaking.indexOf(true)).toBe(5 + 7);
  });

  it('ends speech after minSilenceMs of non-speech, dated where the silence began', () => {
    const seg = new Segmenter(opts);
    const { events } = feed(seg, [...rep(0.9, 10), ...rep(0.05, 12)]);
    expect(events).toEqual([
      { type: 'speech-start', atMs: 0 },
      { type: 'speech-end', atMs: 320, durationMs: 320 },
    ]);
  });

  it('uses threshold to enter and threshold - 0.15 to stay', () => {
    const seg = new Segmenter(opts);
    // 0.4 is below the entry threshold: never starts.
    expect(feed(seg, rep(0.4, 30)).events).toEqual([]);
    // Once speaking, 0.4 (≥ 0.35) keeps the region open; 0.3 closes it.
    const { events } = feed(new Segmenter(opts), [...rep(0.9, 10), ...rep(0.4, 30), ...rep(0.3, 10)]);
    expect(events).toEqual([
      { type: 'speech-start', atMs: 0 },
      { type: 'speech-end', atMs: 40 * 32, durationMs: 40 * 32 },
    ]);
  });

  it('bridges a pause shorter than minSilenceMs', () => {
    const { events } = feed(new Segmenter(opts), [...rep(0.9, 10), ...rep(0.1, 8), ...rep(0.9, 10), ...rep(0.1, 10)]);
    expect(events.map((e) => e.type)).toEqual(['speech-start', 'speech-end']);
    expect(events[1]).toEqual({ type: 'speech-end', atMs: 28 * 32, durationMs: 28 * 32 });
  });

  it('drops a burst shorter than minSpeechMs without any event (a click, a cough)', () => {
    const { events, speaking } = feed(new Segmenter(opts), [...rep(0.1, 5), ...rep(0.95, 3), ...rep(0.1, 20), ...rep(0.95, 3), ...rep(0.1, 20)]);
    expect(events).toEqual([]);
    expect(speaking.every((s) => !s)).toBe(true);
  });

  it('counts short bursts separated by short pauses as one region', () => {
    // 3 × (4 speech + 2 silence windows): no pause reaches 300 ms, the region reaches 250 ms.
    const probs = [...rep(0.9, 4), ...rep(0.1, 2), ...rep(0.9, 4), ...rep(0.1, 2), ...rep(0.9, 4), ...rep(0.1, 12)];
    const { events } = feed(new Segmenter(opts), probs);
    expect(events[0]).toEqual({ type: 'speech-start', atMs: 0 });
    expect(events[1]).toMatchObject({ type: 'speech-end', atMs: 16 * 32 });
  });

  it('finish() closes an open region at the end of the audio, or at its last silence', () => {
    const seg = new Segmenter(opts);
    feed(seg, rep(0.9, 20));
    expect(seg.finish(640)).toEqual([{ type: 'speech-end', atMs: 640, durationMs: 640 }]);
    const seg2 = new Segmenter(opts);
    feed(seg2, [...rep(0.9, 20), ...rep(0.1, 3)]);
    expect(seg2.finish(23 * 32)).toEqual([{ type: 'speech-end', atMs: 640, durationMs: 640 }]);
    expect(new Segmenter(opts).finish(100)).toEqual([]);
  });

  it('works with 0/1 decisions (WebRTC) and 20 ms frames', () => {
    const probs = [...rep(0, 10), ...rep(1, 20), ...rep(0, 20)];
    const { events } = feed(new Segmenter(opts), probs, 20);
    expect(events).toEqual([
      { type: 'speech-start', atMs: 200 },
      { type: 'speech-end', atMs: 600, durationMs: 400 },
    ]);
  });

  it('fills defaults and rejects nonsense options with bad_request', () => {
    expect(resolveVadOptions(undefined)).toEqual(DEFAULT_VAD_OPTIONS);
    expect(resolveVadOptions({ threshold: 0.7, minSpeechMs: undefined })).toEqual({ ...DEFAULT_VAD_OPTIONS, threshold: 0.7 });
    expect(() => resolveVadOptions({ threshold: 1.5 })).toThrow(PalabreError);
    expect(() => resolveVadOptions({ minSilenceMs: -1 })).toThrow(/minSilenceMs/);
    expect(() => resolveVadOptions({ minSpeechMs: Number.NaN })).toThrow(/minSpeechMs/);
  });
});
