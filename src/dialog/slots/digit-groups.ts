/**
 * Codes dictated in groups: "soixante-quinze zéro zéro un", "zéro six douze
 * trente-quatre…", "five five five, double two, oh one". A run of number words
 * is cut into groups every way the words allow; each way gives a digit string,
 * and the slot (zip code, phone number, digits) keeps the strings of the length
 * and shape it expects. Splitting words that belong together ("quatre | vingt",
 * "vingt | deux") counts against a reading; splitting before "cent"/"mille" or
 * after "hundred" does not, because that is how codes are said ("treize cent"
 * for 13100, "one eight hundred, five five five…").
 */
import { FILLERS } from '../intents/normalize.js';
import { digitValue, isNumberToken, isScaleWord, readNumbers, type Lang, type Reading } from './number-words.js';

export interface NumericRun {
  /** Number words and digit strings with connectors, fillers removed. */
  tokens: string[];
  /** Index of each run token among the utterance's tokens. */
  index: number[];
}

const HESITATIONS = new Set(['euh', 'heu', 'hum', 'hmm', 'hm', 'um', 'uh', 'uhm', 'er', 'erm', 'ben', 'bah', 'alors', 'donc', 'so', 'puis', 'then']);

/**
 * Maximal stretches of numbers in the utterance. Homophones ("to", "for", "vin") join a run only
 * between two numbers; hesitations and "et"/"and" are skipped inside a run.
 */
export function numericRuns(tokens: readonly string[], lang: Lang, options: { sequence: boolean }): NumericRun[] {
  const strong = tokens.map((t) => isNumberToken(t, lang, false) || (options.sequence && lang === 'en' && (t === 'oh' || t === 'o')));
  const member = strong.slice();
  for (let i = 0; i < tokens.length; i++) {
    if (member[i]) continue;
    const t = tokens[i];
    const prev = i > 0 && strong[i - 1];
    const next = i + 1 < tokens.length && strong[i + 1];
    if (options.sequence && prev && next && isNumberToken(t, lang, true)) member[i] = true;
    else if ((t === 'double' || t === 'triple') && next && options.sequence) member[i] = true;
    else if (t === 'a' && lang === 'en' && isScaleWord(tokens[i + 1], lang)) member[i] = true;
    else if (t === 'et' && prev && (tokens[i + 1] === 'un' || tokens[i + 1] === 'une' || tokens[i + 1] === 'onze')) member[i] = true;
    else if (t === 'and' && prev && next && isScaleWord(tokens[i - 1], lang)) member[i] = true;
  }
  const runs: NumericRun[] = [];
  let cur: NumericRun | null = null;
  for (let i = 0; i < tokens.length; i++) {
    if (member[i]) {
      if (!cur) runs.push((cur = { tokens: [], index: [] }));
      cur.tokens.push(tokens[i]);
      cur.index.push(i);
      continue;
    }
    // A hesitation or a comma-like filler between two numbers does not end the run.
    if (cur && (HESITATIONS.has(tokens[i]) || FILLERS.has(tokens[i]))) {
      let j = i;
      while (j < tokens.length && !member[j] && (HESITATIONS.has(tokens[j]) || FILLERS.has(tokens[j]))) j++;
      if (j < tokens.length && member[j]) {
        i = j - 1;
        continue;
      }
    }
    cur = null;
  }
  // Keep "et"/"and"/"a" only where they connect number words.
  return runs.filter((r) => r.tokens.some((t, k) => strong[r.index[k]]));
}

export interface DigitCandidate {
  digits: string;
  /** Run token range the digits come from. */
  start: number;
  end: number;
  groups: number;
  /** Splits between words that belong together. */
  unnatural: number;
}

interface Group {
  digits: string;
  end: number;
  /** Value of a word group, for the "treize | cent" rule; -1 for literal digits. */
  value: number;
}

/**
 * Every digit string up to `maxDigits` long that a stretch of the run can be read as; with `wholeOnly`,
 * only readings of the whole run (much cheaper: try those first).
 */
export function digitCandidates(run: readonly string[], lang: Lang, maxDigits: number, options: { wholeOnly?: boolean; limit?: number } = {}): DigitCandidate[] {
  const limit = options.limit ?? 5000;
  const wholeOnly = options.wholeOnly ?? false;
  const readings = new Map<number, Reading[]>();
  const readAt = (i: number) => {
    let r = readings.get(i);
    if (!r) readings.set(i, (r = readNumbers(run, i, lang)));
    return r;
  };
  const groupsAt = (i: number): Group[] => {
    const t = run[i];
    if (t === undefined) return [];
    if (/^\d+$/.test(t)) return [{ digits: t, end: i + 1, value: -1 }];
    if (t === 'double' || t === 'triple') {
      const n = t === 'double' ? 2 : 3;
      const next = run[i + 1];
      const d = next === undefined ? undefined : /^\d$/.test(next) ? Number(next) : digitValue(next, lang);
      return d === undefined ? [] : [{ digits: String(d).repeat(n), end: i + 2, value: -1 }];
    }
    const out: Group[] = [];
    const single = digitValue(t, lang);
    if (single !== undefined) out.push({ digits: String(single), end: i + 1, value: single });
    for (const r of readAt(i)) if (!(r.end === i + 1 && single !== undefined)) out.push({ digits: String(r.value), end: r.end, value: r.value });
    return out;
  };
  const out: DigitCandidate[] = [];
  const walk = (start: number, at: number, digits: string, groups: number, unnatural: number, prev: { start: number; value: number } | null) => {
    if (out.length >= limit) return;
    for (const g of groupsAt(at)) {
      const d = digits + g.digits;
      if (d.length > maxDigits) continue;
      let u = unnatural;
      if (prev && prev.value >= 0 && g.value >= 0 && readAt(prev.start).some((r) => r.end === g.end)) {
        // "treize | cent" (13100) and "eight hundred | five five five" are how codes are dictated.
        const beforeHundreds = isScaleWord(run[at], lang) && prev.value >= 10;
        const afterHundreds = isScaleWord(run[at - 1], lang);
        if (!beforeHundreds && !afterHundreds) u++;
      }
      // A stretch that ends inside a number ("quatre-vingt-seize" read as "quatre-vingt | seize…") is a poor reading.
      const endCut = g.value >= 0 && readAt(at).some((r) => r.end > g.end) ? 1 : 0;
      if (!wholeOnly || g.end === run.length) out.push({ digits: d, start, end: g.end, groups: groups + 1, unnatural: u + endCut });
      walk(start, g.end, d, groups + 1, u, { start: at, value: g.value });
    }
  };
  for (let s = 0; s < (wholeOnly ? 1 : run.length); s++) {
    let startCut = 0;
    for (let j = 0; j < s; j++) if (readAt(j).some((r) => r.end > s)) startCut = 1;
    walk(s, s, '', 0, startCut, null);
  }
  return out;
}

/** Whole-run readings that pass `accept`, else readings of any stretch that do. */
export function acceptedCandidates(run: readonly string[], lang: Lang, maxDigits: number, accept: (c: DigitCandidate) => boolean): DigitCandidate[] {
  const whole = digitCandidates(run, lang, maxDigits, { wholeOnly: true }).filter(accept);
  return whole.length > 0 ? whole : digitCandidates(run, lang, maxDigits).filter(accept);
}

/**
 * Orders candidates: reading the whole run first, then fewer unnatural splits, then fewer groups
 * (the longest number words), then run order.
 */
export function rankCandidates(candidates: DigitCandidate[], runLength: number): DigitCandidate[] {
  const whole = (c: DigitCandidate) => (c.start === 0 && c.end === runLength ? 0 : 1);
  return candidates.slice().sort((a, b) => whole(a) - whole(b) || a.unnatural - b.unnatural || a.groups - b.groups || a.start - b.start);
}
