/**
 * The `number` slot (a quantity: "vingt et un", "mille deux cents", "one
 * hundred and five", "12,5", "moins trois") and the `digits` slot (a code read
 * out or typed: "un deux trois quatre", "12 34", "double seven").
 */
import { tokenize } from '../intents/normalize.js';
import { acceptedCandidates, numericRuns, rankCandidates } from './digit-groups.js';
import { digitValue, langOf, readNumbers } from './number-words.js';
import { spanText } from './span.js';
import { roundConfidence, type SlotValue } from './types.js';

const DECIMAL = new Set(['virgule', 'point', 'comma']);
const MINUS = new Set(['moins', 'minus', 'negative']);
const ARTICLES = new Set(['un', 'une', 'one', 'a']);

export function extractNumber(text: string, language: string): SlotValue<number> | null {
  const tokens = tokenize(text, { language });
  const norms = tokens.map((t) => t.norm);
  const lang = langOf(language);
  const runs = numericRuns(norms, lang, { sequence: false });
  if (runs.length === 0) return null;
  const run = runs[0];
  const t = run.tokens;
  let used: number;
  let value: number;
  if (t.every((x) => /^\d+$/.test(x)) && t.length > 1 && t.slice(1).every((x) => x.length === 3) && t[0].length <= 3) {
    // "1 200 000": spaces as thousands separators.
    value = Number(t.join(''));
    used = t.length;
  } else {
    const readings = readNumbers(t, 0, lang);
    if (readings.length === 0) return null;
    const longest = readings.reduce((a, b) => (b.end > a.end || (b.end === a.end && b.value > a.value) ? b : a));
    value = longest.value;
    used = longest.end;
  }
  let first = run.index[0];
  let last = run.index[used - 1];
  // Decimals: "douze virgule cinq", "twelve point five", "12,5".
  if (DECIMAL.has(norms[last + 1] ?? '') || (/^\d+$/.test(norms[last + 1] ?? '') && text.normalize('NFC')[tokens[last].end] === ',' && tokens[last + 1]?.start === tokens[last].end + 1)) {
    const at = DECIMAL.has(norms[last + 1]) ? last + 2 : last + 1;
    const frac = norms[at] !== undefined && /^\d+$/.test(norms[at]) ? { digits: norms[at], end: at + 1 } : fractionWords(norms, at, lang);
    if (frac) {
      value = Number(`${value}.${frac.digits}`);
      last = frac.end - 1;
    }
  }
  if (first > 0 && MINUS.has(norms[first - 1])) {
    value = -value;
    first--;
  }
  let confidence = 0.9;
  // Other numbers said around this one ("deux trois", "entre 5 et 10") make it a guess.
  const others = runs.some((r) => r.index.some((i) => i < first || i > last));
  if (others) confidence = 0.6;
  if (used === 1 && ARTICLES.has(t[0]) && norms.length > 1) confidence = 0.5;
  return { value, confidence: roundConfidence(confidence), text: spanText(text, tokens, first, last) };
}

function fractionWords(norms: string[], at: number, lang: 'fr' | 'en'): { digits: string; end: number } | null {
  // "point one four": digit by digit; "virgule cinquante": a number.
  let digits = '';
  let i = at;
  for (; i < norms.length; i++) {
    const d = /^\d$/.test(norms[i]) ? Number(norms[i]) : digitValue(norms[i], lang);
    if (d === undefined) break;
    digits += String(d);
  }
  const readings = readNumbers(norms, at, lang);
  const r = readings.length > 0 ? readings.reduce((a, b) => (b.end > a.end ? b : a)) : null;
  if (r && r.end > i) return { digits: String(r.value), end: r.end };
  return digits.length > 0 ? { digits, end: i } : null;
}

/** A digit string; with `length`, only a reading of exactly that many digits. */
export function extractDigits(text: string, language: string, length?: number): SlotValue<string> | null {
  const tokens = tokenize(text, { language });
  const norms = tokens.map((t) => t.norm);
  const lang = langOf(language);
  let best: { digits: string; confidence: number; first: number; last: number } | null = null;
  for (const run of numericRuns(norms, lang, { sequence: true })) {
    const ranked = rankCandidates(
      acceptedCandidates(run.tokens, lang, length ?? 40, (c) => length === undefined || c.digits.length === length),
      run.tokens.length,
    );
    if (ranked.length === 0) continue;
    const top = ranked[0];
    const literal = run.tokens.slice(top.start, top.end).every((x) => /^\d+$/.test(x));
    const whole = top.start === 0 && top.end === run.tokens.length;
    let confidence = (literal ? 0.95 : 0.9) - (whole ? 0 : 0.2) - 0.25 * top.unnatural;
    const rival = ranked.find((c) => c.digits !== top.digits && c.unnatural === top.unnatural && (c.start === 0 && c.end === run.tokens.length) === whole && c.groups === top.groups);
    if (rival) confidence *= 0.6;
    const better = !best || top.digits.length > best.digits.length || (top.digits.length === best.digits.length && confidence > best.confidence);
    if (better) best = { digits: top.digits, confidence, first: run.index[top.start], last: run.index[top.end - 1] };
  }
  if (!best) return null;
  return { value: best.digits, confidence: roundConfidence(best.confidence), text: spanText(text, tokens, best.first, best.last) };
}
