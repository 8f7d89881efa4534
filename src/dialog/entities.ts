/**
 * Flow-defined slot types ("entities"): a closed list of values, each with
 * synonyms per language ("fioul", "mazout" → fioul). Matched on the same
 * normalised words as intents, with single words forgiven a recogniser's slip.
 */
import { type PhraseSet, compilePhrases, matchPhrases } from './intents/phrases.js';
import { wordSimilarity } from './intents/fuzzy.js';
import { tokenize } from './intents/normalize.js';
import type { EntityDefinition } from './schema.js';

export interface EntityMatch {
  value: string;
  confidence: number;
  /** The caller's words. */
  text: string;
}

export interface EntityMatcher {
  match(text: string): EntityMatch | null;
}

/** A second, different value named in the same answer ("gaz ou fioul") makes the answer less certain. */
const AMBIGUOUS_CONFIDENCE = 0.55;
const FUZZY_FACTOR = 0.9;

export function createEntityMatcher(entity: EntityDefinition, language: string): EntityMatcher {
  const entries: Array<[string, string]> = [];
  const singleWords: Array<[string, string]> = [];
  for (const [value, synonyms] of Object.entries(entity.values)) {
    const list = synonyms[language as keyof typeof synonyms] ?? [];
    for (const phrase of list) {
      entries.push([phrase, value]);
      const words = tokenize(phrase, { language }).map((t) => t.norm);
      if (words.length === 1) singleWords.push([words[0], value]);
    }
  }
  const phrases: PhraseSet<string> = compilePhrases(entries, language);

  return {
    match(text) {
      const source = text.normalize('NFC');
      const tokens = tokenize(source, { language });
      const norms = tokens.map((t) => t.norm);
      const found = matchPhrases(norms, phrases);
      if (found.length > 0) {
        const first = found[0];
        const distinct = new Set(found.map((m) => m.payload));
        return {
          value: first.payload,
          confidence: distinct.size > 1 ? AMBIGUOUS_CONFIDENCE : 1,
          text: source.slice(tokens[first.start].start, tokens[first.end - 1].end),
        };
      }
      let best: EntityMatch | null = null;
      tokens.forEach((token) => {
        for (const [word, value] of singleWords) {
          const similarity = wordSimilarity(token.norm, word);
          if (similarity > 0 && (!best || similarity * FUZZY_FACTOR > best.confidence)) {
            best = { value, confidence: Math.round(similarity * FUZZY_FACTOR * 1000) / 1000, text: source.slice(token.start, token.end) };
          }
        }
      });
      return best;
    },
  };
}
