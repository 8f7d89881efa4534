/**
 * Word similarity that forgives what recognisers get wrong: one or two letters
 * ("walking" for "working", "connexion" for "connection"), plurals and
 * truncations ("propriétaire"/"propriétaires", "internet"/"internets").
 * Short words must match exactly: at four letters one edit is another word (mail, main).
 */

let rowA = new Int32Array(64);
let rowB = new Int32Array(64);

/** Edit distance, or `max + 1` as soon as it is certain to exceed `max`. */
export function boundedLevenshtein(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  if (b.length + 1 > rowA.length) {
    rowA = new Int32Array(b.length * 2 + 2);
    rowB = new Int32Array(b.length * 2 + 2);
  }
  // Two reused rows: this runs for every vocabulary word an unknown word is compared with.
  let prev = rowA;
  let cur = rowB;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = ca === b.charCodeAt(j - 1) ? 0 : 1;
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[b.length];
}

/** Below this, two words are unrelated. */
export const MIN_WORD_SIMILARITY = 0.7;

/**
 * 1 for the same word, 0.7–0.95 for a near miss, 0 otherwise. Numbers match only exactly
 * (a misheard digit is a different answer, not a typo).
 */
export function wordSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  if (a.length < 5 || b.length < 5 || /\d/.test(a) || /\d/.test(b)) return 0;
  return letterSimilarity(a, b);
}

/** {@link wordSimilarity} for two different words of five letters or more, without digits (the caller checked). */
export function letterSimilarity(a: string, b: string): number {
  const shorter = a.length <= b.length ? a : b;
  const longer = a.length <= b.length ? b : a;
  const maxEdits = longer.length <= 5 ? 1 : 2;
  const d = boundedLevenshtein(a, b, maxEdits);
  let sim = d <= maxEdits ? 1 - d / longer.length : 0;
  // A truncated word ("factur", "internets") is usually the same word cut by the recogniser or the speaker.
  if (longer.startsWith(shorter)) sim = Math.max(sim, 0.8);
  return sim >= MIN_WORD_SIMILARITY ? Math.min(sim, 0.95) : 0;
}
