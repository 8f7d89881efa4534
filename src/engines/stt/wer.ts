/**
 * Scoring of transcripts against references: word error rate and normalised
 * character edit distance, after the same normalisation on both sides so that
 * case, punctuation and "1" versus "one" do not count as errors.
 */

const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

export interface NormalizeOptions {
  /** Spell lone digits 0–9 as English words ("press 1" → "press one"). Default true. */
  spellDigits?: boolean;
}

export function normalizeWords(text: string, options: NormalizeOptions = {}): string[] {
  const spell = options.spellDigits ?? true;
  const words = (text.toLowerCase().replace(/[-_/]/g, ' ').match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? []) as string[];
  return words.map((w) => (spell && /^\d$/.test(w) ? DIGIT_WORDS[Number(w)] : w.replace(/’/g, "'")));
}

function editDistance<T>(a: readonly T[], b: readonly T[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** (substitutions + deletions + insertions) / reference words; 0 for two empty texts, 1 per word against an empty reference. */
export function wordErrorRate(reference: string, hypothesis: string, options?: NormalizeOptions): number {
  const ref = normalizeWords(reference, options);
  const hyp = normalizeWords(hypothesis, options);
  if (ref.length === 0) return hyp.length === 0 ? 0 : hyp.length;
  return editDistance(ref, hyp) / ref.length;
}

/** Character edit distance of the normalised texts divided by the longer length: 0 identical, 1 nothing in common. */
export function normalizedEditDistance(reference: string, hypothesis: string, options?: NormalizeOptions): number {
  const a = [...normalizeWords(reference, options).join(' ')];
  const b = [...normalizeWords(hypothesis, options).join(' ')];
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 0 : editDistance(a, b) / longest;
}
