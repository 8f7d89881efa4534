/**
 * The contract between the call session (audio, turn-taking, engines) and the
 * dialog (flows). The dialog runtime is a state machine fed with events and
 * answering with outputs; it never touches audio, so it is tested without any.
 */
import type { SpeakingStyle } from '../engines/tts/types.js';

/** How the session decides that the caller has finished a turn. */
export type Endpointing =
  /** End of turn after this much silence following speech (500 ms for yes/no, 1200 ms for open answers). */
  | { mode: 'silence'; silenceMs: number }
  /** Keypad or spoken digits: the turn ends once `count` digits are collected (or on `terminator`, or after `interDigitMs`). */
  | { mode: 'digits'; count: number; interDigitMs: number; terminator?: string };

export interface BargeInPolicy {
  /** May the caller interrupt the bot while it speaks? When false, caller audio is not sent to STT while the bot speaks. */
  allowed: boolean;
  /** Caller speech must last this long before the bot stops. */
  minSpeechMs: number;
  /** Words the transcript must hold for an interruption to count; fewer (a cough) lets the bot resume or repeat. */
  minWords: number;
}

/** What the session does after speaking: how to listen for the next caller turn. */
export interface ListenSpec {
  endpointing: Endpointing;
  /** Speech shorter than this is ignored (a click, a breath). */
  minSpeechMs: number;
  /** A turn is cut at this length and handed to STT as is. */
  maxUtteranceMs: number;
  /** With no caller speech for this long after the bot finished speaking, the dialog gets a `no-input` event. */
  noInputMs: number;
  bargeIn: BargeInPolicy;
  /** Phrases likely in the answer (engines that can bias towards them do). */
  hints?: string[];
  /** Keypad input accepted in this state. */
  dtmf: boolean;
}

export interface RecordAction {
  type: 'save_record';
  /** Record kind chosen by the flow: ticket, lead, callback… */
  kind: string;
  /** Field values after interpolation of slots and variables. */
  data: Record<string, unknown>;
}
export interface WebhookAction {
  type: 'webhook';
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
  timeoutMs: number;
}
/** Side effects the session performs for the dialog; the result comes back as an `action-result` event. */
export type SideEffect = RecordAction | WebhookAction;

export type DialogOutput =
  /** Speak this text (already interpolated). `cacheable` is true for fixed prompts, which the phrase cache keeps. */
  | { type: 'say'; text: string; language: string; style?: SpeakingStyle; voice?: string; cacheable: boolean }
  /** Then listen for the caller with these settings. */
  | { type: 'listen'; spec: ListenSpec }
  /** Perform a side effect and report back with an `action-result` event carrying the same id. */
  | { type: 'effect'; id: string; effect: SideEffect }
  /** Hand the caller to a human (dialplan continue, extension, queue) once what was said has played. */
  | { type: 'transfer'; target?: string; reason: string }
  /** End the call once what was said has played. */
  | { type: 'hangup'; reason: string }
  /** For the timeline, the store and the metrics. */
  | { type: 'state'; from: string | null; to: string }
  | { type: 'intent'; intent: string | null; confidence: number; source: string; text: string; sentiment?: Sentiment }
  | { type: 'slot'; name: string; value: unknown; confidence: number };

export type DialogEvent =
  | { type: 'utterance'; text: string; confidence?: number; language?: string }
  | { type: 'dtmf'; digits: string }
  | { type: 'no-input' }
  /** The caller asked to hear the last prompt again, or a false barge-in cut it. */
  | { type: 'repeat' }
  | { type: 'action-result'; id: string; ok: boolean; data?: Record<string, unknown>; error?: string }
  /** The call's engines failed: the flow's error path runs (its `error` state, or a hang-up). */
  | { type: 'error'; reason: string }
  | { type: 'hangup'; reason: string };

export interface DialogSnapshot {
  flow: string;
  state: string;
  language: string;
  slots: Record<string, unknown>;
  variables: Record<string, unknown>;
  counters: Record<string, number>;
  ended: boolean;
  /** Records saved so far (tickets, leads…), in order. */
  records: Array<{ kind: string; data: Record<string, unknown> }>;
}

export interface DialogRuntime {
  /** Enters the flow's start state; returns what to say and how to listen. */
  start(early?: (outputs: DialogOutput[]) => void): Promise<DialogOutput[]>;
  /**
   * Feeds one event; returns the outputs it caused, in order. Outputs ready
   * before the dialog is done (the first sentences of a streamed model reply,
   * with the events and says before them) go to `early` as they come and are
   * not repeated in the result.
   */
  handle(event: DialogEvent, signal?: AbortSignal, early?: (outputs: DialogOutput[]) => void): Promise<DialogOutput[]>;
  snapshot(): DialogSnapshot;
}

/** One result of the intent chain. */
export interface IntentResult {
  /** null when nothing matched above the threshold: the flow's `unknown` path runs. */
  intent: string | null;
  confidence: number;
  /** Which step of the chain decided: local, embeddings, llm, dtmf. */
  source: string;
  /** Slots the classifier extracted on the way (the LLM classifier can). */
  slots?: Record<string, unknown>;
  /** The caller's mood in this turn, when the classifier reads it (the LLM classifier does). */
  sentiment?: Sentiment;
}

export const SENTIMENTS = ['positive', 'neutral', 'negative'] as const;
export type Sentiment = (typeof SENTIMENTS)[number];

export interface IntentDefinition {
  name: string;
  /** Example phrases per language. */
  examples: Record<string, string[]>;
  /** Words or phrases that alone point to this intent, per language. */
  keywords?: Record<string, string[]>;
  description?: string;
}

export interface IntentClassifier {
  /** Classifies `text` among `candidates` (intent names allowed in the current state, global ones included). */
  classify(text: string, options: { language: string; candidates: readonly string[]; signal?: AbortSignal }): Promise<IntentResult>;
}
