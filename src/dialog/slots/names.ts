/**
 * Person and company names: the words after a cue ("je m'appelle", "my name
 * is", "c'est Madame", "je travaille chez", "calling from"), up to the next word
 * that starts a new clause, written with capitals as a name is written
 * ("jean-pierre dupont" → "Jean-Pierre Dupont"). Letters spelled one by one
 * ("d u p o n t") are joined. Without a cue, a short answer made only of
 * unknown words (the answer to "what is your name?") counts, at lower confidence.
 */
import { FILLERS, tokenize, type Token } from '../intents/normalize.js';
import { compilePhrases, matchPhrases, type PhraseSet } from '../intents/phrases.js';
import { weightFactor } from '../intents/stopwords.js';
import { isNumberToken, langOf } from './number-words.js';
import { readYesNo } from './yes-no.js';
import { roundConfidence, type SlotValue } from './types.js';

/** `weak`: the cue also starts ordinary sentences ("je suis", "I'm"), so the name must look like one (a title or a capital). */
interface Cue {
  weak: boolean;
}

const PERSON_CUES: Array<[string, Cue]> = [
  ...["je m'appelle", 'je m appelle', 'je me nomme', 'mon nom est', "mon nom c'est", 'mon nom de famille est', "mon nom de famille c'est", 'mon prénom est',
    "mon prénom c'est", "moi c'est", 'de la part de', 'vous parlez à', 'vous êtes avec', 'my name is', "my name's", 'name is', 'the name is',
    'call me', 'you can call me', "you're speaking with", 'you are speaking with', 'you are speaking to', 'this is', 'je suis monsieur', 'je suis madame',
    "c'est monsieur", "c'est madame", "c'est mademoiselle"].map((p): [string, Cue] => [p, { weak: false }]),
  ...["c'est", 'je suis', "i'm", 'i am', "it's", 'it is', 'here is', 'ici'].map((p): [string, Cue] => [p, { weak: true }]),
];

const COMPANY_CUES: Array<[string, Cue]> = [
  ...['je travaille chez', 'je travaille pour', 'je travaille à', 'je suis chez', 'de la société', 'la société', 'société', "l'entreprise", "de l'entreprise",
    'pour la société', "pour l'entreprise", 'de chez', 'au nom de la société', 'je représente', 'je viens de la société', 'la boîte', "c'est la société",
    'i work for', 'i work at', "i'm with", 'i am with', 'calling from', "i'm calling from", 'the company is', 'company is', 'company called',
    'i represent', 'on behalf of', 'the company', 'we are', "we're"].map((p): [string, Cue] => [p, { weak: false }]),
  ...['chez', 'from', 'at', 'with'].map((p): [string, Cue] => [p, { weak: true }]),
];

const TITLES: Record<string, string> = {
  monsieur: 'Monsieur', madame: 'Madame', mademoiselle: 'Mademoiselle', mme: 'Mme', mlle: 'Mlle', m: 'M.', mr: 'Mr', mrs: 'Mrs', ms: 'Ms', miss: 'Miss',
  mister: 'Mister', dr: 'Dr', doctor: 'Doctor', docteur: 'Docteur', maitre: 'Maître', professor: 'Professor', professeur: 'Professeur',
};
const PARTICLES = new Set(['de', 'du', 'des', 'le', 'la', 'van', 'von', 'der', 'di', 'da', 'del', 'dos', 'ben', 'bin', 'al', 'mac', 'st', 'saint', 'of']);
const STOP = new Set([
  'et', 'je', 'j', 'mais', 'pour', 'qui', 'que', 'depuis', 'comme', 'voila', 'merci', 'alors', 'donc', 'car', 'parce', 'a', 'au', 'aux', 'en', 'sur',
  'dans', 'avec', 'est', 'suis', 'ai', 'vous', 'tu', 'il', 'elle', 'nous', 'on', 'ce', 'c', 'ca', 'oui', 'non', 'bonjour', 'au', 'svp', 'si',
  'and', 'i', 'from', 'with', 'calling', 'call', 'at', 'but', 'speaking', 'here', 'thanks', 'thank', 'please', 'the', 'who', 'my', 'as', 'in',
  'since', 'because', 'about', 'is', 'am', 'are', 'was', 'you', 'we', 'it', 'hello', 'hi', 'yes', 'no', 'so', 'for', 'to', 'on', 'that',
  'chez', 'societe', 'entreprise', 'company', 'work', 'travaille', 'appelle', 'appelez', 'rappeler', 'rappelle', 'euh', 'um', 'uh',
]);
const LEGAL: Record<string, string> = { sa: 'SA', sas: 'SAS', sarl: 'SARL', eurl: 'EURL', sasu: 'SASU', inc: 'Inc', ltd: 'Ltd', llc: 'LLC', plc: 'PLC', gmbh: 'GmbH', corp: 'Corp', co: 'Co' };

const sets = new Map<string, PhraseSet<Cue>>();
function cueSet(kind: 'person' | 'company', language: string): PhraseSet<Cue> {
  const key = `${kind}:${language}`;
  let set = sets.get(key);
  if (!set) sets.set(key, (set = compilePhrases(kind === 'person' ? PERSON_CUES : COMPANY_CUES, language)));
  return set;
}

export function extractPersonName(text: string, language: string): SlotValue<string> | null {
  return extractName('person', text, language);
}

export function extractCompanyName(text: string, language: string): SlotValue<string> | null {
  return extractName('company', text, language);
}

function extractName(kind: 'person' | 'company', text: string, language: string): SlotValue<string> | null {
  const source = text.normalize('NFC');
  const tokens = tokenize(source, { language });
  const norms = tokens.map((t) => t.norm);
  const lang = langOf(language);
  const maxWords = kind === 'person' ? 4 : 5;
  // The last cue wins: "bonjour c'est pour un devis, je m'appelle Jean" names Jean.
  const cues = matchPhrases(norms, cueSet(kind, lang)).reverse();
  for (const cue of cues) {
    let at = cue.end;
    const title = kind === 'person' && TITLES[norms[at]] !== undefined ? at++ : -1;
    const words = nameWords(tokens, norms, at, maxWords, source, kind);
    if (words.length === 0) continue;
    const capitalised = words.some((i) => /^\p{Lu}/u.test(source.slice(tokens[i].start, tokens[i].end)));
    const titledCue = kind === 'person' && TITLES[norms[cue.end - 1]] !== undefined;
    if (cue.payload.weak && title < 0 && !capitalised) continue;
    const first = title >= 0 ? title : titledCue ? cue.end - 1 : words[0];
    const value = render(tokens, norms, first, words[words.length - 1], source, kind);
    return { value, confidence: roundConfidence(cue.payload.weak ? 0.8 : 0.9), text: source.slice(tokens[first].start, tokens[words[words.length - 1]].end) };
  }
  // "Madame Martin" with no cue.
  const titleAt = kind === 'person' ? norms.findIndex((n) => TITLES[n] !== undefined && n !== 'm') : -1;
  if (titleAt >= 0) {
    const words = nameWords(tokens, norms, titleAt + 1, maxWords, source, kind);
    if (words.length > 0) {
      const last = words[words.length - 1];
      return { value: render(tokens, norms, titleAt, last, source, kind), confidence: 0.8, text: source.slice(tokens[titleAt].start, tokens[last].end) };
    }
  }
  // A bare answer: one to four words, none of them a common word.
  const content = norms.map((_, i) => i).filter((i) => !FILLERS.has(norms[i]));
  if (content.length === 0 || content.length > maxWords || readYesNo(norms, language)) return null;
  if (content.some((i) => STOP.has(norms[i]) || weightFactor(norms[i], lang) < 1 || isNumberToken(norms[i], lang, false))) return null;
  const words = nameWords(tokens, norms, content[0], maxWords, source, kind);
  if (words.length !== content.length) return null;
  const last = words[words.length - 1];
  return { value: render(tokens, norms, words[0], last, source, kind), confidence: 0.6, text: source.slice(tokens[words[0]].start, tokens[last].end) };
}

/** Token indices of the name starting at `at`: until a clause word, a number or the length limit; particles only inside. */
function nameWords(tokens: Token[], norms: string[], at: number, max: number, source: string, kind: 'person' | 'company'): number[] {
  const out: number[] = [];
  let i = at;
  while (i < norms.length && FILLERS.has(norms[i]) && TITLES[norms[i]] === undefined) i++;
  let words = 0;
  // Letters spelled one by one do not count as words.
  for (; i < norms.length && out.length < 40; i++) {
    const n = norms[i];
    const gap = i > 0 ? source.slice(tokens[i - 1].end, tokens[i].start) : '';
    if (out.length > 0 && /[,;:.!?]/.test(gap) && !/^[-'’]$/.test(gap)) break;
    const joiner = PARTICLES.has(n) || (kind === 'company' && (n === 'et' || n === 'and'));
    if (joiner && out.length > 0 && i + 1 < norms.length && !STOP.has(norms[i + 1]) && !PARTICLES.has(norms[i + 1])) {
      out.push(i);
      continue;
    }
    // "the Bank of England": an article may open a company name.
    const article = kind === 'company' && out.length === 0 && n === 'the' && i + 1 < norms.length && !STOP.has(norms[i + 1]);
    if (!article && (STOP.has(n) || FILLERS.has(n) || (kind === 'person' && /^\d+$/.test(n)))) break;
    if (kind === 'person' && isNumberToken(n, 'fr', false) && isNumberToken(n, 'en', false)) break;
    if (n.length > 1 && ++words > max) break;
    out.push(i);
  }
  while (out.length > 0 && PARTICLES.has(norms[out[out.length - 1]])) out.pop();
  return out;
}

/** Capitals as names are written; letters spelled one by one become one word ("d u p o n t" → "Dupont"). */
function render(tokens: Token[], norms: string[], first: number, last: number, source: string, kind: 'person' | 'company'): string {
  const parts: string[] = [];
  let spelled = '';
  let lastWord = -1;
  const flush = () => {
    if (!spelled) return;
    // "Dupont, d u p o n t": the spelling confirms (or corrects) the word just said.
    const prev = parts[parts.length - 1];
    if (lastWord === parts.length - 1 && prev && foldFirst(prev) === spelled[0]) parts[parts.length - 1] = capitalise(spelled);
    else parts.push(capitalise(spelled));
    spelled = '';
  };
  for (let i = first; i <= last; i++) {
    const raw = source.slice(tokens[i].start, tokens[i].end);
    const gap = i > first ? source.slice(tokens[i - 1].end, tokens[i].start) : '';
    const n = norms[i];
    if (/^\p{L}$/u.test(raw) && !(i === first && TITLES[n])) {
      spelled += raw.toLowerCase();
      continue;
    }
    flush();
    let word: string;
    if (i === first && TITLES[n]) word = TITLES[n];
    else if (kind === 'company' && LEGAL[n]) word = LEGAL[n];
    else if ((PARTICLES.has(n) || n === 'et' || n === 'and') && i !== first) word = raw.toLowerCase();
    else if (kind === 'company' && /^\p{Lu}{2,}$/u.test(raw)) word = raw;
    else word = capitalise(raw);
    // Hyphens and apostrophes inside a name stay glued ("Jean-Pierre", "O'Brien").
    if (/^[-'’]$/.test(gap) && parts.length > 0) parts[parts.length - 1] += gap + word;
    else parts.push(word);
    lastWord = TITLES[n] && i === first ? -1 : parts.length - 1;
  }
  flush();
  return parts.join(' ');
}

function foldFirst(word: string): string {
  return word.normalize('NFD').charAt(0).toLowerCase();
}

function capitalise(word: string): string {
  return word
    .toLowerCase()
    .replace(/(^|[-'’])(\p{L})/gu, (_, sep: string, c: string) => sep + c.toUpperCase());
}
