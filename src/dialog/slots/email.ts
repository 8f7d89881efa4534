/**
 * Email addresses spelled aloud: "jean point dupont arobase gmail point com",
 * "j e a n dot smith at example dot com", "b comme Bernard", "tiret",
 * "underscore", "tiret du bas", letter names ("double v", "aitch"), numbers
 * ("jean quatre-vingt-douze" → jean92); or written out by the recogniser.
 */
import { FILLERS, tokenize } from '../intents/normalize.js';
import { compilePhrases, phraseAt } from '../intents/phrases.js';
import { isNumberToken, langOf, readNumbers, type Lang } from './number-words.js';
import { roundConfidence, type SlotValue } from './types.js';

const LITERAL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/u;
const VALID = /^[a-z0-9](?:[a-z0-9._%+-]*[a-z0-9_])?@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$/;

type Piece = { kind: 'at' | 'sym'; text: string } | { kind: 'letter' | 'word'; text: string; named?: boolean };

const SYMBOLS: Array<[string, string]> = [
  ['arobase', '@'], ['arobas', '@'], ['arrobase', '@'], ['arrobas', '@'], ['at', '@'], ['a commercial', '@'], ['at sign', '@'],
  ['point', '.'], ['dot', '.'],
  ['tiret', '-'], ['dash', '-'], ['hyphen', '-'], ["trait d'union", '-'], ['moins', '-'], ['minus', '-'],
  ['underscore', '_'], ['under score', '_'], ['tiret bas', '_'], ['tiret du bas', '_'], ['tiret du huit', '_'], ['souligné', '_'], ['underline', '_'],
];
const SYMBOL_SET = compilePhrases(SYMBOLS, 'und');

/** Letter names; each counts as a letter only inside a spelling (next to other letters) or before "comme"/"as in". */
const LETTER_NAMES: Record<Lang, Array<[string, string]>> = {
  fr: [
    ['bé', 'b'], ['cé', 'c'], ['dé', 'd'], ['effe', 'f'], ['èf', 'f'], ['gé', 'g'], ['ache', 'h'], ['hache', 'h'], ['ji', 'j'], ['ka', 'k'],
    ['elle', 'l'], ['èl', 'l'], ['emme', 'm'], ['èm', 'm'], ['enne', 'n'], ['èn', 'n'], ['pé', 'p'], ['ku', 'q'], ['cu', 'q'], ['erre', 'r'],
    ['èr', 'r'], ['esse', 's'], ['ès', 's'], ['té', 't'], ['vé', 'v'], ['double vé', 'w'], ['double v', 'w'], ['ixe', 'x'], ['iks', 'x'],
    ['i grec', 'y'], ['igrec', 'y'], ['zède', 'z'], ['zed', 'z'],
  ],
  en: [
    ['ay', 'a'], ['bee', 'b'], ['see', 'c'], ['sea', 'c'], ['cee', 'c'], ['dee', 'd'], ['ef', 'f'], ['eff', 'f'], ['gee', 'g'], ['aitch', 'h'],
    ['haitch', 'h'], ['eye', 'i'], ['jay', 'j'], ['kay', 'k'], ['el', 'l'], ['ell', 'l'], ['em', 'm'], ['en', 'n'], ['oh', 'o'], ['pee', 'p'],
    ['pea', 'p'], ['cue', 'q'], ['queue', 'q'], ['ar', 'r'], ['es', 's'], ['ess', 's'], ['tee', 't'], ['tea', 't'], ['you', 'u'], ['vee', 'v'],
    ['double you', 'w'], ['double u', 'w'], ['ex', 'x'], ['why', 'y'], ['wye', 'y'], ['zee', 'z'], ['zed', 'z'],
  ],
};
const LETTER_SETS = { fr: compilePhrases(LETTER_NAMES.fr, 'fr'), en: compilePhrases(LETTER_NAMES.en, 'en') };

/** Words that end the address: on the left the cue ("mon email c'est"), on the right politeness. */
const LEFT_BOUNDARY = new Set([
  'est', 'ce', 'c', 'email', 'mail', 'adresse', 'courriel', 'mon', 'ma', 'is', 'my', 'address', 'it', 'its', 'voici', 'here', 'electronique', 'alors', 'so',
]);
const RIGHT_BOUNDARY = new Set(['merci', 'thanks', 'thank', 'voila', 'and', 'et', 'please', 'svp', 'cordialement']);
const SPELLING_CUES = new Set(['comme', 'as', 'for']);

export function extractEmail(text: string, language: string): SlotValue<string> | null {
  const literal = LITERAL.exec(text.normalize('NFC'));
  if (literal) {
    const value = literal[0].toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');
    if (VALID.test(value)) return { value, confidence: 0.95, text: literal[0] };
  }
  const lang = langOf(language);
  // Hyphens inside spelled-out numbers ("quatre-vingt-douze") are spelling, not part of the address.
  const tokens = tokenize(text, { language, symbols: true }).filter(
    (t, i, all) => !(t.norm === '-' && i > 0 && isNumberToken(all[i - 1].norm, lang, false) && isNumberToken(all[i + 1]?.norm ?? '', lang, false)),
  );
  const norms = tokens.map((t) => t.norm);
  const pieces: Array<Piece & { first: number; last: number }> = [];
  for (let i = 0; i < norms.length; ) {
    const sym = ['@', '.', '-', '_'].includes(norms[i]) ? { payload: norms[i], end: i + 1 } : phraseAt(norms, i, SYMBOL_SET);
    if (sym) {
      pieces.push({ kind: sym.payload === '@' ? 'at' : 'sym', text: sym.payload, first: i, last: sym.end - 1 });
      i = sym.end;
      continue;
    }
    const named = phraseAt(norms, i, LETTER_SETS[lang]);
    const t = norms[i];
    // "b comme Bernard", "b as in bravo", "b for bravo": the letter, not the word.
    const cueAt = (j: number) => (SPELLING_CUES.has(norms[j]) ? (norms[j] === 'as' && norms[j + 1] === 'in' ? j + 2 : j + 1) : -1);
    if (t.length === 1 && /[a-z]/.test(t)) {
      const cue = cueAt(i + 1);
      pieces.push({ kind: 'letter', text: t, first: i, last: cue > 0 ? cue : i });
      i = cue > 0 ? cue + 1 : i + 1;
      continue;
    }
    if (named) {
      const cue = cueAt(named.end);
      pieces.push({ kind: 'letter', text: named.payload, named: cue < 0 && !named.payload.startsWith('w'), first: i, last: cue > 0 ? cue : named.end - 1 });
      i = cue > 0 ? cue + 1 : named.end;
      continue;
    }
    if (t === 'double' && norms[i + 1]?.length === 1 && /[a-z0-9]/.test(norms[i + 1])) {
      pieces.push({ kind: 'letter', text: norms[i + 1].repeat(2), first: i, last: i + 1 });
      i += 2;
      continue;
    }
    if (/^\d+$/.test(t)) {
      pieces.push({ kind: 'word', text: t, first: i, last: i });
      i++;
      continue;
    }
    const numbers = readNumbers(norms, i, lang);
    if (numbers.length > 0) {
      const r = numbers[numbers.length - 1];
      pieces.push({ kind: 'word', text: String(r.value), first: i, last: r.end - 1 });
      i = r.end;
      continue;
    }
    if (/^[a-z0-9]+$/.test(t) && !FILLERS.has(t)) pieces.push({ kind: 'word', text: t, first: i, last: i });
    else pieces.push({ kind: 'sym', text: ' ', first: i, last: i });
    i++;
  }
  // A letter name is a letter only among letters ("em" next to "j"), else it is a word ("en" is a word in French).
  for (let k = 0; k < pieces.length; k++) {
    const p = pieces[k];
    if (p.kind !== 'letter' || !p.named) continue;
    const near = [pieces[k - 1], pieces[k + 1]].some((q) => q?.kind === 'letter');
    if (!near) pieces[k] = { ...p, kind: 'word', text: norms.slice(p.first, p.last + 1).join('') };
  }
  const at = pieces.findIndex((p) => p.kind === 'at');
  if (at <= 0) return null;
  let from = at;
  while (from > 0 && pieces[from - 1].kind !== 'at' && pieces[from - 1].text !== ' ' && !LEFT_BOUNDARY.has(norms[pieces[from - 1].first])) from--;
  let to = at;
  while (to + 1 < pieces.length && pieces[to + 1].kind !== 'at' && pieces[to + 1].text !== ' ' && !RIGHT_BOUNDARY.has(norms[pieces[to + 1].first])) to++;
  while (to > at && pieces[to].kind === 'sym') to--;
  const value = pieces
    .slice(from, to + 1)
    .map((p) => p.text)
    .join('');
  if (!VALID.test(value)) return null;
  const spelled = pieces.slice(from, to + 1).some((p) => p.kind === 'letter');
  return {
    value,
    confidence: roundConfidence(spelled ? 0.8 : 0.85),
    text: text.normalize('NFC').slice(tokens[pieces[from].first].start, tokens[pieces[to].last].end),
  };
}
