import { PalabreError } from '../../errors.js';
import type { VadEvent, VadOptions } from './types.js';

/** Same defaults as `engines.vad` in config.ts, for callers that pass no options. */
export const DEFAULT_VAD_OPTIONS: Readonly<VadOptions> = { threshold: 0.5, minSpeechMs: 250, minSilenceMs: 300 };

/**
 * Speech needs `threshold` to start but only `threshold - STAY_MARGIN` to
 * continue, as Silero's own VADIterator does: a probability that wobbles
 * around the threshold inside a word must not end the region.
 */
export const STAY_MARGIN = 0.15;

export function resolveVadOptions(options: Partial<VadOptions> | undefined): VadOptions {
  const o: VadOptions = { ...DEFAULT_VAD_OPTIONS, ...stripUndefined(options ?? {}) };
  if (!(o.threshold >= 0 && o.threshold <= 1)) {
    throw new PalabreError('bad_request', `VAD threshold must be between 0 and 1, got ${o.threshold}`);
  }
  for (const key of ['minSpeechMs', 'minSilenceMs'] as const) {
    if (!(Number.isFinite(o[key]) && o[key] >= 0)) {
      throw new PalabreError('bad_request', `VAD ${key} must be a number of ms ≥ 0, got ${o[key]}`);
    }
  }
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

type State = 'idle' | 'pending' | 'speaking';

/**
 * Hysteresis over per-window speech probabilities, shared by every VAD engine
 * so that Silero and WebRTC cut turns by the same rules.
 *
 * - idle → pending when a window reaches `threshold`; the region starts at that window.
 * - pending → speaking (event `speech-start`, atMs = where it began) once the
 *   region has lasted `minSpeechMs` and the current window is still speech.
 * - A window below the stay threshold opens a silence; `minSilenceMs` of it ends
 *   the region (`speech-end` at the start of the silence) or, if the region was
 *   never confirmed, drops it without an event (a click, a cough).
 */
export class Segmenter {
  private readonly enter: number;
  private readonly stay: number;
  private state: State = 'idle';
  private startMs = 0;
  /** Start of the current run of non-speech windows inside a region; -1 when none. */
  private silenceMs = -1;

  constructor(private readonly options: VadOptions) {
    this.enter = options.threshold;
    this.stay = Math.max(0, options.threshold - STAY_MARGIN);
  }

  get speaking(): boolean {
    return this.state === 'speaking';
  }

  /** Feeds the probability of the window [atMs, atMs + windowMs); returns the events it causes. */
  push(probability: number, atMs: number, windowMs: number): VadEvent[] {
    const endMs = atMs + windowMs;
    if (this.state === 'idle') {
      if (probability < this.enter) return [];
      this.state = 'pending';
      this.startMs = atMs;
      this.silenceMs = -1;
      return this.confirm(endMs);
    }
    if (probability >= this.stay) {
      this.silenceMs = -1;
      return this.state === 'pending' ? this.confirm(endMs) : [];
    }
    if (this.silenceMs < 0) this.silenceMs = atMs;
    if (endMs - this.silenceMs < this.options.minSilenceMs) return [];
    const wasSpeaking = this.state === 'speaking';
    const end = this.silenceMs;
    this.state = 'idle';
    this.silenceMs = -1;
    return wasSpeaking ? [{ type: 'speech-end', atMs: end, durationMs: end - this.startMs }] : [];
  }

  /** Ends the stream at `atMs`: closes an open region (offline use, where the audio simply stops). */
  finish(atMs: number): VadEvent[] {
    const wasSpeaking = this.state === 'speaking';
    const end = this.silenceMs >= 0 ? this.silenceMs : atMs;
    this.reset();
    return wasSpeaking ? [{ type: 'speech-end', atMs: end, durationMs: end - this.startMs }] : [];
  }

  reset(): void {
    this.state = 'idle';
    this.startMs = 0;
    this.silenceMs = -1;
  }

  private confirm(endMs: number): VadEvent[] {
    if (endMs - this.startMs < this.options.minSpeechMs) return [];
    this.state = 'speaking';
    return [{ type: 'speech-start', atMs: this.startMs }];
  }
}
