/**
 * A CallIO held in memory, for tests, `palabre simulate` and benchmarks. The
 * caller side is a script (audio, silence, keypad digits, waits on the bot,
 * hangup) played out in 20 ms frames on the call's clock, as a phone line
 * delivers them: continuously, silence included. The bot side goes through the
 * same Pacer a real transport uses, and every frame sent is kept with its time,
 * so a test can say exactly when the bot's audio stopped.
 */
import { EventEmitter } from 'node:events';
import { FRAME_MS, PIPELINE_RATE, assertRate, concatChunks, samplesPerFrame, type AudioChunk, type Frame } from '../audio/frame.js';
import { Pacer } from '../audio/pacer.js';
import { PalabreError } from '../errors.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import type { CallEndReason, CallIO, CallIOEvents } from './io.js';

export interface MemoryIOOptions {
  id?: string;
  sampleRate?: number;
  clock?: Clock;
  /**
   * How early the pacer may send a frame. 0 by default: nothing sits between
   * this IO and the "ear", so there is no network jitter to ride out, and a
   * frame sent is a frame playing.
   */
  leadMs?: number;
  /** What the line carries once the caller's script has run out: silence for ever (default), or a hangup. */
  afterScript?: 'silence' | 'hangup';
  /** Bound of the bot's outbound queue (default 30 s, as the pacer's). */
  maxQueueMs?: number;
}

/** One bot frame as it went out; times in ms since the IO was created. */
export interface SentFrame {
  sentAtMs: number;
  /** When it plays at the far end: frames play back to back, never before they are sent. */
  playStartMs: number;
  playEndMs: number;
  samples: Int16Array;
}

export interface ClearRecord {
  atMs: number;
  droppedMs: number;
}

/** What the caller did, in ms since the IO was created (frames cover [startMs, endMs)). */
export type CallerLogEntry =
  | { kind: 'audio'; startMs: number; endMs: number; audioMs: number; label?: string }
  | { kind: 'silence'; startMs: number; endMs: number }
  | { kind: 'dtmf'; atMs: number; digit: string }
  | { kind: 'hangup'; atMs: number };

export interface BotSegment {
  startMs: number;
  endMs: number;
}

type Step =
  | { kind: 'audio'; frames: Frame[]; stepMs: number; label?: string }
  | { kind: 'silence'; ms: number }
  | { kind: 'dtmf'; digits: string; gapMs: number }
  | { kind: 'wait'; until: 'speaking' | 'silent'; quietMs: number; timeoutMs: number }
  | { kind: 'hangup' }
  | { kind: 'fail'; error: Error };

interface QueuedStep {
  step: Step;
  done: () => void;
}

export class MemoryIO implements CallIO {
  readonly id: string;
  readonly sampleRate: number;
  readonly clock: Clock;
  /** Every bot frame sent, in order. */
  readonly sent: SentFrame[] = [];
  readonly clears: ClearRecord[] = [];
  readonly callerLog: CallerLogEntry[] = [];
  /** Frames written after close (a real transport would drop them too). */
  droppedAfterClose = 0;
  closedWith: { reason: CallEndReason; detail?: { transferTarget?: string }; atMs: number } | undefined;
  /** When frames() was first read (ms since creation): caller frame k covers [framesStartMs + 20k, + 20). */
  framesStartMs: number | undefined;

  private readonly origin: number;
  private readonly emitter = new EventEmitter();
  private readonly pacer: Pacer;
  private readonly frameSize: number;
  private readonly script: QueuedStep[] = [];
  private readonly afterScript: 'silence' | 'hangup';
  private reading = false;
  private closed = false;
  /** Ends the wait of frames() when close() comes in the middle of it. */
  private interruptWait: (() => void) | undefined;
  private nextDue: number | undefined;
  private playEnd = -Infinity;

  constructor(options: MemoryIOOptions = {}) {
    this.id = options.id ?? `mem-${Math.random().toString(36).slice(2, 10)}`;
    this.sampleRate = options.sampleRate ?? PIPELINE_RATE;
    this.clock = options.clock ?? realClock;
    this.origin = this.clock.now();
    this.afterScript = options.afterScript ?? 'silence';
    this.frameSize = samplesPerFrame(this.sampleRate);
    this.pacer = new Pacer({
      sampleRate: this.sampleRate,
      leadMs: options.leadMs ?? 0,
      maxQueueMs: options.maxQueueMs,
      send: (frame) => this.record(frame),
      now: () => this.clock.now(),
      setTimer: (fn, ms) => this.clock.setTimeout(fn, ms),
      clearTimer: (h) => this.clock.clearTimeout(h as TimerHandle),
    });
  }

  /** Ms since this IO was created, on its clock. */
  nowMs(): number {
    return this.clock.now() - this.origin;
  }

  // ---- caller side: each call appends a step; the promise settles once it has been played ----

  /** The caller speaks `audio` (any length, at the IO's rate), in real time or `speed` times faster. */
  say(audio: AudioChunk, options: { speed?: number; label?: string } = {}): Promise<void> {
    assertRate(audio, this.sampleRate, 'MemoryIO.say');
    const speed = options.speed ?? 1;
    if (!(speed > 0)) throw new PalabreError('bad_request', `MemoryIO.say speed must be > 0, got ${speed}`);
    const frames: Frame[] = [];
    for (let at = 0; at < audio.samples.length; at += this.frameSize) {
      const samples = new Int16Array(this.frameSize);
      samples.set(audio.samples.subarray(at, Math.min(audio.samples.length, at + this.frameSize)));
      frames.push({ samples, sampleRate: this.sampleRate });
    }
    return this.push({ kind: 'audio', frames, stepMs: FRAME_MS / speed, label: options.label });
  }

  silence(ms: number): Promise<void> {
    return this.push({ kind: 'silence', ms });
  }

  /** Keypad digits, `gapMs` apart (silence keeps flowing in between). */
  dtmf(digits: string, options: { gapMs?: number } = {}): Promise<void> {
    if (!/^[0-9*#A-D]+$/.test(digits)) throw new PalabreError('bad_request', `MemoryIO.dtmf takes keypad digits 0-9 * # A-D, got "${digits}"`);
    return this.push({ kind: 'dtmf', digits, gapMs: options.gapMs ?? 150 });
  }

  /**
   * Silence until the bot is speaking ('speaking'), or until the bot, having
   * spoken, has been silent for `quietMs` ('silent'; default 200 ms). frames()
   * fails after `timeoutMs` (default 60 s) of waiting.
   */
  waitForBot(until: 'speaking' | 'silent', options: { quietMs?: number; timeoutMs?: number } = {}): Promise<void> {
    return this.push({ kind: 'wait', until, quietMs: options.quietMs ?? 200, timeoutMs: options.timeoutMs ?? 60_000 });
  }

  /** The caller hangs up: a `hangup` event, then frames() ends. */
  hangup(): Promise<void> {
    return this.push({ kind: 'hangup' });
  }

  /** The transport breaks: frames() throws `error`. */
  fail(error: Error): Promise<void> {
    return this.push({ kind: 'fail', error });
  }

  private push(step: Step): Promise<void> {
    return new Promise((resolve) => {
      this.script.push({ step, done: resolve });
    });
  }

  // ---- CallIO ----

  async *frames(): AsyncGenerator<Frame, void, undefined> {
    if (this.reading) throw new PalabreError('bad_request', 'MemoryIO.frames() can be read only once');
    this.reading = true;
    const start = this.clock.now();
    this.nextDue = start;
    this.framesStartMs = start - this.origin;
    const silent = (): Frame => ({ samples: new Int16Array(this.frameSize), sampleRate: this.sampleRate });
    try {
      while (!this.closed) {
        const queued = this.script.shift();
        if (!queued) {
          if (this.afterScript === 'hangup') {
            this.doHangup();
            return;
          }
          // An idle line still carries silence, one frame at a time, until more script arrives.
          if (!(await this.waitSlot(FRAME_MS))) return;
          yield silent();
          continue;
        }
        const { step } = queued;
        try {
          switch (step.kind) {
            case 'audio': {
              // Logged from its start (endMs follows the frames), so a call cut short still shows it.
              const entry = { kind: 'audio' as const, startMs: this.nowMs(), endMs: this.nowMs(), audioMs: 0, label: step.label };
              this.callerLog.push(entry);
              for (const frame of step.frames) {
                if (!(await this.waitSlot(step.stepMs))) return;
                entry.endMs = this.nowMs();
                entry.audioMs += FRAME_MS;
                yield frame;
              }
              break;
            }
            case 'silence': {
              const entry = { kind: 'silence' as const, startMs: this.nowMs(), endMs: this.nowMs() };
              this.callerLog.push(entry);
              for (let t = 0; t < step.ms; t += FRAME_MS) {
                if (!(await this.waitSlot(FRAME_MS))) return;
                entry.endMs = this.nowMs();
                yield silent();
              }
              break;
            }
            case 'dtmf': {
              for (let i = 0; i < step.digits.length; i++) {
                const digit = step.digits[i];
                this.callerLog.push({ kind: 'dtmf', atMs: this.nowMs(), digit });
                this.emitter.emit('dtmf', digit);
                for (let t = 0; t < step.gapMs && !this.closed; t += FRAME_MS) {
                  if (!(await this.waitSlot(FRAME_MS))) return;
                  yield silent();
                }
              }
              break;
            }
            case 'wait': {
              const started = this.nowMs();
              const sentBefore = this.sent.length;
              for (;;) {
                const now = this.nowMs();
                const met =
                  step.until === 'speaking'
                    ? this.sent.length > sentBefore || this.botPlayingAt(now)
                    : this.sent.length > 0 && !this.botPlayingAt(now) && this.pacer.queuedMs === 0 && now - Math.max(this.playEndMs(), started) >= step.quietMs;
                if (met) break;
                if (now - started > step.timeoutMs) {
                  throw new PalabreError('internal', `MemoryIO: the bot was not ${step.until} within ${step.timeoutMs} ms`);
                }
                if (!(await this.waitSlot(FRAME_MS))) return;
                yield silent();
              }
              break;
            }
            case 'hangup':
              this.doHangup();
              return;
            case 'fail':
              this.closed = true;
              this.pacer.stop();
              throw step.error;
          }
        } finally {
          queued.done();
        }
      }
    } finally {
      // Steps never reached are settled too, so nobody awaits a call that is over.
      for (const q of this.script.splice(0)) q.done();
    }
  }

  write(frame: Frame): void {
    if (this.closed) {
      this.droppedAfterClose++;
      return;
    }
    this.pacer.push(frame);
  }

  clear(): number {
    const dropped = this.closed ? 0 : this.pacer.clear();
    this.clears.push({ atMs: this.nowMs(), droppedMs: dropped });
    return dropped;
  }

  waitForPlayout(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.pacer.drained();
  }

  playedMs(): number {
    return this.sent.length * FRAME_MS;
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.off(event, listener);
  }

  listenerCount(event: keyof CallIOEvents): number {
    return this.emitter.listenerCount(event);
  }

  async close(reason: CallEndReason, detail?: { transferTarget?: string }): Promise<void> {
    if (this.closedWith) return;
    this.closedWith = { reason, detail, atMs: this.nowMs() };
    this.closed = true;
    this.pacer.stop();
    this.interruptWait?.();
  }

  // ---- inspection ----

  get isClosed(): boolean {
    return this.closed;
  }

  /** Every bot frame sent, as one chunk. */
  botAudio(): AudioChunk {
    return concatChunks(
      this.sent.map((f) => ({ samples: f.samples, sampleRate: this.sampleRate })),
      this.sampleRate,
    );
  }

  /** Stretches of bot audio playing without a break longer than `gapMs`. */
  botSegments(gapMs: number = FRAME_MS): BotSegment[] {
    const out: BotSegment[] = [];
    for (const f of this.sent) {
      const last = out[out.length - 1];
      if (last && f.playStartMs - last.endMs <= gapMs) last.endMs = f.playEndMs;
      else out.push({ startMs: f.playStartMs, endMs: f.playEndMs });
    }
    return out;
  }

  /** When the last bot frame sent so far stops playing (-Infinity when none was). */
  playEndMs(): number {
    return this.playEnd;
  }

  private botPlayingAt(nowMs: number): boolean {
    return this.playEnd > nowMs;
  }

  private record(frame: Frame): void {
    const at = this.nowMs();
    const start = Math.max(at, this.playEnd);
    this.playEnd = start + FRAME_MS;
    this.sent.push({ sentAtMs: at, playStartMs: start, playEndMs: this.playEnd, samples: frame.samples });
  }

  private doHangup(): void {
    if (this.closed) return;
    this.callerLog.push({ kind: 'hangup', atMs: this.nowMs() });
    this.closed = true;
    this.closedWith = { reason: 'caller_hangup', atMs: this.nowMs() };
    this.pacer.stop();
    this.emitter.emit('hangup', 'caller_hangup');
  }

  /** Waits for the next frame slot (`stepMs` after the previous); false when the IO closed meanwhile. */
  private waitSlot(stepMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const due = (this.nextDue ?? this.clock.now()) + stepMs;
    this.nextDue = due;
    return new Promise((resolve) => {
      const handle = this.clock.setTimeout(() => {
        this.interruptWait = undefined;
        resolve(!this.closed);
      }, due - this.clock.now());
      this.interruptWait = () => {
        this.clock.clearTimeout(handle);
        this.interruptWait = undefined;
        resolve(false);
      };
    });
  }
}

export function createMemoryIO(options: MemoryIOOptions = {}): MemoryIO {
  return new MemoryIO(options);
}
