/**
 * Phone numbers said aloud. French numbers come in pairs ("zéro six, douze,
 * trente-quatre, cinquante-six, soixante-dix-huit" → 0612345678) or digit by
 * digit, also as "+33 6…", "plus trente-trois six…" or "zéro zéro trente-trois…";
 * all of these give the national form 0XXXXXXXXX. English numbers come digit by
 * digit with "oh" for zero and "double"/"triple" ("double five" → 55); other
 * international numbers keep their "+" and country code.
 */
import { tokenize } from '../intents/normalize.js';
import { digitCandidates, numericRuns, rankCandidates, type DigitCandidate } from './digit-groups.js';
import { langOf, type Lang } from './number-words.js';
import { spanText } from './span.js';
import { roundConfidence, type SlotValue } from './types.js';

interface Reading {
  value: string;
  /**
   * 0: an expected shape (international with "+" or 00, French 0XXXXXXXXX, English 10 or 11 digits);
   * 1: a plausible number (English 7 digits); 2: digits of a phone-like length.
   */
  rank: number;
}

function readPhone(digits: string, international: boolean, lang: Lang): Reading | null {
  let intl = international;
  let d = digits;
  if (!intl && d.startsWith('00') && d.length >= 10) {
    intl = true;
    d = d.slice(2);
  }
  if (intl && d.startsWith('33')) {
    let rest = d.slice(2);
    if (rest.startsWith('0')) rest = rest.slice(1);
    return rest.length === 9 && rest[0] !== '0' ? { value: `0${rest}`, rank: 0 } : null;
  }
  if (intl) return d.length >= 8 && d.length <= 15 ? { value: `+${d}`, rank: 0 } : null;
  if (lang === 'fr') {
    if (d.length === 10 && d[0] === '0' && d[1] !== '0') return { value: d, rank: 0 };
    return d.length >= 8 && d.length <= 15 ? { value: d, rank: 2 } : null;
  }
  // North American area codes never start with 1 (a leading 1 is the country code: 11 digits); UK numbers start with 0.
  if ((d.length === 10 && d[0] !== '1') || (d.length === 11 && (d[0] === '1' || d[0] === '0'))) return { value: d, rank: 0 };
  if (d.length === 7) return { value: d, rank: 1 };
  return d.length >= 8 && d.length <= 15 ? { value: d, rank: 2 } : null;
}

export function extractPhone(text: string, language: string): SlotValue<string> | null {
  const tokens = tokenize(text, { language, symbols: true }).filter((t) => !['.', '-', '_', '@'].includes(t.norm));
  const norms = tokens.map((t) => (t.norm === '+' ? 'plus' : t.norm));
  const lang = langOf(language);
  let best: { value: string; rank: number; confidence: number; first: number; last: number } | null = null;
  for (const run of numericRuns(norms, lang, { sequence: true })) {
    const intl = run.index[0] > 0 && norms[run.index[0] - 1] === 'plus';
    const read = (c: DigitCandidate) => readPhone(c.digits, intl && c.start === 0, lang);
    // Whole-run readings of the best shape first; stretches of the run only when the whole run reads as no phone number.
    const shaped = digitCandidates(run.tokens, lang, 15, { wholeOnly: true }).filter((c) => read(c)?.rank === 0);
    const readings = rankCandidates(shaped.length > 0 ? shaped : digitCandidates(run.tokens, lang, 15), run.tokens.length)
      .map((c) => ({ c, r: read(c) }))
      .filter((x): x is { c: DigitCandidate; r: Reading } => x.r !== null);
    if (readings.length === 0) continue;
    const whole = (x: (typeof readings)[number]) => x.c.start === 0 && x.c.end === run.tokens.length;
    readings.sort((a, b) => a.r.rank - b.r.rank || Number(whole(b)) - Number(whole(a)) || a.c.unnatural - b.c.unnatural || a.c.groups - b.c.groups);
    const top = readings[0];
    const literal = run.tokens.slice(top.c.start, top.c.end).every((t) => /^\d+$/.test(t));
    let confidence = [literal ? 0.95 : 0.9, 0.75, 0.5][top.r.rank];
    if (!whole(top)) confidence -= 0.2;
    confidence -= 0.25 * top.c.unnatural;
    const rival = readings.find((x) => x.r.value !== top.r.value && x.r.rank === top.r.rank && whole(x) === whole(top) && x.c.unnatural === top.c.unnatural);
    if (rival) confidence *= 0.6;
    const first = intl && top.c.start === 0 ? run.index[0] - 1 : run.index[top.c.start];
    if (!best || top.r.rank < best.rank || (top.r.rank === best.rank && confidence > best.confidence)) {
      best = { value: top.r.value, rank: top.r.rank, confidence, first, last: run.index[top.c.end - 1] };
    }
  }
  if (!best) return null;
  return { value: best.value, confidence: roundConfidence(best.confidence), text: spanText(text, tokens, best.first, best.last) };
}
