/**
 * Phrase lexicons written in plain text ("c'est ça", "I don't think so") and
 * matched against normalised tokens. Lexicons go through the same tokenizer as
 * transcripts, so a lexicon entry never has to be written in canonical form.
 */
import { tokenize } from './normalize.js';

export interface PhraseMatch<T> {
  /** Token index of the first word and one past the last. */
  start: number;
  end: number;
  payload: T;
}

export interface PhraseSet<T> {
  /** Phrases by first token, longest first. */
  readonly byFirst: ReadonlyMap<string, ReadonlyArray<{ words: string[]; payload: T }>>;
}

export function compilePhrases<T>(entries: Iterable<readonly [string, T]>, language: string): PhraseSet<T> {
  const byFirst = new Map<string, Array<{ words: string[]; payload: T }>>();
  for (const [text, payload] of entries) {
    const words = tokenize(text, { language }).map((t) => t.norm);
    if (words.length === 0) continue;
    const list = byFirst.get(words[0]) ?? [];
    list.push({ words, payload });
    byFirst.set(words[0], list);
  }
  for (const list of byFirst.values()) list.sort((a, b) => b.words.length - a.words.length);
  return { byFirst };
}

/** The longest phrase starting at token `i`, if any. */
export function phraseAt<T>(tokens: readonly string[], i: number, set: PhraseSet<T>): PhraseMatch<T> | null {
  const list = set.byFirst.get(tokens[i]);
  if (!list) return null;
  for (const { words, payload } of list) {
    if (i + words.length > tokens.length) continue;
    let ok = true;
    for (let k = 1; k < words.length; k++) {
      if (tokens[i + k] !== words[k]) {
        ok = false;
        break;
      }
    }
    if (ok) return { start: i, end: i + words.length, payload };
  }
  return null;
}

/** Non-overlapping matches, scanning left to right and taking the longest phrase at each position. */
export function matchPhrases<T>(tokens: readonly string[], set: PhraseSet<T>): Array<PhraseMatch<T>> {
  const out: Array<PhraseMatch<T>> = [];
  for (let i = 0; i < tokens.length; ) {
    const m = phraseAt(tokens, i, set);
    if (m) {
      out.push(m);
      i = m.end;
    } else i++;
  }
  return out;
}
