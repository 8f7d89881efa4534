import type { Token } from '../intents/normalize.js';

/** The original words covered by tokens `first`..`last` (inclusive). */
export function spanText(source: string, tokens: readonly Token[], first: number, last: number): string {
  return source.normalize('NFC').slice(tokens[first].start, tokens[last].end);
}
