/**
 * Inbound processing lag, measured around any transport's CallIO without
 * changing how it queues or drops: how far behind the caller's real-time pace
 * the session finishes each frame (VAD and turn-taking included). Frame k of a
 * call is due k·20 ms after the call's first; the session is done with it when
 * it asks for the next one. The lag is that moment minus the due time, less the
 * smallest such offset seen on the call so far (the network and start-up share
 * that every frame pays). So it counts the event loop, the kernel's socket
 * buffer and the transport's queue alike, and also any lateness of the
 * callers' own sending, which the callers' event-loop delay shows.
 */
import { performance } from 'node:perf_hooks';
import type { Frame } from '../../src/audio/frame.js';
import type { CallIO, CallIOEvents } from '../../src/call/io.js';
import { Histogram } from './histogram.js';

export class InboundMeter {
  readonly lag = new Histogram();
  measuring = false;
  frames = 0;

  record(ms: number): void {
    if (!this.measuring) return;
    this.lag.add(ms);
    this.frames++;
  }

  start(): void {
    this.lag.reset();
    this.frames = 0;
    this.measuring = true;
  }
}

export class MeasuredIO implements CallIO {
  constructor(
    private readonly inner: CallIO,
    private readonly meter: InboundMeter,
  ) {}

  get id(): string {
    return this.inner.id;
  }

  get sampleRate(): number {
    return this.inner.sampleRate;
  }

  frames(): AsyncIterable<Frame> {
    const inner = this.inner.frames();
    const meter = this.meter;
    return (async function* measured(): AsyncGenerator<Frame, void, undefined> {
      let dueMs = 0;
      let base = Infinity;
      for await (const frame of inner) {
        yield frame;
        // Asked for the next frame: this one is done.
        const offset = performance.now() - dueMs;
        base = Math.min(base, offset);
        meter.record(offset - base);
        dueMs += (frame.samples.length * 1000) / frame.sampleRate;
      }
    })();
  }

  write(frame: Frame): void {
    this.inner.write(frame);
  }

  clear(): number {
    return this.inner.clear();
  }

  waitForPlayout(): Promise<void> {
    return this.inner.waitForPlayout();
  }

  playedMs(): number {
    return this.inner.playedMs();
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.inner.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.inner.off(event, listener);
  }

  close(reason: Parameters<CallIO['close']>[0], detail?: Parameters<CallIO['close']>[1]): Promise<void> {
    return this.inner.close(reason, detail);
  }
}
