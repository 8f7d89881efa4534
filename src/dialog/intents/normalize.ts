/**
 * Text normalisation shared by the intent classifiers and the slot extractors.
 * Recognisers disagree on case, accents, punctuation, contractions and a few
 * spellings ("ouais"/"ouai", "e-mail"/"e mail", "okay"/"ok"); matching works on
 * one canonical form so that examples written by a person and transcripts
 * written by a recogniser meet. Every token keeps its span in the original text,
 * so slot extractors can hand back what the caller said (accents, capitals).
 */

export interface Token {
  /** Lowercase, accent-free, canonical form. */
  norm: string;
  /** Span in the original (NFC) text; tokens born from one contraction share it. */
  start: number;
  end: number;
}

export interface TokenizeOptions {
  /** 'fr', 'en', 'fr-FR'…; rewrites that would collide between languages ("dont") apply only to their language. */
  language?: string;
  /** Keep '@', '.', '+', '-', '_' as tokens when they sit inside or before a word (emails, phone numbers). */
  symbols?: boolean;
}

/** 'fr-FR' → 'fr'; anything unknown stays as given (lowercased). */
export function primaryLanguage(language: string | undefined): string {
  return (language ?? '').toLowerCase().split(/[-_]/)[0];
}

/** Lowercase, no accents or ligatures. */
export function foldWord(word: string): string {
  return word
    .toLowerCase()
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae')
    .replace(/ß/g, 'ss')
    .normalize('NFD')
    .replace(/\p{M}/gu, '');
}

const APOSTROPHES = /^['’ʼ`´‘]$/u;

const FR_ELISIONS: Record<string, string> = {
  l: 'le', j: 'je', m: 'me', t: 'te', n: 'ne', c: 'ce', d: 'de', qu: 'que',
  jusqu: 'jusque', lorsqu: 'lorsque', puisqu: 'puisque', quelqu: 'quelque', presqu: 'presque',
};

const EN_NOT: Record<string, string> = { don: 'do', doesn: 'does', didn: 'did', can: 'can', won: 'will', isn: 'is', aren: 'are', wasn: 'was', weren: 'were', haven: 'have', hasn: 'has', hadn: 'had', shouldn: 'should', wouldn: 'would', couldn: 'could', ain: 'is', shan: 'shall', mustn: 'must', needn: 'need' };
const EN_IS = new Set(['let', 'it', 'that', 'what', 'he', 'she', 'there', 'here', 'who', 'where', 'how', 'name', 'this', 'everything', 'nothing', 'thing']);
const EN_SUFFIX: Record<string, string> = { re: 'are', ll: 'will', ve: 'have', d: 'would', m: 'am' };

/** Single-token rewrites for both languages (ASR spellings, canonical forms). */
const COMMON_WORDS: Record<string, string[]> = {
  okay: ['ok'], okey: ['ok'], oke: ['ok'], okej: ['ok'], oki: ['ok'], okidoki: ['ok'],
  email: ['email'], mail: ['mail'], mel: ['mail'], courriel: ['email'],
  wifi: ['wifi'], 'wi-fi': ['wifi'],
  mhm: ['mhm'], mmhmm: ['mhm'], mmhm: ['mhm'], hmhm: ['mhm'], uhhuh: ['mhm'],
};
const FR_WORDS: Record<string, string[]> = {
  ouai: ['ouais'], ouaip: ['ouais'], ouep: ['ouais'], ouape: ['ouais'], oue: ['ouais'], wai: ['ouais'], ouaisouais: ['ouais', 'ouais'],
  nan: ['non'], nope: ['non'],
  daccord: ['de', 'accord'], dac: ['de', 'accord'], dacc: ['de', 'accord'],
  jsuis: ['je', 'suis'], chuis: ['je', 'suis'], jsais: ['je', 'sais'], chais: ['je', 'sais'], chai: ['je', 'sais'],
  aujourdhui: ['aujourdhui'], ptet: ['peut', 'etre'], ptetre: ['peut', 'etre'],
  vingts: ['vingt'], cents: ['cent'], mil: ['mille'], milles: ['mille'],
  sil: ['si', 'il'], quil: ['que', 'il'], cest: ['ce', 'est'], jai: ['je', 'ai'], jen: ['je', 'en'],
  proprio: ['proprietaire'], proprios: ['proprietaires'],
};
const EN_WORDS: Record<string, string[]> = {
  dont: ['do', 'not'], doesnt: ['does', 'not'], didnt: ['did', 'not'], cant: ['can', 'not'], cannot: ['can', 'not'], wont: ['will', 'not'],
  isnt: ['is', 'not'], arent: ['are', 'not'], wasnt: ['was', 'not'], havent: ['have', 'not'], hasnt: ['has', 'not'], aint: ['is', 'not'],
  im: ['i', 'am'], ive: ['i', 'have'], thats: ['that', 'is'], whats: ['what', 'is'], its: ['it', 'is'], youre: ['you', 'are'],
  gonna: ['going', 'to'], wanna: ['want', 'to'], gotta: ['got', 'to'], lemme: ['let', 'me'], gimme: ['give', 'me'],
  yea: ['yeah'], ya: ['yeah'], yah: ['yeah'], yeh: ['yeah'], yup: ['yep'], nah: ['nah'], nope: ['nope'],
  alright: ['alright'],
};

/** Multi-token rewrites (after single-token ones): split spellings recognisers produce. */
const PHRASES: Array<[string[], string[]]> = [
  [['e', 'mail'], ['email']],
  [['e', 'mails'], ['email']],
  [['wi', 'fi'], ['wifi']],
  [['why', 'fi'], ['wifi']],
  [['o', 'k'], ['ok']],
  [['uh', 'huh'], ['mhm']],
  [['mm', 'hmm'], ['mhm']],
  [['all', 'right'], ['alright']],
  [['inter', 'net'], ['internet']],
  [['aujourd', 'hui'], ['aujourdhui']],
  [['au', 'jour', 'd', 'hui'], ['aujourdhui']],
  [['o', 'clock'], ['oclock']],
];

interface Chunk {
  text: string;
  start: number;
  end: number;
}

/** Word chunks of the text, letters and digits split apart ("14h30" → 14, h, 30). */
function chunks(text: string, symbols: boolean): Chunk[] {
  const out: Chunk[] = [];
  const re = symbols ? /[\p{L}\p{M}]+|\p{N}+|[@+_]|[.-](?=[\p{L}\p{N}])/gu : /[\p{L}\p{M}]+|\p{N}+/gu;
  for (const m of text.matchAll(re)) out.push({ text: m[0], start: m.index, end: m.index + m[0].length });
  return out;
}

/** Tokens of `text` in canonical form; see {@link Token}. */
export function tokenize(text: string, options: TokenizeOptions = {}): Token[] {
  const source = text.normalize('NFC');
  const lang = primaryLanguage(options.language);
  const raw = chunks(source, options.symbols ?? false);
  const out: Token[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    const word = foldWord(c.text);
    const next = raw[i + 1];
    const glued = next !== undefined && next.start === c.end + 1 && APOSTROPHES.test(source[c.end]);
    if (glued) {
      const nextWord = foldWord(next.text);
      const span = { start: c.start, end: next.end };
      if (nextWord === 't' && word in EN_NOT) {
        out.push({ norm: EN_NOT[word], ...span }, { norm: 'not', ...span });
        i++;
        continue;
      }
      if (nextWord === 's' && lang !== 'fr' && word.length > 1) {
        out.push({ norm: word, ...span });
        if (EN_IS.has(word)) out.push({ norm: word === 'let' ? 'us' : 'is', ...span });
        i++;
        continue;
      }
      if (nextWord in EN_SUFFIX && lang !== 'fr' && word.length > 0 && !(word in FR_ELISIONS)) {
        out.push({ norm: word, ...span }, { norm: EN_SUFFIX[nextWord], ...span });
        i++;
        continue;
      }
      if (word === 's' && lang !== 'en') {
        out.push({ norm: nextWord === 'il' || nextWord === 'ils' ? 'si' : 'se', start: c.start, end: c.end });
        continue;
      }
      if (word in FR_ELISIONS && lang !== 'en') {
        out.push({ norm: FR_ELISIONS[word], start: c.start, end: c.end });
        continue;
      }
    }
    const rewrite = COMMON_WORDS[word] ?? (lang !== 'en' ? FR_WORDS[word] : undefined) ?? (lang !== 'fr' ? EN_WORDS[word] : undefined);
    if (rewrite) for (const norm of rewrite) out.push({ norm, start: c.start, end: c.end });
    else out.push({ norm: word, start: c.start, end: c.end });
  }
  return rewritePhrases(out);
}

function rewritePhrases(tokens: Token[]): Token[] {
  const out: Token[] = [];
  outer: for (let i = 0; i < tokens.length; i++) {
    for (const [from, to] of PHRASES) {
      if (from.every((w, k) => tokens[i + k]?.norm === w)) {
        const start = tokens[i].start;
        const end = tokens[i + from.length - 1].end;
        for (const norm of to) out.push({ norm, start, end });
        i += from.length - 1;
        continue outer;
      }
    }
    out.push(tokens[i]);
  }
  return out;
}

/** The canonical form of `text` as one string: tokens joined by single spaces. */
export function normalizeText(text: string, language?: string): string {
  return tokenize(text, { language })
    .map((t) => t.norm)
    .join(' ');
}

/** Words that carry no meaning in an answer (hesitations, politeness), per language. */
export const FILLERS = new Set([
  'euh', 'heu', 'hum', 'hmm', 'hm', 'bah', 'ben', 'beh', 'bon', 'alors', 'donc', 'enfin', 'voila', 'genre', 'quoi', 'merci', 'monsieur', 'madame', 'mademoiselle', 'svp',
  'um', 'uh', 'uhm', 'er', 'erm', 'ah', 'oh', 'well', 'so', 'like', 'please', 'thanks', 'thank', 'you', 'sir', 'maam', 'mm',
]);
