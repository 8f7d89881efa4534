/**
 * French postal codes said as digits, numbers or a mix: "soixante-quinze zéro
 * zéro un", "7 5 0 0 1", "75 001", "treize cent" (13100), "trente et un deux
 * cents" (31200), "quatre-vingt-treize cent" (93100). The first two or three
 * digits must name a real département: 01–95 (Corsica's codes start with 20;
 * 2A/2B are not used in postal codes), overseas 971–976 and 986–988.
 */
import { tokenize } from '../intents/normalize.js';
import { acceptedCandidates, numericRuns, rankCandidates, type DigitCandidate } from './digit-groups.js';
import { langOf } from './number-words.js';
import { spanText } from './span.js';
import { roundConfidence, type SlotValue } from './types.js';

const OVERSEAS = new Set(['971', '972', '973', '974', '975', '976', '986', '987', '988']);

export function isValidFrenchZip(code: string): boolean {
  if (!/^\d{5}$/.test(code)) return false;
  const dep = Number(code.slice(0, 2));
  if (dep >= 1 && dep <= 95) return true;
  return OVERSEAS.has(code.slice(0, 3));
}

export function extractZipCode(text: string, language: string): SlotValue<string> | null {
  const tokens = tokenize(text, { language });
  const lang = langOf(language);
  let best: { c: DigitCandidate; runIndex: number[]; confidence: number } | null = null;
  for (const run of numericRuns(tokens.map((t) => t.norm), lang, { sequence: true })) {
    const valid = rankCandidates(
      acceptedCandidates(run.tokens, lang, 5, (c) => c.digits.length === 5 && isValidFrenchZip(c.digits)),
      run.tokens.length,
    );
    if (valid.length === 0) continue;
    const top = valid[0];
    const literal = run.tokens.slice(top.start, top.end).every((t) => /^\d+$/.test(t));
    let confidence = literal ? 0.95 : 0.9;
    if (top.start !== 0 || top.end !== run.tokens.length) confidence -= 0.2;
    confidence -= 0.25 * top.unnatural;
    const rival = valid.find((c) => c.digits !== top.digits && c.unnatural === top.unnatural && (c.start === 0 && c.end === run.tokens.length) === (top.start === 0 && top.end === run.tokens.length));
    if (rival) confidence *= 0.6;
    if (!best || confidence > best.confidence) best = { c: top, runIndex: run.index, confidence };
  }
  if (!best) return null;
  return {
    value: best.c.digits,
    confidence: roundConfidence(best.confidence),
    text: spanText(text, tokens, best.runIndex[best.c.start], best.runIndex[best.c.end - 1]),
  };
}
