import type { Frame } from '../../audio/frame.js';

export interface VadOptions {
  /** Speech probability above which a window counts as speech (Silero), 0..1. */
  threshold: number;
  /** Speech shorter than this is not reported (a click, a cough). */
  minSpeechMs: number;
  /** Silence shorter than this does not end a speech region. */
  minSilenceMs: number;
}

export type VadEvent =
  /** `atMs` is the stream time (ms since the stream started) where speech began. */
  | { type: 'speech-start'; atMs: number }
  | { type: 'speech-end'; atMs: number; durationMs: number };

export interface VadFrameResult {
  /** Probability of speech for the latest analysed window (0..1); WebRTC VAD gives 0 or 1. */
  probability: number;
  /** True while inside a speech region (after min-speech confirmation, until min-silence). */
  speaking: boolean;
  events: VadEvent[];
}

/** Per-call state; the heavy model is shared by the Vad that created it. */
export interface VadStream {
  /** Feed one frame at the VAD's `sampleRate` (any length; windows are buffered internally). */
  process(frame: Frame): Promise<VadFrameResult>;
  reset(): void;
  close(): void;
}

export interface Vad {
  readonly name: string;
  /** The rate frames must have; asserted on every call. */
  readonly sampleRate: number;
  createStream(options?: Partial<VadOptions>): VadStream;
  close(): Promise<void>;
}
