import { PalabreError } from '../../errors.js';

/** Longest text one synthesize() call accepts; longer answers should be streamed sentence by sentence. */
export const DEFAULT_MAX_TEXT_CHARS = 10_000;

/** Collapses runs of whitespace (including newlines, which espeak would treat as clause ends) into one space. */
export function normaliseText(text: string): string {
  return text.replace(/\s+/gu, ' ').trim();
}

/** Checks text to speak and returns it normalised; empty or oversized text is refused with a reason. */
export function checkText(text: unknown, engine: string, maxChars: number = DEFAULT_MAX_TEXT_CHARS): string {
  if (typeof text !== 'string') {
    throw new PalabreError('bad_request', `${engine}: text to speak must be a string, got ${text === null ? 'null' : typeof text}`);
  }
  const clean = normaliseText(text);
  if (clean.length === 0) throw new PalabreError('bad_request', `${engine}: text to speak is empty`);
  if (clean.length > maxChars) {
    throw new PalabreError('payload_too_large', `${engine}: text to speak has ${clean.length} characters, more than the limit of ${maxChars}`, {
      details: { chars: clean.length, limit: maxChars },
    });
  }
  return clean;
}

/**
 * Splits after sentence-ending punctuation followed by a space, keeping the punctuation
 * (it drives the engines' intonation). Abbreviations may split too; for pause insertion
 * that only costs an extra pause.
 */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?…;:])\s+/u)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
