/**
 * The call session's public types (its engines, options and handle), and
 * SessionCore: what the parts of a session (turn handling, the dialog driver)
 * share: the call's clock, signal, record and detector, and the few actions
 * they ask of each other. The session implements it; the parts never reach past it.
 */
import type { ResamplerFactory } from '../audio/resample.js';
import type { Denoiser } from '../engines/denoise/types.js';
import type { Stt } from '../engines/stt/types.js';
import type { PhraseCache } from '../engines/tts/phrase-cache.js';
import type { Tts } from '../engines/tts/types.js';
import type { Vad } from '../engines/vad/types.js';
import type { DialogEvent, DialogRuntime, ListenSpec } from '../dialog/types.js';
import type { Logger } from '../log.js';
import type { Clock } from './clock.js';
import type { EffectHandler } from './effects.js';
import type { CallEvent, CallEventBody, CallSummary, EngineStage, TurnTimeline } from './events.js';
import type { CallEndReason, CallIO } from './io.js';
import type { SayRequest, UtteranceOutcome } from './player.js';
import type { SessionRecord } from './record.js';
import type { TurnDetector, TurnTakingOptions } from './turn-taking.js';

export interface SessionEngines {
  vad: Vad;
  stt: Stt;
  tts: Tts;
  cache: PhraseCache;
  denoiser?: Denoiser;
  resampler: ResamplerFactory;
  /** Said when the bot's voice fails: rendered into the phrase cache's static tier at start-up, so it plays without the TTS. */
  apology?: { text: string; language: string };
}

export interface CallSessionOptions {
  /** How to listen until the dialog says (default: defaultListen()). */
  defaultListen?: ListenSpec;
  turnTaking?: TurnTakingOptions;
  /** Caller audio kept from before the detected speech start (default 300 ms). */
  prerollMs?: number;
  /** Stream frames to the STT while the caller speaks when the engine can (default true). */
  sttStreaming?: boolean;
  /** Longest wait for a transcript after the end of a turn (default 20 s). */
  sttTimeoutMs?: number;
  /** Longest wait for the dialog to answer one event (default 30 s). */
  dialogTimeoutMs?: number;
  /** The call is ended with reason 'timeout' after this long (default 1 h). */
  maxCallMs?: number;
  /** STT (or TTS) failures in a row after which the call ends with reason 'error' (default 3). */
  maxEngineErrors?: number;
  /** How far speech synthesis may run ahead of playout (default 3000 ms). */
  maxAheadMs?: number;
  /** Performs the dialog's side effects (default: records kept in the summary, webhooks with fetch). */
  effects?: EffectHandler;
}

export interface CreateCallSessionArgs {
  io: CallIO;
  dialog: DialogRuntime;
  engines: SessionEngines;
  language: string;
  logger: Logger;
  /** Time source shared with the IO (a FastClock for tests and simulation); real time by default. */
  clock?: Clock;
  options?: CallSessionOptions;
}

export interface CallSession {
  readonly id: string;
  /** Runs the call to its end; never rejects (a failure ends the call with reason 'error'). */
  run(): Promise<CallSummary>;
  /** Ends the call from outside (operator, shutdown); resolves once it has ended. */
  end(reason: CallEndReason, detail?: string): Promise<void>;
  on(event: 'event', listener: (e: CallEvent) => void): void;
  off(event: 'event', listener: (e: CallEvent) => void): void;
  /** Adds an event from outside the session's own parts (an engine chain's fallback); ignored once the call has ended. */
  report(event: CallEventBody): void;
}


export interface ResolvedSessionOptions {
  prerollMs: number;
  sttStreaming: boolean;
  sttTimeoutMs: number;
  dialogTimeoutMs: number;
  maxCallMs: number;
  maxEngineErrors: number;
  maxAheadMs: number;
}

export interface SessionCore {
  readonly id: string;
  readonly language: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly record: SessionRecord;
  readonly detector: TurnDetector;
  /** Aborted when the call ends. */
  readonly signal: AbortSignal;
  readonly options: ResolvedSessionOptions;
  /** How to listen when the dialog has not said. */
  readonly fallbackListen: ListenSpec;
  /** Ms since the call started. */
  now(): number;
  /** True once the call is ending: nothing new should start. */
  ending(): boolean;
  emit(event: CallEventBody): void;
  /** Keeps `work` in the set the end of the call waits for; returns it. */
  track<T>(work: Promise<T>): Promise<T>;
  /** `work`, bounded by `ms` and by the end of the call. */
  withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T>;
  /** A turn is being transcribed or the dialog is thinking (+1), or done (-1): no-input waits meanwhile. */
  setBusy(delta: number): void;
  /** Re-arms the turn detector's next deadline after anything that may have moved it. */
  armDeadline(): void;
  requestEnd(reason: CallEndReason, detail?: string): void;
  /** A failure the call cannot go on with. */
  fault(stage: EngineStage, err: unknown): void;
  /** An engine failure: 'retry' (ask the caller again) or 'error-path' (the dialog was sent down its error path). */
  engineFailure(stage: 'stt' | 'tts', err: unknown): 'retry' | 'error-path';
  engineSucceeded(stage: 'stt' | 'tts'): void;
  /** Queues bot speech; `turn` gets its reply timings. */
  speak(req: SayRequest, turn?: TurnTimeline): void;
  /** Stops the bot now (barge-in). */
  interrupt(): UtteranceOutcome[];
  botSpeaking(): boolean;
  /** Resolves once the bot has nothing left to say. */
  botIdle(): Promise<void>;
  /** Feeds the dialog one event (undefined: start it); answers are applied in order. */
  toDialog(event: DialogEvent | undefined, turn?: TurnTimeline): void;
  /** Records a turn's timeline (once). */
  finishTurn(turn: TurnTimeline, outcome: TurnTimeline['outcome']): void;
}
