/**
 * Yes/no answers in French and English, with negations ("absolument pas",
 * "not really"), idioms whose words mislead ("pas de problème" and "no problem"
 * mean yes), hedges ("I guess so", "je pense", lower confidence) and
 * don't-knows ("je sais pas", "maybe": no answer). The intent classifier uses
 * the same reading to recognise pure yes/no answers.
 */
import { FILLERS, primaryLanguage, tokenize } from '../intents/normalize.js';
import { compilePhrases, matchPhrases, type PhraseSet } from '../intents/phrases.js';

interface Sense {
  /** null: the caller does not know. */
  value: boolean | null;
  confidence: number;
  /** Counts only when the whole answer is made of yes/no words ("si", "right", "fine" say other things in a sentence). */
  alone?: boolean;
}

const Y = (confidence = 0.95, alone = false): Sense => ({ value: true, confidence, alone });
const N = (confidence = 0.95, alone = false): Sense => ({ value: false, confidence, alone });
const U: Sense = { value: null, confidence: 0.5 };

const FR: Array<[string, Sense]> = [
  ...['oui', 'ouais', 'absolument', 'tout à fait', 'bien sûr', 'bien entendu', 'évidemment', 'exactement', 'exact', "c'est ça", "c'est bien ça",
    "c'est exact", "c'est correct", "d'accord", 'ok', 'parfait', 'entendu', 'certainement', 'volontiers', 'carrément', 'affirmatif', 'effectivement',
    'avec plaisir', 'ça marche', 'ça me va', 'pas de problème', 'pas de souci', 'pas de soucis', 'sans problème', 'sans souci', 'je veux bien',
    'allez-y', 'vas-y', "c'est bon", 'yes', 'mais oui', 'bien sûr que oui', 'très bien', 'tout à fait oui', 'oui oui', 'ça roule', 'nickel',
    'en effet', 'je confirme', 'confirmé', 'voilà', 'bien sûr que si'].map((p): [string, Sense] => [p, Y()]),
  ['si', Y(0.9, true)], ['mais si', Y()], ['si si', Y()], ['ben si', Y()],
  ['pourquoi pas', Y(0.8)], ['si vous voulez', Y(0.75)], ['comme vous voulez', Y(0.7)], ['je pense', Y(0.7, true)], ['je crois', Y(0.7, true)], ['il me semble', Y(0.7)], ['je suppose', Y(0.7)],
  ['mouais', Y(0.65)], ['je pense que oui', Y(0.8)], ['je crois que oui', Y(0.8)], ['plutôt oui', Y(0.75)], ['normalement', Y(0.65, true)],
  ['en principe', Y(0.65, true)], ['a priori', Y(0.65, true)], ['oui je pense', Y(0.8)], ['peut-être bien', Y(0.6)], ['on peut dire ça', Y(0.7)],
  ...['non', 'non merci', 'pas du tout', 'absolument pas', 'surtout pas', 'certainement pas', 'jamais', 'pas question', 'hors de question',
    'aucunement', 'nullement', 'négatif', 'du tout', 'non non', 'mais non', 'non pas du tout', "ça ne m'intéresse pas", "ça m'intéresse pas",
    'je ne suis pas intéressé', 'je suis pas intéressé', 'pas intéressé', 'non c\'est bon', 'non merci c\'est bon', 'pas pour moi', 'bien sûr que non',
    'évidemment pas', 'en aucun cas', 'pas du tout du tout', "je n'en veux pas", 'je ne veux pas', 'je veux pas', 'non plus', 'tout à fait pas',
    'pas exactement', 'ce n\'est pas ça', "c'est pas ça", 'non ce n\'est pas ça'].map((p): [string, Sense] => [p, N()]),
  ['pas vraiment', N(0.85)], ['pas trop', N(0.75)], ['je ne pense pas', N(0.85)], ['je ne crois pas', N(0.85)], ['je pense pas', N(0.85)],
  ['je crois pas', N(0.85)], ['plutôt non', N(0.75)], ['pas forcément', N(0.7)], ['pas spécialement', N(0.75)], ['pas maintenant', N(0.8)],
  ['ça ira', N(0.65)], ['je pense que non', N(0.8)], ['je crois que non', N(0.8)], ['pas encore', N(0.7)], ['pas tellement', N(0.75)],
  ...['je ne sais pas', 'je sais pas', 'peut-être', 'aucune idée', 'je ne suis pas sûr', 'je suis pas sûr', 'pas sûr', 'bof', 'ça dépend', 'on verra',
    'je ne sais plus', 'je sais plus', "j'en sais rien", 'je ne suis pas certain', 'pas certain'].map((p): [string, Sense] => [p, U]),
];

const EN: Array<[string, Sense]> = [
  ...['yes', 'yeah', 'yep', 'sure', 'of course', 'absolutely', 'definitely', 'certainly', 'correct', "that's correct", "that's right", 'exactly',
    'ok', 'alright', 'indeed', 'affirmative', 'sounds good', 'go ahead', 'yes please', 'sure thing', 'you bet', 'no problem', 'not a problem',
    'no worries', 'totally', 'yes sir', 'by all means', 'with pleasure', "i'd love to", 'that would be great', 'please do', 'yes indeed',
    'of course yes', 'that is it', "that's it", 'perfect', 'great', 'for sure', 'right on', 'you got it', 'oui', 'yes yes'].map((p): [string, Sense] => [p, Y()]),
  ['right', Y(0.85, true)], ['fine', Y(0.8, true)], ['please', Y(0.8, true)], ['mhm', Y(0.8)], ['why not', Y(0.8)], ['i do', Y(0.8, true)],
  ['it is', Y(0.8, true)], ['i am', Y(0.8, true)], ['i have', Y(0.75, true)], ['i did', Y(0.8, true)], ['it does', Y(0.8, true)], ['it did', Y(0.8, true)],
  ['i guess so', Y(0.7)], ['i think so', Y(0.75)], ['i suppose so', Y(0.7)], ['i guess', Y(0.65, true)], ['i suppose', Y(0.65, true)],
  ['probably', Y(0.65, true)], ['i believe so', Y(0.75)], ['kind of', Y(0.6, true)], ['sort of', Y(0.6, true)], ['more or less', Y(0.6)],
  ['yes i think so', Y(0.8)], ['i think', Y(0.65, true)],
  ...['no', 'nope', 'nah', 'no thanks', 'no thank you', 'not at all', 'absolutely not', 'definitely not', 'certainly not', 'of course not',
    'never', 'no way', 'negative', 'not interested', "i'm not interested", 'no no', 'no sir', 'not for me', 'by no means', 'no chance',
    'not in the slightest', 'hell no', 'no it is not', "no it isn't", 'no i do not', "that's not it", "that's not right", 'that is wrong',
    'wrong', 'incorrect', 'not correct'].map((p): [string, Sense] => [p, N()]),
  ['not really', N(0.85)], ["i don't think so", N(0.85)], ["i don't believe so", N(0.85)], ['not now', N(0.8)], ["i'd rather not", N(0.85)],
  ['not exactly', N(0.7)], ["i don't", N(0.8, true)], ["it isn't", N(0.8, true)], ["it's not", N(0.8, true)], ["i'm not", N(0.8, true)],
  ["i haven't", N(0.75, true)], ["i didn't", N(0.8, true)], ["it doesn't", N(0.8, true)], ["it didn't", N(0.8, true)], ['not yet', N(0.7)],
  ['not quite', N(0.7)], ['not so much', N(0.75)], ['not particularly', N(0.75)], ['i guess not', N(0.7)], ['i suppose not', N(0.7)],
  ['probably not', N(0.7)], ['not today', N(0.8)], ['non', N(0.9)],
  ...["i don't know", 'i do not know', "i'm not sure", 'not sure', 'maybe', 'perhaps', 'no idea', 'it depends', 'who knows', "i can't say",
    "i'm not certain", 'dunno', 'i dunno', 'not certain'].map((p): [string, Sense] => [p, U]),
];

const SETS = new Map<string, PhraseSet<Sense>>();
function phraseSet(language: string): PhraseSet<Sense> {
  const lang = language === 'fr' || language === 'en' ? language : '*';
  let set = SETS.get(lang);
  if (!set) {
    set = compilePhrases(lang === 'fr' ? FR : lang === 'en' ? EN : [...FR, ...EN], lang === '*' ? 'und' : lang);
    SETS.set(lang, set);
  }
  return set;
}

const NEGATORS = new Set(['pas', 'jamais', 'aucun', 'aucune', 'rien', 'not', 'never', 'no', 'non', 'none', 'nothing', 'neither']);

export interface YesNoReading {
  value: boolean;
  confidence: number;
  /** The answer holds nothing but yes/no words and fillers ("oui bien sûr madame"). */
  exclusive: boolean;
  /** The answer starts with its yes/no words ("non, je suis locataire"). */
  leading: boolean;
  /** Token indices of the words that decided. */
  start: number;
  end: number;
}

/**
 * Reads a yes or a no in normalised tokens; null when the answer is neither or a don't-know.
 * Self-corrections keep the last word ("oui… euh non" is no) at lower confidence.
 */
export function readYesNo(tokens: readonly string[], language: string): YesNoReading | null {
  const set = phraseSet(primaryLanguage(language));
  let matches = matchPhrases(tokens, set);
  const used = new Uint8Array(tokens.length);
  for (const m of matches) used.fill(1, m.start, m.end);
  const exclusive = tokens.every((t, i) => used[i] === 1 || FILLERS.has(t));
  if (!exclusive) matches = matches.filter((m) => !m.payload.alone);
  const decisive = matches.filter((m) => m.payload.value !== null);
  const unsure = matches.length - decisive.length;
  if (decisive.length === 0) {
    if (unsure > 0) return null;
    const neg = tokens.findIndex((t) => NEGATORS.has(t));
    if (neg < 0) return null;
    return { value: false, confidence: 0.55, exclusive: false, leading: false, start: neg, end: neg + 1 };
  }
  const last = decisive[decisive.length - 1];
  const value = last.payload.value as boolean;
  const mixed = decisive.some((m) => m.payload.value !== value);
  let confidence = Math.max(...decisive.filter((m) => m.payload.value === value).map((m) => m.payload.confidence));
  if (mixed) confidence *= 0.65;
  if (unsure > 0) confidence *= 0.7;
  if (!exclusive) confidence *= 0.9;
  const firstContent = tokens.findIndex((t) => !FILLERS.has(t));
  const leading = decisive[0].start === firstContent && !mixed;
  return { value, confidence: round(confidence), exclusive: exclusive && unsure === 0, leading, start: mixed ? last.start : decisive[0].start, end: last.end };
}

/** The yes_no slot: true or false with the words that said it. */
export function extractYesNo(text: string, language: string): { value: boolean; confidence: number; text: string } | null {
  const tokens = tokenize(text, { language });
  const reading = readYesNo(
    tokens.map((t) => t.norm),
    language,
  );
  if (!reading) return null;
  const span = text.normalize('NFC').slice(tokens[reading.start].start, tokens[reading.end - 1].end);
  return { value: reading.value, confidence: reading.confidence, text: span };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
