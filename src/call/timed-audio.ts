/**
 * Caller audio with the call time each frame arrived at, kept as samples in
 * growable typed arrays rather than as the frames themselves. A call keeps
 * seconds of recent audio; holding each 20 ms frame for that long made every
 * one of them outlive the young generation, so at hundreds of calls the GC
 * spent its time promoting and then collecting them. Copying a frame's
 * samples is cheaper than that, and the frames now die young.
 */
import type { AudioChunk } from '../audio/frame.js';

/** Audio appended frame by frame, with each frame's end time; the oldest frames can be dropped. */
export class TimedAudio {
  private samples: Int16Array;
  /** Index in `samples` of the oldest kept sample; everything before it is dropped. */
  private first = 0;
  private end = 0;
  /** Per kept frame: end time (ms) and end offset in `samples`, oldest at `head`. */
  private endMs: Float64Array;
  private endAt: Float64Array;
  private head = 0;
  private count = 0;

  constructor(readonly sampleRate: number, initialMs = 1000) {
    this.samples = new Int16Array(Math.max(320, Math.ceil((initialMs * sampleRate) / 1000)));
    this.endMs = new Float64Array(64);
    this.endAt = new Float64Array(64);
  }

  get frames(): number {
    return this.count;
  }

  append(samples: Int16Array, endMs: number): void {
    if (this.end + samples.length > this.samples.length) this.makeRoom(samples.length);
    this.samples.set(samples, this.end);
    this.end += samples.length;
    if (this.head + this.count === this.endMs.length) this.makeMarkRoom();
    const i = this.head + this.count;
    this.endMs[i] = endMs;
    this.endAt[i] = this.end;
    this.count++;
  }

  /** Drops the oldest frames while `drop(endMs)` says so. */
  dropWhile(drop: (endMs: number) => boolean): void {
    while (this.count > 0 && drop(this.endMs[this.head])) {
      this.first = this.endAt[this.head];
      this.head++;
      this.count--;
    }
    if (this.count === 0) this.clear();
  }

  /** Start time of the oldest kept frame, or undefined when empty. */
  get firstStartMs(): number | undefined {
    if (this.count === 0) return undefined;
    return this.endMs[this.head] - ((this.endAt[this.head] - this.first) * 1000) / this.sampleRate;
  }

  /** Calls `fn` for each kept frame ending after `fromMs`, oldest first, with a view of its samples (valid only during the call). */
  forEach(fromMs: number, fn: (samples: Int16Array, endMs: number) => void): void {
    for (let k = 0; k < this.count; k++) {
      const i = this.head + k;
      if (this.endMs[i] <= fromMs) continue;
      const startAt = k === 0 ? this.first : this.endAt[i - 1];
      fn(this.samples.subarray(startAt, this.endAt[i]), this.endMs[i]);
    }
  }

  /** The kept frames that start before `untilMs`, as one chunk (frames are in time order, so these are a prefix). */
  until(untilMs: number): AudioChunk {
    let endAt = this.first;
    for (let k = 0; k < this.count; k++) {
      const i = this.head + k;
      const startAt = k === 0 ? this.first : this.endAt[i - 1];
      const startMs = this.endMs[i] - ((this.endAt[i] - startAt) * 1000) / this.sampleRate;
      if (startMs >= untilMs) break;
      endAt = this.endAt[i];
    }
    return { samples: this.samples.slice(this.first, endAt), sampleRate: this.sampleRate };
  }

  clear(): void {
    this.first = this.end = 0;
    this.head = this.count = 0;
  }

  /** Moves the kept samples to the front, growing the array if they would still not leave room for `incoming`. */
  private makeRoom(incoming: number): void {
    const kept = this.end - this.first;
    if (kept + incoming > this.samples.length / 2) {
      const grown = new Int16Array(Math.max(this.samples.length * 2, kept + incoming));
      grown.set(this.samples.subarray(this.first, this.end), 0);
      this.samples = grown;
    } else this.samples.copyWithin(0, this.first, this.end);
    for (let k = 0; k < this.count; k++) this.endAt[this.head + k] -= this.first;
    this.end = kept;
    this.first = 0;
  }

  private makeMarkRoom(): void {
    let endMs = this.endMs;
    let endAt = this.endAt;
    if (this.count > endMs.length / 2) {
      endMs = new Float64Array(endMs.length * 2);
      endAt = new Float64Array(endAt.length * 2);
    }
    endMs.set(this.endMs.subarray(this.head, this.head + this.count), 0);
    endAt.set(this.endAt.subarray(this.head, this.head + this.count), 0);
    this.endMs = endMs;
    this.endAt = endAt;
    this.head = 0;
  }
}
