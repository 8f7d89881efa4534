/**
 * How the caller felt, from what they said: a small French and English
 * lexicon (valence −3…3 per word or phrase) with negation ("pas", "not",
 * "n't", "ne … pas", "ça marche pas"), intensifiers ("très", "really") and
 * dampeners ("un peu", "a bit"). Only caller lines count: the bot is always
 * polite. The sum is squashed to −1…1 (x / √(x² + 15)), so one mild word
 * moves the score a little and a string of complaints pins it near −1.
 * Local and instant: no engine, no network.
 */
import type { TranscriptLine } from '../call/events.js';
import type { Sentiment } from './schema.js';

export interface SentimentResult {
  label: Sentiment;
  /** −1 (unhappy) … 1 (happy). */
  score: number;
}

/** Words and phrases without accents, lower case, apostrophes as '. Phrases are matched before their words. */
const LEXICON: Record<string, number> = {
  // English, negative
  bad: -2, terrible: -3, awful: -3, horrible: -3, angry: -3, furious: -3, annoyed: -2, annoying: -2, frustrated: -2.5, frustrating: -2.5,
  upset: -2, unhappy: -2.5, disappointed: -2.5, disappointing: -2.5, broken: -1.5, problem: -1, problems: -1, issue: -0.5, issues: -0.5,
  wrong: -1.5, useless: -2.5, ridiculous: -2.5, unacceptable: -3, worst: -3, worse: -2, hate: -3, rude: -2.5, poor: -1.5, mess: -2,
  nightmare: -3, crashed: -1.5, crashes: -1.5, fail: -2, failed: -2, fails: -2, failure: -2, slow: -1, complaint: -2, complain: -2,
  stupid: -2.5, sad: -2, lost: -1, waste: -2, joke: -1.5, pathetic: -3, 'fed up': -2.5, 'sick of': -2.5, 'still waiting': -1.5,
  "doesn't work": -2, 'does not work': -2, "don't work": -2, 'not working': -2, "isn't working": -2, "won't work": -2, 'stopped working': -2,
  // English, positive
  good: 2, great: 3, excellent: 3, perfect: 3, thanks: 1, thank: 1, helpful: 2.5, happy: 2.5, glad: 2, pleased: 2, nice: 2,
  awesome: 3, wonderful: 3, fine: 1, ok: 0.5, okay: 0.5, works: 1, working: 1, solved: 2, fixed: 2, resolved: 2, love: 3,
  appreciate: 2, brilliant: 3, fantastic: 3, quick: 1, fast: 1, easy: 1.5, lovely: 2.5, 'no problem': 1, 'no worries': 1,
  // French, negative
  mauvais: -2, mauvaise: -2, nul: -2.5, nulle: -2.5, affreux: -3, enerve: -2.5, enervee: -2.5, enervant: -2.5, agace: -2, agacee: -2,
  furieux: -3, furieuse: -3, mecontent: -2.5, mecontente: -2.5, decu: -2.5, decue: -2.5, decevant: -2.5, inadmissible: -3,
  inacceptable: -3, scandaleux: -3, scandale: -3, honteux: -3, honte: -2, probleme: -1, problemes: -1, panne: -1.5, casse: -1.5,
  cassee: -1.5, lent: -1, lente: -1, marre: -2.5, pire: -3, deteste: -3, inutile: -2, bug: -1, plainte: -2, ridicule: -2.5,
  galere: -2, insupportable: -3, colere: -2.5, triste: -2, impossible: -1.5, catastrophe: -3, lamentable: -3, incompetent: -2.5,
  incompetents: -2.5, 'ras le bol': -2.5, 'toujours pas': -1.5, 'marche pas': -2, 'fonctionne pas': -2, 'marche plus': -2, 'fonctionne plus': -2,
  // French, positive
  bien: 1.5, bon: 1.5, bonne: 1.5, super: 2.5, genial: 3, parfait: 3, parfaite: 3, parfaitement: 2.5, merci: 1, content: 2.5,
  contente: 2.5, ravi: 3, ravie: 3, satisfait: 2.5, satisfaite: 2.5, formidable: 3, top: 2, cool: 1.5, sympa: 2, efficace: 2,
  rapide: 1, simple: 1, marche: 1, fonctionne: 1, regle: 2, resolu: 2, aimable: 2, agreable: 2, impeccable: 3, nickel: 2.5,
  'pas mal': 1.5, 'pas de probleme': 1, 'pas de souci': 1, 'sans probleme': 1, 'sans souci': 1,
};

const INTENSIFIERS: Record<string, number> = {
  very: 1.5, really: 1.5, so: 1.4, extremely: 1.8, totally: 1.6, completely: 1.6, absolutely: 1.7, too: 1.3, incredibly: 1.8,
  tres: 1.5, vraiment: 1.5, trop: 1.4, tellement: 1.5, extremement: 1.8, completement: 1.6, totalement: 1.6, absolument: 1.7, hyper: 1.6, archi: 1.6,
  'a bit': 0.5, 'a little': 0.5, slightly: 0.5, somewhat: 0.6, 'kind of': 0.6, 'un peu': 0.5, assez: 0.7, plutot: 0.7,
};

/** Before a word, these flip it. */
const NEGATORS = new Set(['not', 'no', 'never', 'cannot', 'without', 'nothing', 'nobody', 'neither', 'nor', 'hardly', 'pas', 'jamais', 'rien', 'aucun', 'aucune', 'sans', 'ni', 'personne']);
/** French after a word ("ne marche pas", "ça marche pas", "n'est plus bon"). */
const FRENCH_POST_NEGATORS = new Set(['pas', 'plus', 'jamais', 'rien']);
/** Skipped when looking for that French negation after a word ("ça marche toujours pas"). */
const ADVERBS = new Set(['toujours', 'encore', 'vraiment']);
const NEGATION_WINDOW = 3;
/** A negated word counts for a little of its opposite: "not good" is mildly bad, "pas mal" mildly good. */
const NEGATED = -0.6;
const ALPHA = 15;
export const SENTIMENT_THRESHOLD = 0.25;

const ELISION = /^(l|d|j|n|m|t|s|c|qu|jusqu|lorsqu|puisqu)'(.+)$/;
const LONGEST_PHRASE = Math.max(...[...Object.keys(LEXICON), ...Object.keys(INTENSIFIERS)].map((k) => k.split(' ').length));

export function tokenize(text: string): string[] {
  const plain = text
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[’`]/g, "'");
  const out: string[] = [];
  for (const raw of plain.match(/[\p{L}\p{N}']+/gu) ?? []) {
    const word = raw.replace(/^'+|'+$/g, '');
    if (word === '') continue;
    const elided = ELISION.exec(word);
    if (elided) out.push(elided[1] as string, elided[2] as string);
    else out.push(word);
  }
  return out;
}

function isNegator(token: string): boolean {
  return NEGATORS.has(token) || token.endsWith("n't");
}

/** A French negation after the word: "pas" (spoken French drops the "ne"), or plus/jamais/rien after a "ne", unless a phrase starts there ("bien, pas de souci"). */
function negatedAfter(tokens: string[], from: number, neBefore: boolean): boolean {
  let j = from;
  while (j < tokens.length && ADVERBS.has(tokens[j] as string) && j - from < 2) j++;
  const next = tokens[j];
  if (next === undefined || !FRENCH_POST_NEGATORS.has(next)) return false;
  for (let n = LONGEST_PHRASE; n >= 2; n--) if (tokens.slice(j, j + n).join(' ') in LEXICON) return false;
  return next === 'pas' || neBefore;
}

/** The summed valence of one line (unbounded). */
export function lineValence(text: string): number {
  const tokens = tokenize(text);
  let total = 0;
  let boost = 1;
  let lastNegatorAt = -Infinity;
  let lastNeAt = -Infinity;
  for (let i = 0; i < tokens.length; ) {
    let matched = 0;
    let valence: number | undefined;
    let intensity: number | undefined;
    for (let n = Math.min(LONGEST_PHRASE, tokens.length - i); n >= 1 && matched === 0; n--) {
      const key = tokens.slice(i, i + n).join(' ');
      if (key in LEXICON) [matched, valence] = [n, LEXICON[key]];
      else if (key in INTENSIFIERS) [matched, intensity] = [n, INTENSIFIERS[key]];
    }
    if (matched === 0) {
      const token = tokens[i] as string;
      // "plus" negates only after a "ne" ("n'est plus bon"); alone it means "more".
      if (isNegator(token) || (token === 'plus' && i - lastNeAt <= NEGATION_WINDOW)) lastNegatorAt = i;
      else if (token === 'ne' || token === 'n') lastNeAt = i;
      i++;
      continue;
    }
    if (intensity !== undefined) boost *= intensity;
    else if (valence !== undefined) {
      const negated = i - lastNegatorAt <= NEGATION_WINDOW || negatedAfter(tokens, i + matched, i - lastNeAt <= NEGATION_WINDOW);
      total += valence * boost * (negated ? NEGATED : 1);
      boost = 1;
    }
    i += matched;
  }
  return total;
}

/** Squashes a summed valence into −1…1 and labels it. */
export function scoreOf(total: number): SentimentResult {
  const score = total === 0 ? 0 : Math.round((total / Math.sqrt(total * total + ALPHA)) * 1000) / 1000;
  return { score, label: score >= SENTIMENT_THRESHOLD ? 'positive' : score <= -SENTIMENT_THRESHOLD ? 'negative' : 'neutral' };
}

/** The sentiment of what the caller said over the whole call (bot lines are ignored). */
export function callerSentiment(transcript: Array<Pick<TranscriptLine, 'role' | 'text'>>): SentimentResult {
  let total = 0;
  for (const line of transcript) if (line.role === 'caller') total += lineValence(line.text);
  return scoreOf(total);
}
