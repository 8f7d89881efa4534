/**
 * One call: CallIO frames → (denoise) → VAD → turn-taking → STT → dialog →
 * player → CallIO, with barge-in, DTMF, no-input, side effects, per-turn
 * timelines and events. The session owns the call's lifetime: however it ends
 * (caller or bot hangup, transfer, transport failure, dialog exception,
 * end() from outside), every engine call is aborted, every stream closed,
 * every timer cleared and every listener removed before run() resolves.
 *
 * Parts: turns.ts acts on turn-taking's decisions, dialog-driver.ts talks to
 * the dialog, player.ts speaks, capture.ts feeds the STT; this file wires them
 * and runs the audio in.
 */
import { assertFrame, type Frame } from '../audio/frame.js';
import type { Resampler } from '../audio/resample.js';
import type { DenoiseStream } from '../engines/denoise/types.js';
import type { VadStream } from '../engines/vad/types.js';
import type { DialogEvent, ListenSpec } from '../dialog/types.js';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { SpeechCapture } from './capture.js';
import { bounded, realClock, sleep, type Clock, type TimerHandle } from './clock.js';
import { DialogDriver } from './dialog-driver.js';
import { defaultEffects } from './effects.js';
import type { CallEvent, CallEventBody, CallSummary, EngineStage, TurnTimeline } from './events.js';
import type { CallEndReason, CallIO } from './io.js';
import { Player, type SayHooks, type SayRequest, type UtteranceOutcome } from './player.js';
import { SessionRecord } from './record.js';
import type { CallSession, CreateCallSessionArgs, ResolvedSessionOptions, SessionCore, SessionEngines } from './session-core.js';
import { defaultListen, TurnDetector } from './turn-taking.js';
import { TurnHandler } from './turns.js';

export type { CallSession, CallSessionOptions, CreateCallSessionArgs, SessionEngines } from './session-core.js';

/** How long the end of a call waits for work in flight to unwind before saying so in the log. */
const UNWIND_MS = 5000;

/** Longest the dialog gets to wrap up (its `hangup` event and last side effects) once the call is over. */
const FAREWELL_MS = 5000;

const END = Symbol('end');

class Session implements CallSession, SessionCore {
  readonly id: string;
  readonly language: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly record: SessionRecord;
  readonly detector: TurnDetector;
  readonly options: ResolvedSessionOptions;
  readonly fallbackListen: ListenSpec;
  private readonly io: CallIO;
  private readonly engines: SessionEngines;
  private readonly controller = new AbortController();
  private readonly tasks = new Set<Promise<unknown>>();
  private readonly driver: DialogDriver;
  private readonly capture: SpeechCapture;
  private readonly turns: TurnHandler;
  private t0 = 0;
  private runPromise: Promise<CallSummary> | undefined;
  private player: Player | undefined;
  private vadStream: VadStream | undefined;
  private vadResampler: Resampler | undefined;
  private denoise: DenoiseStream | undefined;
  private busyJobs = 0;
  private endReason: { reason: CallEndReason; detail?: string } | undefined;
  /** Settles the one wait for a caller frame in progress with END when the call ends. */
  private wakeOnEnd: (() => void) | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private deadlineAt: number | undefined;
  private maxCallTimer: TimerHandle | undefined;
  /** Failures in a row, per engine: a success of that engine resets its count. */
  private readonly engineErrors = { stt: 0, tts: 0 };
  /** Times the engines sent the dialog down its error path; the apology is said once. */
  private errorPaths = 0;
  private apologised = false;

  constructor(args: CreateCallSessionArgs) {
    this.io = args.io;
    this.id = args.io.id;
    this.language = args.language;
    this.engines = args.engines;
    this.clock = args.clock ?? realClock;
    this.logger = args.logger.child({ callId: this.id });
    const o = args.options ?? {};
    this.options = {
      prerollMs: o.prerollMs ?? 300,
      sttStreaming: o.sttStreaming ?? true,
      sttTimeoutMs: o.sttTimeoutMs ?? 20_000,
      dialogTimeoutMs: o.dialogTimeoutMs ?? 30_000,
      maxCallMs: o.maxCallMs ?? 3_600_000,
      maxEngineErrors: o.maxEngineErrors ?? 3,
      maxAheadMs: o.maxAheadMs ?? 3000,
    };
    this.fallbackListen = o.defaultListen ?? defaultListen();
    this.detector = new TurnDetector(o.turnTaking);
    this.record = new SessionRecord(this.id, args.language, (e) => this.logger.warn({ err: (e as Error).message }, 'a call event listener threw'));
    this.driver = new DialogDriver(this, args.dialog, o.effects ?? defaultEffects());
    this.capture = new SpeechCapture({
      stt: this.engines.stt,
      resampler: this.engines.resampler,
      sampleRate: this.io.sampleRate,
      language: this.language,
      streaming: this.options.sttStreaming,
      prerollMs: this.options.prerollMs,
      logger: this.logger,
      onPartial: (turn, text) => this.emit({ type: 'partial', turn, text }),
      // An engine that hears speech start (Deepgram's SpeechStarted) may confirm a barge-in the VAD has not called yet.
      onSpeechStarted: (_turn, speechAtMs) => {
        if (!this.endReason) this.turns.handle(this.detector.sttSpeechStarted(this.now(), speechAtMs));
      },
    });
    this.turns = new TurnHandler(this, this.capture);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  on(_event: 'event', listener: (e: CallEvent) => void): void {
    this.record.listeners.add(listener);
  }

  off(_event: 'event', listener: (e: CallEvent) => void): void {
    this.record.listeners.delete(listener);
  }

  report(event: CallEventBody): void {
    this.emit(event);
  }

  run(): Promise<CallSummary> {
    this.runPromise ??= this.runCall();
    return this.runPromise;
  }

  async end(reason: CallEndReason, detail?: string): Promise<void> {
    this.requestEnd(reason, detail);
    if (this.runPromise) await this.runPromise;
  }

  // ---- SessionCore ----

  now(): number {
    return this.clock.now() - this.t0;
  }

  ending(): boolean {
    return this.endReason !== undefined;
  }

  emit(event: CallEventBody): void {
    this.record.emit(event, this.now());
  }

  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.tasks.add(settled);
    void settled.then(() => this.tasks.delete(settled));
    return work;
  }

  withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
    return bounded(this.clock, work, ms, what, this.controller.signal);
  }

  setBusy(delta: number): void {
    this.busyJobs += delta;
    this.syncBusy();
    this.armDeadline();
  }

  armDeadline(): void {
    if (this.endReason) return;
    const due = this.detector.nextDeadline();
    if (due === this.deadlineAt) return;
    this.clearDeadline();
    if (due === undefined) return;
    this.deadlineAt = due;
    this.deadlineTimer = this.clock.setTimeout(() => {
      this.deadlineTimer = undefined;
      this.deadlineAt = undefined;
      this.turns.handle(this.detector.tick(this.now()));
    }, due - this.now());
  }

  requestEnd(reason: CallEndReason, detail?: string): void {
    if (this.endReason) return;
    this.endReason = { reason, detail };
    this.detector.stop();
    this.controller.abort(new PalabreError('aborted', `the call ended (${reason})`));
    this.player?.close();
    this.capture.cancel();
    this.wakeOnEnd?.();
  }

  fault(stage: EngineStage, err: unknown): void {
    if (this.endReason) return;
    this.record.error(stage, err, this.now());
    const why = err instanceof Error ? err.message : String(err);
    this.logger.error({ stage, err: why }, 'call failed');
    this.requestEnd('error', `${stage}: ${why}`);
  }

  /**
   * The engines (their whole fallback chain) failed. The bot cannot speak: the
   * caller hears the apology the factory cached at start-up, and the flow's
   * error path runs (its transfer still happens even if its own words fail).
   * The caller could not be understood: they are asked again, and after
   * `maxEngineErrors` failures in a row the flow's error path runs. A flow
   * with no error state hangs up; a second error path ends the call.
   */
  engineFailure(stage: 'stt' | 'tts', err: unknown): 'retry' | 'error-path' {
    this.record.error(stage, err, this.now());
    const why = err instanceof Error ? err.message : String(err);
    this.logger.warn({ stage, err: why }, 'engine failed during a call');
    const count = ++this.engineErrors[stage];
    if (stage === 'stt' && count < this.options.maxEngineErrors) return 'retry';
    this.engineErrors[stage] = 0;
    if (++this.errorPaths > this.options.maxEngineErrors) {
      this.logger.error({ stage }, 'engines keep failing, also on the error path; ending the call');
      this.requestEnd('error', `${stage} failed on the error path: ${why}`);
      return 'error-path';
    }
    if (stage === 'tts' && this.engines.apology && !this.apologised) {
      this.apologised = true;
      this.speak(this.engines.apology);
    }
    this.logger.error({ stage, count }, 'engine failed; running the flow\'s error path');
    this.toDialog({ type: 'error', reason: `${stage}: ${why}` });
    return 'error-path';
  }

  engineSucceeded(stage: 'stt' | 'tts'): void {
    this.engineErrors[stage] = 0;
  }

  speak(req: SayRequest, turn?: TurnTimeline): void {
    const player = this.player;
    if (!player || this.endReason) return;
    const hooks: SayHooks = turn
      ? {
          onRequest: (t) => (turn.ttsRequestMs = t),
          onFirstChunk: (t) => (turn.firstTtsAudioMs = t),
          onFirstFrame: (t) => {
            turn.firstAudioOutMs = t;
            this.turns.finish(turn, 'answered');
          },
        }
      : {};
    const done = player.say(req, hooks).then((o) => this.said(o, turn));
    this.syncBusy();
    this.armDeadline();
    this.track(done);
  }

  interrupt(): UtteranceOutcome[] {
    return this.player?.interrupt() ?? [];
  }

  botSpeaking(): boolean {
    return this.player?.speaking ?? false;
  }

  botIdle(): Promise<void> {
    return this.player?.idle() ?? Promise.resolve();
  }

  toDialog(event: DialogEvent | undefined, turn?: TurnTimeline): void {
    this.driver.send(event, turn);
  }

  finishTurn(turn: TurnTimeline, outcome: TurnTimeline['outcome']): void {
    this.turns.finish(turn, outcome);
  }

  // ---- lifecycle ----

  private async runCall(): Promise<CallSummary> {
    this.t0 = this.clock.now();
    this.record.start(this.now());
    this.io.on('dtmf', this.onDtmf);
    this.io.on('hangup', this.onHangup);
    this.maxCallTimer = this.clock.setTimeout(() => this.requestEnd('timeout', `the call reached its ${this.options.maxCallMs} ms limit`), this.options.maxCallMs);
    try {
      this.open();
      if (!this.endReason) {
        this.toDialog(undefined);
        await this.consumeFrames();
      }
    } catch (err) {
      this.fault('vad', err);
    }
    if (!this.endReason) this.requestEnd('caller_hangup', 'the transport ended the audio');
    await this.cleanup();
    return this.record.summary(this.now(), this.endReason as { reason: CallEndReason; detail?: string });
  }

  private open(): void {
    const { vad, denoiser, resampler } = this.engines;
    this.vadStream = vad.createStream();
    if (vad.sampleRate !== this.io.sampleRate) this.vadResampler = resampler.create(this.io.sampleRate, vad.sampleRate);
    this.denoise = denoiser?.createStream(this.io.sampleRate);
    this.player = new Player({
      io: this.io,
      tts: this.engines.tts,
      cache: this.engines.cache,
      clock: this.clock,
      origin: this.t0,
      maxAheadMs: this.options.maxAheadMs,
      onSpeaking: (speaking, atMs) => this.onBotSpeaking(speaking, atMs),
      onIdle: () => {
        this.syncBusy();
        this.armDeadline();
      },
    });
  }

  /**
   * `work`, or END as soon as the call ends. Not Promise.race with a promise of
   * the call's end: each race would leave a reaction on it until the call ends,
   * about 300 bytes per 20 ms frame, 15 kB a second of every call.
   */
  private unlessEnded<T>(work: Promise<T>): Promise<T | typeof END> {
    if (this.endReason) return Promise.resolve(END);
    return new Promise((resolve, reject) => {
      this.wakeOnEnd = () => resolve(END);
      work.then(resolve, reject);
    });
  }

  private async consumeFrames(): Promise<void> {
    const it = this.io.frames()[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = it.next();
        // A frame still awaited when the call ends is settled by the IO's close; only its failure needs catching.
        next.catch(() => undefined);
        const r = await this.unlessEnded(next);
        if (r === END || this.endReason || r.done) return;
        await this.onFrame(r.value);
      }
    } catch (err) {
      if (!this.endReason) {
        this.record.error('transport', err, this.now());
        this.requestEnd('transport_error', err instanceof Error ? err.message : String(err));
      }
    } finally {
      void it.return?.()?.catch(() => undefined);
    }
  }

  private async cleanup(): Promise<void> {
    this.clearDeadline();
    if (this.maxCallTimer !== undefined) this.clock.clearTimeout(this.maxCallTimer);
    this.maxCallTimer = undefined;
    this.io.off('dtmf', this.onDtmf);
    this.io.off('hangup', this.onHangup);
    const end = this.endReason as { reason: CallEndReason; detail?: string };
    try {
      const target = this.driver.transferTarget;
      await this.io.close(end.reason, target !== undefined ? { transferTarget: target } : undefined);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'closing the transport failed');
    }
    // Everything in flight saw the abort; give it a moment to unwind, and say so if it does not.
    const guard = new AbortController();
    const late = await Promise.race([
      Promise.allSettled([...this.tasks, this.botIdle()]).then(() => false),
      sleep(this.clock, UNWIND_MS, guard.signal).then(
        () => true,
        () => false,
      ),
    ]);
    guard.abort();
    if (late) this.logger.warn({ tasks: this.tasks.size }, `call tasks still running ${UNWIND_MS} ms after the call ended`);
    await this.driver.farewell(end.reason, Math.min(this.options.dialogTimeoutMs, FAREWELL_MS));
    await this.capture.close();
    this.vadStream?.close();
    this.vadResampler?.close();
    this.denoise?.close();
    this.turns.finishAll();
    this.record.end(this.now(), end.reason, end.detail);
  }

  // ---- audio and events in ----

  private async onFrame(frame: Frame): Promise<void> {
    assertFrame(frame, this.io.sampleRate, 'call session input');
    const atMs = this.now();
    let clean = frame;
    if (this.denoise) {
      try {
        clean = this.denoise.process(frame);
      } catch (err) {
        this.record.error('denoise', err, atMs);
      }
    }
    this.capture.push(clean, atMs);
    const vadIn = this.vadResampler ? { samples: this.vadResampler.process(clean.samples), sampleRate: this.engines.vad.sampleRate } : clean;
    let probability: number;
    try {
      probability = (await this.clock.track((this.vadStream as VadStream).process(vadIn))).probability;
    } catch (err) {
      this.fault('vad', err);
      return;
    }
    if (this.endReason) return;
    this.turns.handle(this.detector.frame(atMs, probability));
  }

  private readonly onDtmf = (digit: string): void => {
    if (this.endReason) return;
    const spec = this.detector.currentSpec;
    const accepted = spec !== undefined && spec.dtmf && !this.driver.winding;
    this.emit({ type: 'dtmf', digit, accepted });
    if (accepted) this.turns.dtmf(digit);
  };

  private readonly onHangup = (reason: CallEndReason): void => {
    this.requestEnd(reason || 'caller_hangup');
  };

  private onBotSpeaking(speaking: boolean, atMs: number): void {
    if (!speaking) this.turns.botStopped(atMs);
    this.emit({ type: 'bot-audio', phase: speaking ? 'start' : 'end' });
    this.syncBusy();
    this.turns.handle(this.detector.setBotSpeaking(speaking, atMs));
  }

  private said(o: UtteranceOutcome, turn: TurnTimeline | undefined): void {
    if (turn) this.turns.finish(turn, o.status === 'failed' ? 'failed' : 'answered');
    if (o.status === 'failed' && o.error && !this.endReason) this.engineFailure('tts', new PalabreError(o.error.code as PalabreError['code'], o.error.message));
    else if (o.status === 'played') this.engineSucceeded('tts');
    // What the caller heard goes in the transcript; an utterance dropped before any of it played does not.
    if (o.playedMs > 0) this.record.transcript('bot', o.text, this.now(), o.status === 'played' ? {} : { cut: true, heard: o.heard });
    this.syncBusy();
    this.armDeadline();
  }

  /** No-input waits while a turn is transcribed, the dialog thinks, or an answer is being synthesised. */
  private syncBusy(): void {
    const player = this.player;
    const preparing = player !== undefined && player.busy && !player.speaking;
    this.detector.setBusy(this.busyJobs > 0 || preparing, this.now());
  }

  private clearDeadline(): void {
    if (this.deadlineTimer !== undefined) this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.deadlineAt = undefined;
  }
}

export function createCallSession(args: CreateCallSessionArgs): CallSession {
  return new Session(args);
}
