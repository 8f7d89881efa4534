/**
 * Real-time pacer for outbound audio on transports that do not buffer
 * (AudioSocket, RTP): one frame per slot, slot n due at anchor + n·frameMs on a
 * monotonic clock, so timer jitter never accumulates into drift. Frames may
 * leave up to `leadMs` early to ride out timer jitter; after an event-loop
 * stall the schedule is re-anchored (and the lateness counted) instead of
 * bursting the backlog onto the wire.
 */
import { performance } from 'node:perf_hooks';
import { PalabreError } from '../errors.js';
import { FRAME_MS, samplesPerFrame, type Frame } from './frame.js';

export interface PacerOptions {
  sampleRate: number;
  /** Called once per slot with the frame to transmit. */
  send: (frame: Frame) => void;
  frameMs?: number;
  /** How far ahead of real time a frame may be sent; 40 ms by default. */
  leadMs?: number;
  /** Queue bound; push() beyond it throws. 30 s by default. */
  maxQueueMs?: number;
  /** Send a silent frame in every slot where nothing is queued (keeps sockets and RTP streams alive). */
  fillSilence?: boolean;
  /** Called in every idle slot; a returned frame is sent in it (comfort noise, a transport's own silence). Wins over fillSilence. */
  onIdle?: () => Frame | undefined | void;
  /** Called once each time the audio runs out: at the first slot after the last queued frame that has nothing to send. */
  onDrain?: () => void;
  /** A throwing send() stops the pacer and lands here; without it the error propagates (from push() or the timer). */
  onError?: (err: unknown) => void;
  /** Monotonic clock in ms; performance.now() by default. */
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export interface PacerStats {
  /** Queued frames sent. */
  framesSent: number;
  /** Idle-slot frames sent (silence or onIdle). */
  idleFramesSent: number;
  /** Frames that left after their slot's due time (each stall re-anchors once). */
  lateFrames: number;
  maxLatenessMs: number;
  /** Audio waiting in the queue. */
  queuedMs: number;
  /** Audio dropped by clear() and stop(). */
  droppedMs: number;
}

export class Pacer {
  readonly sampleRate: number;
  readonly frameMs: number;
  readonly leadMs: number;
  readonly maxQueueMs: number;
  private readonly frameSize: number;
  private readonly capacity: number;
  private readonly ring: Array<Frame | undefined>;
  private head = 0;
  private size = 0;
  /** Time of slot 0; undefined until the first frame or the first silence. */
  private anchor: number | undefined;
  /** Index of the next slot to fill. */
  private slot = 0;
  private timer: unknown;
  private timerDue = Infinity;
  private pumping = false;
  private stopped = false;
  private hadAudio = false;
  /** When the last audio frame sent finishes playing. */
  private audioEnd = -Infinity;
  private waiters: Array<() => void> = [];
  private readonly silenceFrame: Frame;
  private readonly clock: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private readonly counters = { framesSent: 0, idleFramesSent: 0, lateFrames: 0, maxLatenessMs: 0, droppedMs: 0 };

  constructor(private readonly options: PacerOptions) {
    this.sampleRate = options.sampleRate;
    this.frameMs = options.frameMs ?? FRAME_MS;
    this.leadMs = options.leadMs ?? 40;
    this.maxQueueMs = options.maxQueueMs ?? 30_000;
    if (!(this.frameMs > 0) || !(this.leadMs >= 0) || !(this.maxQueueMs >= this.frameMs)) {
      throw new PalabreError('bad_request', `pacer needs frameMs > 0, leadMs >= 0 and maxQueueMs >= frameMs (got ${this.frameMs}, ${this.leadMs}, ${this.maxQueueMs})`);
    }
    this.frameSize = samplesPerFrame(this.sampleRate, this.frameMs);
    this.capacity = Math.floor(this.maxQueueMs / this.frameMs);
    this.ring = new Array(this.capacity);
    this.silenceFrame = { samples: new Int16Array(this.frameSize), sampleRate: this.sampleRate };
    this.clock = options.now ?? (() => performance.now());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    if (this.fillsIdle) {
      this.anchor = this.clock();
      this.run();
    }
  }

  get stats(): PacerStats {
    return { ...this.counters, queuedMs: this.size * this.frameMs };
  }

  get queuedMs(): number {
    return this.size * this.frameMs;
  }

  private get fillsIdle(): boolean {
    return this.options.fillSilence === true || this.options.onIdle !== undefined;
  }

  /** Queues one frame (exactly frameMs at sampleRate); it goes out in the next free slot. */
  push(frame: Frame): void {
    if (this.stopped) throw new PalabreError('bad_request', 'pacer used after stop()');
    if (frame.sampleRate !== this.sampleRate || frame.samples.length !== this.frameSize) {
      throw new PalabreError('bad_audio', `pacer expects ${this.frameMs} ms frames of ${this.frameSize} samples at ${this.sampleRate} Hz but got ${frame.samples.length} samples at ${frame.sampleRate} Hz`);
    }
    if (this.size >= this.capacity) {
      throw new PalabreError('payload_too_large', `pacer queue is full: it already holds ${this.queuedMs} ms (maxQueueMs ${this.maxQueueMs})`);
    }
    this.ring[(this.head + this.size) % this.capacity] = frame;
    this.size++;
    const now = this.clock();
    if (this.anchor === undefined) this.anchor = now;
    else if (this.size === 1 && this.anchor + this.slot * this.frameMs < now) {
      // Nothing was queued and the slot went by unused: that gap is the producer's, not lateness.
      this.anchor = now - this.slot * this.frameMs;
    }
    this.run(now);
  }

  /** Drops everything queued (barge-in); returns the milliseconds dropped. Frames already sent are gone. */
  clear(): number {
    const dropped = this.size * this.frameMs;
    this.ring.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.counters.droppedMs += dropped;
    this.resolveWaiters();
    return dropped;
  }

  /** Resolves once the queue is empty and the last frame sent has had its time to play (or on clear/stop). */
  drained(): Promise<void> {
    if (this.stopped || (this.size === 0 && this.audioEnd <= this.clock())) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.run();
    });
  }

  /** Stops for good: drops the queue and cancels the timer. */
  stop(): void {
    if (this.stopped) return;
    this.clear();
    this.stopped = true;
    this.cancelTimer();
  }

  private resolveWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clearTimer(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDue = Infinity;
    this.run();
  };

  /** Sends what is due, then arms the timer for the next thing that will be. */
  private run(now: number = this.clock()): void {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    try {
      this.pump(now);
    } catch (err) {
      this.pumping = false;
      this.stop();
      if (!this.options.onError) throw err;
      this.options.onError(err);
      return;
    } finally {
      this.pumping = false;
    }
    this.arm(this.clock());
  }

  private pump(now: number): void {
    const frameMs = this.frameMs;
    for (;;) {
      if (this.anchor === undefined || this.stopped) return;
      const due = this.anchor + this.slot * frameMs;
      if (this.size > 0) {
        if (due - this.leadMs > now) return;
        if (due < now) {
          // Stalled past this frame's time: count it and move the whole schedule, rather than burst.
          this.counters.lateFrames++;
          this.counters.maxLatenessMs = Math.max(this.counters.maxLatenessMs, now - due);
          this.anchor = now - this.slot * frameMs;
        }
        const frame = this.ring[this.head] as Frame;
        this.ring[this.head] = undefined;
        this.head = (this.head + 1) % this.capacity;
        this.size--;
        this.slot++;
        this.audioEnd = this.anchor + this.slot * frameMs;
        this.hadAudio = true;
        this.counters.framesSent++;
        this.options.send(frame);
        continue;
      }
      // Nothing queued: act only once the empty slot is due, i.e. the last frame has played out.
      if (due > now) return;
      if (this.hadAudio) {
        this.hadAudio = false;
        this.options.onDrain?.();
        if (this.size > 0 || this.stopped) continue;
      }
      if (this.waiters.length > 0) this.resolveWaiters();
      if (!this.fillsIdle) return;
      // Idle slots go out on time, not early, so audio pushed a moment later is not stuck behind them.
      if (now - due >= frameMs) this.anchor = now - this.slot * frameMs;
      const idle = this.options.onIdle?.() ?? (this.options.fillSilence ? this.silenceFrame : undefined);
      this.slot++;
      if (idle) {
        this.counters.idleFramesSent++;
        this.options.send(idle);
      }
    }
  }

  private arm(now: number): void {
    if (this.stopped || this.anchor === undefined) return;
    const due = this.anchor + this.slot * this.frameMs;
    let next = Infinity;
    if (this.size > 0) next = due - this.leadMs;
    else if (this.fillsIdle || this.hadAudio || this.waiters.length > 0) next = due;
    if (next === Infinity) return this.cancelTimer();
    if (this.timer !== undefined && this.timerDue <= next) return;
    this.cancelTimer();
    this.timerDue = next;
    this.timer = this.setTimer(this.onTimer, Math.max(0, next - now));
  }
}
