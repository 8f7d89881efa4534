/**
 * The call's IO with a recorder listening on both directions: caller frames
 * as the session reads them, bot frames as they are queued, and the IO's own
 * playedMs() (polled on every frame, write, clear and query) to learn what the
 * caller actually heard. Everything is passed through unchanged; the recorder
 * never throws into the call.
 */
import type { Frame } from '../audio/frame.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../call/io.js';
import type { CallRecorder } from './recorder.js';

export class RecordingTapIO implements CallIO {
  constructor(
    private readonly inner: CallIO,
    private readonly recorder: CallRecorder,
  ) {}

  get id(): string {
    return this.inner.id;
  }

  get sampleRate(): number {
    return this.inner.sampleRate;
  }

  async *frames(): AsyncGenerator<Frame, void, undefined> {
    for await (const frame of this.inner.frames()) {
      this.tap(() => this.recorder.onCaller(frame.samples, this.inner.playedMs()));
      yield frame;
    }
  }

  write(frame: Frame): void {
    this.tap(() => this.recorder.onPlayed(this.inner.playedMs()));
    this.inner.write(frame);
    this.tap(() => this.recorder.onWrite(frame.samples));
  }

  clear(): number {
    this.tap(() => this.recorder.onPlayed(this.inner.playedMs()));
    const dropped = this.inner.clear();
    this.tap(() => this.recorder.onCleared(this.inner.playedMs()));
    return dropped;
  }

  waitForPlayout(): Promise<void> {
    return this.inner.waitForPlayout();
  }

  playedMs(): number {
    const played = this.inner.playedMs();
    this.tap(() => this.recorder.onPlayed(played));
    return played;
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.inner.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.inner.off(event, listener);
  }

  close(reason: CallEndReason, detail?: { transferTarget?: string }): Promise<void> {
    return this.inner.close(reason, detail);
  }

  /** The IO's playedMs() for the recorder's last look, or 0 if it fails. */
  playedNow(): number {
    try {
      return this.inner.playedMs();
    } catch {
      return 0;
    }
  }

  private tap(fn: () => void): void {
    if (!this.recorder.tapping) return;
    try {
      fn();
    } catch (err) {
      // A bug in the recorder costs the recording, never the call.
      this.recorder.abandon(err, 'the recorder failed on the audio path');
    }
  }
}
