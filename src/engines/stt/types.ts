import type { AudioChunk, Frame } from '../../audio/frame.js';

export interface SttWord {
  word: string;
  start: number; // seconds
  end: number;
  confidence?: number;
}

export interface SttSegment {
  id: number;
  start: number; // seconds
  end: number;
  text: string;
  confidence?: number;
  words?: SttWord[];
}

export interface SttResult {
  text: string;
  language: string;
  segments: SttSegment[];
  words?: SttWord[];
  /** Audio duration in seconds. */
  duration: number;
  confidence?: number;
  engine: string;
  /** Set when the degenerate-output guard flagged the text (same token repeated). */
  degenerate?: boolean;
}

export interface SttOptions {
  language?: string;
  /** Phrases likely in this answer; engines that can bias towards them do. */
  hints?: string[];
  /** A JSGF grammar constraining the answer, for engines that accept one. */
  grammar?: string;
  task?: 'transcribe' | 'translate';
  temperature?: number;
  /** Silence that ends a speech segment, for engines that endpoint themselves (Deepgram `endpointing`); 0 turns it off. */
  endpointingMs?: number;
  /** Gap after the last word that marks the end of an utterance, for engines that report it (Deepgram `utterance_end_ms`). */
  utteranceEndMs?: number;
  signal?: AbortSignal;
}

/**
 * `speech-started`: the engine heard speech begin (Deepgram `SpeechStarted`),
 * usable for barge-in; `at` is seconds into the stream's audio. Consumers that
 * do not use it ignore it.
 */
export type SttEvent = { type: 'partial'; text: string } | { type: 'final'; result: SttResult } | { type: 'speech-started'; at?: number };

export interface SttStream {
  /** Feed frames at the engine's `sampleRate`. */
  push(frame: Frame): void;
  /** Partial and final results as they come. */
  events(): AsyncIterable<SttEvent>;
  /** Ends input and resolves with the final result of the whole stream. */
  finish(): Promise<SttResult>;
  close(): void;
}

export interface Stt {
  readonly name: string;
  /** The rate audio must have; asserted on every call. */
  readonly sampleRate: number;
  readonly languages: readonly string[];
  readonly streaming: boolean;
  transcribe(audio: AudioChunk, options?: SttOptions): Promise<SttResult>;
  stream?(options?: SttOptions): SttStream;
  close(): Promise<void>;
}
