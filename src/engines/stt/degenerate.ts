/**
 * Guard against degenerate recogniser output: the loops that Whisper-family
 * decoders fall into on silence, noise or music ("thank you thank you thank
 * you…", "aaaaaaaaaaaa", one word forty times). Such text must not reach a
 * dialog as if the caller had said it.
 */
import type { SttResult } from './types.js';

export interface DegenerateOptions {
  /** The same word repeated this many times in a row is degenerate. Default 6 (config `degenerateMaxRepeats`). */
  maxRepeats?: number;
  /** A run of one non-digit character this long is degenerate. Default 10. */
  maxCharRun?: number;
  /** Longest phrase (in words) looked for as a repeating loop. Default 10. */
  maxLoopWords?: number;
}

export interface DegenerateCheck {
  degenerate: boolean;
  /** Why, in words a log reader understands: 'word "no" repeated 7 times'. */
  reason?: string;
}

export const DEFAULT_MAX_REPEATS = 6;
export const DEFAULT_MAX_CHAR_RUN = 10;
export const DEFAULT_MAX_LOOP_WORDS = 10;
/**
 * A phrase of two or more words must come back at least this often before it
 * counts as a loop: "thank you, thank you" is polite, a third time in a row
 * with nothing between is what a stuck decoder does.
 */
const MIN_LOOP_REPEATS = 3;

const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;
const DIGITS = /^\p{N}+$/u;

function tokens(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []) as string[];
}

function longestCharRun(text: string): { char: string; length: number } {
  let best = { char: '', length: 0 };
  let prev = '';
  let run = 0;
  // Spread by code point so a run of an accented or CJK character counts once per character.
  for (const ch of text) {
    if (ch === prev) run++;
    else {
      prev = ch;
      run = 1;
    }
    // Digits are excluded: "1000000000" or an account number of zeros is real speech.
    if (run > best.length && !/\s|\p{N}/u.test(ch)) best = { char: ch, length: run };
  }
  return best;
}

/** How many times `words[start .. start+n)` repeats back to back from `start`. */
function repeatsAt(words: string[], start: number, n: number): number {
  let k = 1;
  for (;;) {
    const next = start + k * n;
    if (next + n > words.length) return k;
    for (let i = 0; i < n; i++) if (words[next + i] !== words[start + i]) return k;
    k++;
  }
}

export function checkDegenerate(text: string, options: DegenerateOptions = {}): DegenerateCheck {
  const maxRepeats = Math.max(2, options.maxRepeats ?? DEFAULT_MAX_REPEATS);
  const maxCharRun = Math.max(3, options.maxCharRun ?? DEFAULT_MAX_CHAR_RUN);
  const maxLoopWords = Math.max(1, options.maxLoopWords ?? DEFAULT_MAX_LOOP_WORDS);

  const run = longestCharRun(text);
  if (run.length >= maxCharRun) {
    return { degenerate: true, reason: `character "${run.char}" repeated ${run.length} times in a row` };
  }

  const words = tokens(text);
  for (let start = 0; start < words.length; start++) {
    for (let n = 1; n <= maxLoopWords && start + 2 * n <= words.length; n++) {
      const k = repeatsAt(words, start, n);
      if (k < 2) continue;
      if (n === 1) {
        // Spoken digit strings legitimately repeat ("1 1 1 1 1 1" is a phone number), so digits need twice as many.
        const limit = DIGITS.test(words[start]) ? 2 * maxRepeats : maxRepeats;
        if (k >= limit) return { degenerate: true, reason: `word "${words[start]}" repeated ${k} times in a row` };
      } else if (k >= Math.max(MIN_LOOP_REPEATS, Math.ceil(maxRepeats / n))) {
        // A phrase made of one repeated word ("no no") is the single-word case, already judged above.
        if (new Set(words.slice(start, start + n)).size === 1) continue;
        return { degenerate: true, reason: `phrase "${words.slice(start, start + n).join(' ')}" repeated ${k} times in a row` };
      }
    }
  }
  return { degenerate: false };
}

export type DegenerateAction = 'flag' | 'drop';

export interface DegenerateGuardOptions extends DegenerateOptions {
  /** flag: keep the text and set `degenerate`; drop: empty the text, segments and words. */
  action: DegenerateAction;
}

/** Applies the guard to a result; a clean result comes back unchanged (same object). */
export function applyDegenerateGuard(result: SttResult, options: DegenerateGuardOptions): SttResult {
  const check = checkDegenerate(result.text, options);
  if (!check.degenerate) return result;
  if (options.action === 'drop') {
    return { ...result, text: '', segments: [], words: result.words ? [] : undefined, confidence: undefined, degenerate: true };
  }
  return { ...result, degenerate: true };
}
