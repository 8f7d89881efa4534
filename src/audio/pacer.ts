/**
 * Real-time pacer for outbound audio on transports that do not buffer
 * (AudioSocket, RTP): one frame per slot, slot n due at anchor + n·frameMs on a
 * monotonic clock, so timer jitter never accumulates into drift. Frames may
 * leave up to `leadMs` early to ride out timer jitter; after an event-loop
 * stall the schedule is re-anchored (and the lateness counted) instead of
 * bursting the backlog onto the wire.
 *
 * The lead is built gradually: each slot may leave at most `leadStepMs`
 * earlier (relative to its due time) than the one before it did. Idle slots
 * (fillSilence, onIdle) keep the lead too, so on a line that always carries
 * something speech just takes the next slot: the wire sees one frame every
 * frameMs at the start and end of every utterance, never a burst of the lead's
 * frames followed by a gap, which a receiver that plays frames as they come
 * (Asterisk, an RTP phone) would hear as jitter. Audio pushed waits at most one
 * slot for it, as it would for an idle slot sent on time.
 * The lead is kept on the schedule, not measured from when a timer happened to
 * fire, so timer lateness smaller than the lead never erodes it; a frame held up
 * is caught up afterwards, though never closer than half a frame to the last.
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
  /** How much the lead may grow from one slot to the next; leadMs / 20 by default (2 ms of a 40 ms lead), so it is built over 20 frames whatever its size. */
  leadStepMs?: number;
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
  readonly leadStepMs: number;
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
  /** How early the last slot sent was scheduled to leave, in ms (0 when re-anchored). */
  private lead = 0;
  /** When the last slot was sent: catching up after a late timer spaces frames at least frameMs / 2 apart. */
  private lastSentAt = -Infinity;
  /** When the schedule started or the queue last went from empty to not: no slot could leave before, so one due soon after has only that lead. */
  private freshSince = -Infinity;
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
    this.leadStepMs = options.leadStepMs ?? (this.leadMs > 0 ? this.leadMs / 20 : this.frameMs);
    this.maxQueueMs = options.maxQueueMs ?? 30_000;
    if (!(this.frameMs > 0) || !(this.leadMs >= 0) || !(this.leadStepMs > 0) || !(this.maxQueueMs >= this.frameMs)) {
      throw new PalabreError(
        'bad_request',
        `pacer needs frameMs > 0, leadMs >= 0, leadStepMs > 0 and maxQueueMs >= frameMs (got ${this.frameMs}, ${this.leadMs}, ${this.leadStepMs}, ${this.maxQueueMs})`,
      );
    }
    this.frameSize = samplesPerFrame(this.sampleRate, this.frameMs);
    this.capacity = Math.floor(this.maxQueueMs / this.frameMs);
    this.ring = new Array(this.capacity);
    this.silenceFrame = { samples: new Int16Array(this.frameSize), sampleRate: this.sampleRate };
    this.clock = options.now ?? (() => performance.now());
    this.setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = options.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
    if (this.fillsIdle) {
      this.anchor = this.freshSince = this.clock();
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
    if (this.size === 1) this.freshSince = now;
    if (this.anchor === undefined) this.anchor = now;
    else if (this.size === 1 && this.anchor + this.slot * this.frameMs < now) {
      // Nothing was queued and the slot went by unused: that gap is the producer's, not lateness.
      this.anchor = now - this.slot * this.frameMs;
      this.lead = 0;
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

  /** How early the next slot may leave: one step more than the last one, up to leadMs. */
  private nextLead(): number {
    return Math.min(this.leadMs, this.lead + this.leadStepMs);
  }

  private pump(now: number): void {
    const frameMs = this.frameMs;
    for (;;) {
      if (this.anchor === undefined || this.stopped) return;
      const due = this.anchor + this.slot * frameMs;
      const spaced = now >= this.lastSentAt + frameMs / 2;
      if (this.size > 0) {
        let lead = this.nextLead();
        if (due - lead > now || !spaced) return;
        lead = Math.min(lead, Math.max(0, due - this.freshSince));
        if (due < now) {
          // Stalled past this frame's time: count it and move the whole schedule, rather than burst.
          this.counters.lateFrames++;
          this.counters.maxLatenessMs = Math.max(this.counters.maxLatenessMs, now - due);
          this.anchor = now - this.slot * frameMs;
          lead = 0;
        }
        const frame = this.ring[this.head] as Frame;
        this.ring[this.head] = undefined;
        this.head = (this.head + 1) % this.capacity;
        this.size--;
        this.slot++;
        this.lead = lead;
        this.lastSentAt = now;
        this.audioEnd = this.anchor + this.slot * frameMs;
        this.hadAudio = true;
        this.counters.framesSent++;
        this.options.send(frame);
        continue;
      }
      // Nothing queued: the audio has run out once the last frame sent has played.
      if (this.audioEnd <= now) {
        if (this.hadAudio) {
          this.hadAudio = false;
          this.options.onDrain?.();
          if (this.size > 0 || this.stopped) continue;
        }
        if (this.waiters.length > 0) this.resolveWaiters();
      }
      if (!this.fillsIdle) return;
      let lead = this.nextLead();
      if (due - lead > now || !spaced) return;
      lead = Math.min(lead, Math.max(0, due - this.freshSince));
      if (now - due >= frameMs) {
        this.anchor = now - this.slot * frameMs;
        lead = 0;
      }
      const idle = this.options.onIdle?.() ?? (this.options.fillSilence ? this.silenceFrame : undefined);
      this.slot++;
      this.lead = lead;
      this.lastSentAt = now;
      if (idle) {
        this.counters.idleFramesSent++;
        this.options.send(idle);
      }
    }
  }

  private arm(now: number): void {
    if (this.stopped || this.anchor === undefined) return;
    const due = this.anchor + this.slot * this.frameMs;
    const spaced = this.lastSentAt + this.frameMs / 2;
    let next = Infinity;
    if (this.size > 0) next = Math.max(due - this.nextLead(), spaced);
    else {
      if (this.fillsIdle) next = Math.max(due - this.nextLead(), spaced);
      if (this.hadAudio || this.waiters.length > 0) next = Math.min(next, this.audioEnd);
    }
    if (next === Infinity) return this.cancelTimer();
    if (this.timer !== undefined && this.timerDue <= next) return;
    this.cancelTimer();
    this.timerDue = next;
    this.timer = this.setTimer(this.onTimer, Math.max(0, next - now));
  }
}
