/**
 * Turns what the PocketSphinx decoder reports (tokens with 10 ms frame spans,
 * fillers and alternate-pronunciation markers included) into an SttResult.
 */
import type { RawDecode, RawWord } from './pocketsphinx-ffi.js';
import type { SttResult, SttSegment, SttWord } from './types.js';

/** Seconds per decoder frame (-frate 100). */
export const FRAME_SECONDS = 0.01;

/** Sentence markers, silence, noise fillers and the grammar search's null transitions. */
export function isFiller(word: string): boolean {
  return /^<.*>$/.test(word) || /^\[.*\]$/.test(word) || /^\+\+.*\+\+$/.test(word) || word === '(NULL)' || word === '';
}

/** "read(2)" → "read": the dictionary's alternate pronunciations are one word to a reader. */
export function baseWord(word: string): string {
  return word.replace(/\(\d+\)$/, '');
}

/** A hypothesis string with fillers and pronunciation markers removed. */
export function cleanHypothesis(hyp: string): string {
  return hyp
    .split(/\s+/)
    .filter((w) => !isFiller(w))
    .map(baseWord)
    .join(' ');
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function mean(values: number[]): number | undefined {
  return values.length === 0 ? undefined : round(values.reduce((a, b) => a + b, 0) / values.length, 4);
}

function confidenceOf(w: RawWord): number | undefined {
  if (w.prob === undefined || Number.isNaN(w.prob)) return undefined;
  // Posteriors can underflow to 0 in double precision; a reported word keeps a small, non-zero confidence.
  return round(Math.min(1, Math.max(w.prob, 1e-4)), 4);
}

export interface ResultOptions {
  /** A pause at least this long (seconds) starts a new segment. */
  segmentPause: number;
  engine?: string;
}

export function toSttResult(raw: RawDecode, durationSeconds: number, options: ResultOptions): SttResult {
  const segments: SttSegment[] = [];
  const words: SttWord[] = [];
  let current: SttWord[] = [];

  const close = (): void => {
    if (current.length === 0) return;
    const confs = current.map((w) => w.confidence).filter((c): c is number => c !== undefined);
    segments.push({
      id: segments.length,
      start: current[0].start,
      end: current[current.length - 1].end,
      text: current.map((w) => w.word).join(' '),
      confidence: mean(confs),
      words: current,
    });
    current = [];
  };

  for (const token of raw.words) {
    const start = round(token.startFrame * FRAME_SECONDS, 2);
    const end = round(Math.min((token.endFrame + 1) * FRAME_SECONDS, durationSeconds), 2);
    // Silence and noise fill the time between words, so the gap between two real words is the pause.
    if (isFiller(token.word)) continue;
    const prev = current[current.length - 1];
    if (prev && start - prev.end >= options.segmentPause) close();
    const word: SttWord = { word: baseWord(token.word), start, end: Math.max(end, start) };
    const confidence = confidenceOf(token);
    if (confidence !== undefined) word.confidence = confidence;
    current.push(word);
    words.push(word);
  }
  close();

  const text = words.length > 0 ? words.map((w) => w.word).join(' ') : cleanHypothesis(raw.hyp);
  const confs = words.map((w) => w.confidence).filter((c): c is number => c !== undefined);
  return {
    text,
    language: 'en',
    segments,
    words,
    duration: round(durationSeconds, 3),
    confidence: mean(confs),
    engine: options.engine ?? 'pocketsphinx',
  };
}
