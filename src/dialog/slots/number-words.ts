/**
 * Numbers written as words, in French (with the Belgian and Swiss septante,
 * huitante/octante, nonante) and English, over normalised tokens. The parser
 * returns every reading that starts at a token, not only the longest, because
 * dictated codes are ambiguous: "treize cent" is 1300 as a number but 13 then
 * 100 in a zip code (13100), and only the expected length can tell.
 */

export type Lang = 'fr' | 'en';

type Kind = 'zero' | 'unit' | 'teen' | 'tens' | 'scale';
interface Word {
  kind: Kind;
  value: number;
}

function table(entries: Array<[string[], Kind, number[]]>): Map<string, Word> {
  const m = new Map<string, Word>();
  for (const [words, kind, values] of entries) words.forEach((w, i) => m.set(w, { kind, value: values[i] ?? values[0] }));
  return m;
}

const FR = table([
  [['zero', 'zeros'], 'zero', [0]],
  [['un', 'une', 'deux', 'trois', 'quatre', 'cinq', 'six', 'sept', 'huit', 'neuf'], 'unit', [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
  [['dix', 'onze', 'douze', 'treize', 'quatorze', 'quinze', 'seize'], 'teen', [10, 11, 12, 13, 14, 15, 16]],
  [['vingt', 'trente', 'quarante', 'cinquante', 'soixante', 'septante', 'huitante', 'octante', 'nonante'], 'tens', [20, 30, 40, 50, 60, 70, 80, 80, 90]],
  [['cent', 'mille', 'million', 'millions', 'milliard', 'milliards'], 'scale', [100, 1000, 1e6, 1e6, 1e9, 1e9]],
  // Recogniser spellings of number words.
  [['cinque', 'sank', 'sinq'], 'unit', [5]],
  [['huite', 'wit'], 'unit', [8]],
  [['set', 'sette'], 'unit', [7]],
  [['vin', 'vint', 'vins'], 'tens', [20]],
  [['cens', 'sens'], 'scale', [100]],
]);

const EN = table([
  [['zero'], 'zero', [0]],
  [['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'], 'unit', [1, 2, 3, 4, 5, 6, 7, 8, 9]],
  [['ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'], 'teen', [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]],
  [['twenty', 'thirty', 'forty', 'fourty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'], 'tens', [20, 30, 40, 40, 50, 60, 70, 80, 90]],
  [['hundred', 'hundreds', 'thousand', 'thousands', 'million', 'millions', 'billion', 'billions'], 'scale', [100, 100, 1000, 1000, 1e6, 1e6, 1e9, 1e9]],
  [['won'], 'unit', [1]],
  [['to', 'too'], 'unit', [2]],
  [['for'], 'unit', [4]],
  [['ate'], 'unit', [8]],
]);

/** Homophones that are numbers only next to other numbers ("to", "for", "won", "vin", "set"). */
const WEAK = new Set(['won', 'to', 'too', 'for', 'ate', 'vin', 'vint', 'vins', 'cens', 'sens', 'set', 'sette', 'wit', 'sank']);

export function langOf(language: string): Lang {
  return language.toLowerCase().startsWith('en') ? 'en' : 'fr';
}

function word(token: string | undefined, lang: Lang): Word | undefined {
  if (token === undefined) return undefined;
  return (lang === 'fr' ? FR : EN).get(token) ?? (lang === 'fr' ? EN : FR).get(token);
}

/** A number word, a digit string, or a homophone of a number word. */
export function isNumberToken(token: string, lang: Lang, allowWeak: boolean): boolean {
  if (/^\d+$/.test(token)) return true;
  if (!allowWeak && WEAK.has(token)) return false;
  return word(token, lang) !== undefined;
}

export function isWeakNumberWord(token: string): boolean {
  return WEAK.has(token);
}

export function isScaleWord(token: string | undefined, lang: Lang): boolean {
  return word(token, lang)?.kind === 'scale';
}

/** The value of a single digit spoken as a word ("zéro", "six", "oh"), for digit-by-digit dictation. */
export function digitValue(token: string, lang: Lang): number | undefined {
  if (lang === 'en' && (token === 'oh' || token === 'o')) return 0;
  const w = word(token, lang);
  return w && (w.kind === 'zero' || w.kind === 'unit') ? w.value : undefined;
}

export interface Reading {
  value: number;
  /** One past the last token read. */
  end: number;
}

/** The value of a unit word between min and max, else undefined. */
const unitValue = (w: Word | undefined, min = 1, max = 9): number | undefined => (w?.kind === 'unit' && w.value >= min && w.value <= max ? w.value : undefined);

/** 1–19 in French (un … seize, dix-sept … dix-neuf). */
function frOneToNineteen(t: readonly string[], i: number): Reading[] {
  const w = word(t[i], 'fr');
  const unit = unitValue(w);
  if (unit !== undefined) return [{ value: unit, end: i + 1 }];
  if (w?.kind !== 'teen') return [];
  const out = [{ value: w.value, end: i + 1 }];
  const next = unitValue(word(t[i + 1], 'fr'), 7, 9);
  if (w.value === 10 && next !== undefined) out.push({ value: 10 + next, end: i + 2 });
  return out;
}

function below100(t: readonly string[], i: number, lang: Lang): Reading[] {
  const w = word(t[i], lang);
  if (!w) return [];
  const out: Reading[] = [];
  if (lang === 'en') {
    if (w.kind === 'unit' || w.kind === 'teen') out.push({ value: w.value, end: i + 1 });
    if (w.kind === 'tens') {
      out.push({ value: w.value, end: i + 1 });
      const u = unitValue(word(t[i + 1], lang));
      if (u !== undefined) out.push({ value: w.value + u, end: i + 2 });
    }
    return out;
  }
  out.push(...frOneToNineteen(t, i));
  if (w.kind === 'unit' && w.value === 4 && word(t[i + 1], 'fr')?.value === 20 && word(t[i + 1], 'fr')?.kind === 'tens') {
    out.push({ value: 80, end: i + 2 });
    for (const r of frOneToNineteen(t, i + 2)) out.push({ value: 80 + r.value, end: r.end });
  }
  if (w.kind === 'tens') {
    out.push({ value: w.value, end: i + 1 });
    const j = i + 1;
    if (t[j] === 'et' && (t[j + 1] === 'un' || t[j + 1] === 'une')) out.push({ value: w.value + 1, end: j + 2 });
    if (w.value === 60 && t[j] === 'et' && t[j + 1] === 'onze') out.push({ value: 71, end: j + 2 });
    const u = unitValue(word(t[j], 'fr'));
    if (u !== undefined) out.push({ value: w.value + u, end: j + 1 });
    if (w.value === 60) for (const r of frOneToNineteen(t, j)) if (r.value >= 10) out.push({ value: 60 + r.value, end: r.end });
  }
  return out;
}

function scaleValue(token: string | undefined, lang: Lang): number {
  const w = word(token, lang);
  return w?.kind === 'scale' ? w.value : 0;
}

/** Pushes `base` alone, then `base` plus every smaller number after it ("deux cent | trois", "mille | deux cents"). */
function addRest(out: Reading[], t: readonly string[], lang: Lang, base: number, j: number, n: number): void {
  out.push({ value: base, end: j });
  const k = (lang === 'en' && t[j] === 'and') || (n > 0 && lang === 'fr' && t[j] === 'et') ? j + 1 : j;
  for (const r of n === 0 ? below100(t, k, lang) : level(t, k, lang, n - 1)) out.push({ value: base + r.value, end: r.end });
}

function below1000(t: readonly string[], i: number, lang: Lang): Reading[] {
  const out: Reading[] = [];
  if (/^\d{1,3}$/.test(t[i] ?? '')) out.push({ value: Number(t[i]), end: i + 1 });
  for (const r of below100(t, i, lang)) {
    out.push(r);
    // "deux cents", "two hundred"; and "treize cents", "nineteen hundred" as said for years.
    if (scaleValue(t[r.end], lang) === 100) addRest(out, t, lang, r.value * 100, r.end + 1, 0);
  }
  if (lang === 'fr' && scaleValue(t[i], lang) === 100) addRest(out, t, lang, 100, i + 1, 0);
  if (lang === 'en' && t[i] === 'a' && scaleValue(t[i + 1], lang) === 100) addRest(out, t, lang, 100, i + 2, 0);
  return out;
}

const SCALES = [1000, 1e6, 1e9];

/** Every reading of a number starting at token `i` (digit strings included), shortest first. */
export function readNumbers(t: readonly string[], i: number, lang: Lang): Reading[] {
  const out = level(t, i, lang, SCALES.length);
  if (/^\d+$/.test(t[i] ?? '') && t[i].length > 3) out.push({ value: Number(t[i]), end: i + 1 });
  out.sort((a, b) => a.end - b.end || a.value - b.value);
  return out.filter((r, k) => k === 0 || r.end !== out[k - 1].end || r.value !== out[k - 1].value);
}

function level(t: readonly string[], i: number, lang: Lang, n: number): Reading[] {
  if (n === 0) return below1000(t, i, lang);
  const scale = SCALES[n - 1];
  const out = level(t, i, lang, n - 1);
  let present = false;
  for (let j = i; j < t.length && !present; j++) present = scaleValue(t[j], lang) === scale;
  if (!present) return out;
  for (const r of below1000(t, i, lang)) if (r.value > 0 && scaleValue(t[r.end], lang) === scale) addRest(out, t, lang, r.value * scale, r.end + 1, n);
  // "mille deux cents", "a thousand".
  if (scale === 1000 && lang === 'fr' && scaleValue(t[i], lang) === scale) addRest(out, t, lang, 1000, i + 1, n);
  if (lang === 'en' && t[i] === 'a' && scaleValue(t[i + 1], lang) === scale) addRest(out, t, lang, scale, i + 2, n);
  return out;
}
