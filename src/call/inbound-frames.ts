/**
 * Caller frames a transport has received and the call has not read yet:
 * pushed as they arrive, read once with `for await`, ended when the line
 * is. Bounded: when the call falls behind, the oldest frames go first (a
 * stale second of audio is worth less than the present one), counted.
 */
import { FRAME_MS, type Frame } from '../audio/frame.js';

export class InboundFrames {
  private readonly frames: Frame[] = [];
  private readonly max: number;
  private wake: (() => void) | undefined;
  private done = false;
  private reading = false;
  /** Frames dropped because the reader fell behind. */
  dropped = 0;

  /** `onFirstDrop` fires once, so a transport can log that a call is not keeping up without flooding the log. */
  constructor(maxMs: number, private readonly onFirstDrop?: () => void) {
    this.max = Math.max(1, Math.floor(maxMs / FRAME_MS));
  }

  get ended(): boolean {
    return this.done;
  }

  push(frame: Frame): void {
    if (this.done) return;
    if (this.frames.length >= this.max) {
      this.frames.shift();
      if (this.dropped++ === 0) this.onFirstDrop?.();
    }
    this.frames.push(frame);
    this.wakeReader();
  }

  end(): void {
    this.done = true;
    this.wakeReader();
  }

  async *read(owner: string): AsyncGenerator<Frame, void, undefined> {
    if (this.reading) throw new Error(`${owner}: frames() can be read only once`);
    this.reading = true;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) {
        yield frame;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
