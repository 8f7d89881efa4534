/**
 * What a call reports as it runs, for the store, the metrics and the browser
 * demo. Every event is plain JSON (no Dates, no typed arrays, no errors) and
 * carries the call id and `atMs`, milliseconds since the call started on the
 * session's clock.
 */
import type { CallCost, EngineUsage } from '../engines/usage.js';
import type { CallEndReason } from './io.js';

export type EngineStage = 'vad' | 'denoise' | 'stt' | 'tts' | 'dialog' | 'effect' | 'transport';

/**
 * One caller turn and the bot's answer, in ms since the call started. A field
 * is absent when its step did not happen (a DTMF turn has no speech, a turn
 * the dialog answered without speaking has no audio out).
 */
export interface TurnTimeline {
  turn: number;
  kind: 'speech' | 'dtmf' | 'no-input';
  /** Caller speech as the VAD heard it. */
  speechStartMs?: number;
  speechEndMs?: number;
  /** When turn-taking decided the caller was done. */
  endOfTurnMs: number;
  /** inter-digit: the pause after the last key (interDigitMs in digits mode, silenceMs otherwise). */
  endReason: 'silence' | 'max-length' | 'count' | 'terminator' | 'inter-digit' | 'no-input';
  /** STT asked for its final (finish() of a stream, or the batch request). */
  sttStartMs?: number;
  sttFinalMs?: number;
  text?: string;
  /** The dialog was handed the turn, returned (with its intent, when it named one). */
  dialogStartMs?: number;
  intentMs?: number;
  intent?: string | null;
  dialogDoneMs?: number;
  /** The answer's speech was asked of the phrase cache, its first audio came back, its first frame went out. */
  ttsRequestMs?: number;
  firstTtsAudioMs?: number;
  firstAudioOutMs?: number;
  /** The turn interrupted the bot: when that was detected and the bot's audio was cleared. */
  bargeIn?: { detectedAtMs: number; stoppedAtMs: number; genuine?: boolean };
  /** How the turn ended up: answered by the dialog, resumed after a false interruption, or dropped. */
  outcome: 'answered' | 'false-interruption' | 'empty' | 'collecting-digits' | 'failed' | 'cancelled';
}

interface Base {
  callId: string;
  atMs: number;
}

/** An event before the session stamps it with the call id and time. */
export type CallEventBody =
  | { type: 'call-started'; language: string; startedAt: string }
  | { type: 'call-ended'; reason: CallEndReason; detail?: string; endedAt: string; durationMs: number }
  | { type: 'state'; from: string | null; to: string }
  | { type: 'intent'; intent: string | null; confidence: number; source: string; text: string; sentiment?: 'positive' | 'neutral' | 'negative' }
  | { type: 'slot'; name: string; value: unknown; confidence: number }
  /** A caller line (STT final) or a bot line (once played, or cut: then `heard` is what was actually played). */
  | { type: 'transcript'; role: 'caller' | 'bot'; text: string; turn?: number; cut?: boolean; heard?: string; confidence?: number }
  /** A partial hypothesis of a streaming STT while the caller speaks. */
  | { type: 'partial'; turn: number; text: string }
  | { type: 'speech'; phase: 'start'; startMs: number }
  | { type: 'speech'; phase: 'end'; startMs: number; endMs: number; reason: 'silence' | 'max-length' }
  | { type: 'speech-ignored'; startMs: number; endMs: number; reason: 'too-short' | 'bot-speaking' | 'no-words' }
  | { type: 'bot-audio'; phase: 'start' | 'end' }
  /**
   * 'detected': the bot was cut (reactionMs = from detection to audio cleared).
   * 'confirmed': the transcript had enough words. 'false': it had not, the bot resumes.
   */
  | { type: 'barge-in'; outcome: 'detected' | 'confirmed' | 'false'; turn: number; speechStartMs: number; reactionMs?: number; heard?: string; text?: string; resumed?: string }
  | { type: 'dtmf'; digit: string; accepted: boolean }
  | { type: 'no-input'; count: number }
  | { type: 'effect'; id: string; kind: 'save_record' | 'webhook'; ok: boolean; durationMs: number; error?: string }
  | { type: 'record'; kind: string; data: Record<string, unknown> }
  | { type: 'error'; stage: EngineStage; code: string; message: string }
  /** An engine of a fallback chain failed (or was skipped, its breaker open) and the next one took over. */
  | { type: 'fallback'; stage: 'stt' | 'tts'; from: string; to: string; reason: string }
  | { type: 'turn'; timeline: TurnTimeline };

export type CallEvent = Base & CallEventBody;

export type CallEventType = CallEvent['type'];

export interface TranscriptLine {
  role: 'caller' | 'bot';
  text: string;
  atMs: number;
  turn?: number;
  cut?: boolean;
  heard?: string;
}

export interface CallSummary {
  id: string;
  language: string;
  /** ISO times. */
  startedAt: string;
  endedAt: string;
  durationMs: number;
  endReason: CallEndReason;
  endDetail?: string;
  transcript: TranscriptLine[];
  /** Dialog states in the order they were entered. */
  states: string[];
  records: Array<{ kind: string; data: Record<string, unknown> }>;
  turns: TurnTimeline[];
  bargeIns: { total: number; false: number };
  errors: Array<{ stage: EngineStage; code: string; message: string; atMs: number }>;
  /** What the call used of each engine (set by the call factory). */
  usage?: EngineUsage[];
  /** The usage priced with the configured table, when there is one. */
  cost?: CallCost;
}
