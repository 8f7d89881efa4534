/**
 * The offline intent classifier: each intent's examples and keywords, matched
 * against the transcript word by word with forgiving word similarity, weighted
 * by how specific each word is to one intent (IDF over intents), and scored as
 * a recall-leaning F-measure against the closest example. On top of that:
 * keywords alone point to their intent; pure yes/no answers go to the intents
 * whose examples are yes/no answers; a negated statement does not match an
 * intent whose examples all say the opposite.
 *
 * Confidence: 1 for an example said word for word, > 0.7 for a clear match with
 * recogniser errors or fillers, < 0.4 for unrelated text; two intents scoring
 * alike lower it (ambiguity), so the flow's `unknown` path can ask again.
 */
import { PalabreError } from '../../errors.js';
import type { IntentClassifier, IntentDefinition, IntentResult } from '../types.js';
import { readYesNo } from '../slots/yes-no.js';
import { letterSimilarity, MIN_WORD_SIMILARITY } from './fuzzy.js';
import { FILLERS, primaryLanguage, tokenize } from './normalize.js';
import { isNegated } from './polarity.js';
import { weightFactor } from './stopwords.js';

export interface LocalClassifierOptions {
  /** Below this confidence the result is `intent: null`. Default 0.5. */
  threshold?: number;
  /** `source` of the results. Default 'local'. */
  source?: string;
}

interface Example {
  ids: Int32Array;
  weights: Float64Array;
  total: number;
  negated: boolean;
}
interface Keyword {
  ids: Int32Array;
  weight: number;
  negated: boolean;
}
interface CompiledIntent {
  name: string;
  examples: Example[];
  keywords: Keyword[];
  /** The intent is a yes (true) or a no (false) answer. */
  polarity: boolean | null;
  /** 1 for every vocabulary word of its examples and keywords. */
  vocab: Uint8Array;
  hasNegated: boolean;
  hasPlain: boolean;
}
interface Model {
  language: string;
  vocab: Map<string, number>;
  words: string[];
  /** 1 for words that may match inexactly: five letters or more, no digits. */
  fuzzy: Uint8Array;
  weight: Float64Array;
  unknownWeight: number;
  intents: Map<string, CompiledIntent>;
  cache: Map<string, Array<[number, number]>>;
  /** Scratch space, reset after each query (classification is synchronous). */
  mark: Int32Array;
  simQ: Float64Array;
  stamp: number;
}

const BETA2 = 2;
const UNION_WEIGHT = 0.9;
const CACHE_LIMIT = 5000;
const MAX_CHARS = 2000;

export function createLocalClassifier(intents: IntentDefinition[], options: LocalClassifierOptions = {}): IntentClassifier {
  const threshold = options.threshold ?? 0.5;
  if (!(threshold >= 0 && threshold <= 1)) throw new PalabreError('config_invalid', `local classifier threshold must be between 0 and 1, got ${threshold}`);
  const seen = new Set<string>();
  for (const intent of intents) {
    if (seen.has(intent.name)) throw new PalabreError('config_invalid', `intent "${intent.name}" is defined twice`);
    seen.add(intent.name);
  }
  const source = options.source ?? 'local';
  const models = new Map<string, Model>();
  const modelFor = (language: string): Model => {
    let model = models.get(language);
    if (!model) {
      model = buildModel(intents, language);
      models.set(language, model);
    }
    return model;
  };
  return {
    async classify(text, { language, candidates, signal }): Promise<IntentResult> {
      if (signal?.aborted) throw new PalabreError('aborted', 'intent classification was cancelled', { cause: signal.reason });
      const lang = primaryLanguage(language);
      const scores = scoreAll(modelFor(lang), text, lang, candidates);
      return decide(scores, threshold, source);
    },
  };
}

/** Scores of every candidate intent known to this classifier, in candidate order. */
function scoreAll(model: Model, text: string, language: string, candidates: readonly string[]): Array<{ name: string; score: number }> {
  // A turn is a few sentences; past that, the start of what was said decides (and the cost stays bounded).
  const query = tokenize(text.slice(0, MAX_CHARS), { language }).map((t) => t.norm);
  if (query.length === 0) return [];
  const unique = [...new Set(query)];
  const matches = unique.map((q) => similarWords(model, q));
  const qIds = matches.map((list) => Int32Array.from(list, (m) => m[0]));
  const qSims = matches.map((list) => Float64Array.from(list, (m) => m[1]));
  // A word the intents do not know weighs like a rare word: it is a sign the caller talks about something else.
  const qWeights = Float64Array.from(unique, (q, i) => (matches[i].length > 0 ? model.weight[matches[i][0][0]] : model.unknownWeight * weightFactor(q, language)));
  const qTotal = qWeights.reduce((a, b) => a + b, 0);
  const n = unique.length;
  // Best similarity of each vocabulary word to any word of the utterance (scratch array, cleared below).
  const simQ = model.simQ;
  for (let i = 0; i < n; i++) for (let k = 0; k < qIds[i].length; k++) if (simQ[qIds[i][k]] < qSims[i][k]) simQ[qIds[i][k]] = qSims[i][k];
  const strongAt = query.map((q) => new Set(similarWords(model, q).filter((m) => m[1] >= 0.8).map((m) => m[0])));
  const negated = isNegated(query);
  const yesNo = readYesNo(query, language);
  const mark = model.mark;
  if (model.stamp > 1e9) {
    mark.fill(0);
    model.stamp = 0;
  }

  const out: Array<{ name: string; score: number }> = [];
  try {
    for (const name of candidates) {
      const intent = model.intents.get(name);
      if (!intent) continue;
      const samePolarityExists = negated ? intent.hasNegated : intent.hasPlain;
      // How much of the utterance the intent's vocabulary explains, all examples together ("phone" from one, "not working" from another).
      let covered = 0;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < qIds[i].length; k++) if (intent.vocab[qIds[i][k]] === 1 && qSims[i][k] > s) s = qSims[i][k];
        covered += qWeights[i] * s;
      }
      const pUnion = qTotal > 0 ? (UNION_WEIGHT * covered) / qTotal : 0;
      let best = 0;
      for (const ex of intent.examples) {
        const stamp = ++model.stamp;
        let recall = 0;
        for (let k = 0; k < ex.ids.length; k++) {
          mark[ex.ids[k]] = stamp;
          recall += ex.weights[k] * simQ[ex.ids[k]];
        }
        let precision = 0;
        for (let i = 0; i < n; i++) {
          let s = 0;
          const ids = qIds[i];
          for (let k = 0; k < ids.length; k++) if (mark[ids[k]] === stamp && qSims[i][k] > s) s = qSims[i][k];
          precision += qWeights[i] * s;
        }
        const p = Math.max(qTotal > 0 ? precision / qTotal : 0, pUnion);
        const r = ex.total > 0 ? recall / ex.total : 0;
        let f = p + r > 0 ? ((1 + BETA2) * p * r) / (BETA2 * p + r) : 0;
        if (ex.negated !== negated) f *= samePolarityExists ? 0.8 : 0.5;
        if (f > best) best = f;
      }
      for (const kw of intent.keywords) {
        if (!containsKeyword(strongAt, kw)) continue;
        let s = 0.8 + 0.15 * Math.min(1, kw.weight / Math.max(qTotal, 1e-9));
        if (negated && !kw.negated && !samePolarityExists) s *= 0.5;
        if (s > best) best = s;
      }
      if (yesNo && intent.polarity !== null) {
        if (intent.polarity === yesNo.value) {
          if (yesNo.exclusive) best = Math.max(best, 0.6 + 0.38 * yesNo.confidence);
          else if (yesNo.leading) best = Math.max(best, 0.45 + 0.2 * yesNo.confidence);
        } else if (yesNo.exclusive) best *= 0.3;
        else if (yesNo.leading) best *= 0.6;
      }
      out.push({ name, score: best });
    }
  } finally {
    for (let i = 0; i < n; i++) for (const id of qIds[i]) simQ[id] = 0;
  }
  return out;
}

function decide(scores: Array<{ name: string; score: number }>, threshold: number, source: string): IntentResult {
  let first: { name: string; score: number } | undefined;
  let second = 0;
  for (const s of scores) {
    if (!first || s.score > first.score) {
      if (first) second = Math.max(second, first.score);
      first = s;
    } else second = Math.max(second, s.score);
  }
  if (!first || first.score <= 0) return { intent: null, confidence: 0, source };
  // Two intents matching alike is a reason to ask again rather than guess.
  const closeness = Math.min(1, Math.max(0, 1 - (first.score - second) / 0.25));
  const confidence = Math.round(first.score * (1 - 0.3 * closeness) * 1000) / 1000;
  return { intent: confidence >= threshold ? first.name : null, confidence, source };
}

function containsKeyword(strongAt: ReadonlyArray<ReadonlySet<number>>, kw: Keyword): boolean {
  outer: for (let i = 0; i + kw.ids.length <= strongAt.length; i++) {
    for (let k = 0; k < kw.ids.length; k++) if (!strongAt[i + k].has(kw.ids[k])) continue outer;
    return true;
  }
  return false;
}

/** Vocabulary words close to `word`, best first, as [id, similarity]. */
function similarWords(model: Model, word: string): Array<[number, number]> {
  const hit = model.cache.get(word);
  if (hit) return hit;
  const out: Array<[number, number]> = [];
  const exact = model.vocab.get(word);
  if (exact !== undefined) out.push([exact, 1]);
  if (word.length >= 5 && !/\d/.test(word)) {
    for (let id = 0; id < model.words.length; id++) {
      if (id === exact || !model.fuzzy[id]) continue;
      const w = model.words[id];
      if (Math.abs(w.length - word.length) > 2 && !(w.startsWith(word) || word.startsWith(w))) continue;
      const s = letterSimilarity(word, w);
      if (s >= MIN_WORD_SIMILARITY) out.push([id, s]);
    }
  }
  out.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  if (model.cache.size >= CACHE_LIMIT) model.cache.clear();
  model.cache.set(word, out);
  return out;
}

function buildModel(definitions: IntentDefinition[], language: string): Model {
  const pick = (m: Record<string, string[]> | undefined): string[] => {
    if (!m) return [];
    const own = Object.entries(m).filter(([l]) => primaryLanguage(l) === language).flatMap(([, v]) => v);
    return own.length > 0 ? own : Object.values(m).flat();
  };
  const texts = definitions.map((d) => ({
    name: d.name,
    examples: pick(d.examples).map((t) => tokenize(t, { language }).map((x) => x.norm)).filter((t) => t.length > 0),
    keywords: pick(d.keywords).map((t) => tokenize(t, { language }).map((x) => x.norm)).filter((t) => t.length > 0),
  }));
  const vocab = new Map<string, number>();
  const words: string[] = [];
  const df: number[] = [];
  for (const t of texts) {
    const inIntent = new Set<string>([...t.examples.flat(), ...t.keywords.flat()]);
    for (const w of inIntent) {
      let id = vocab.get(w);
      if (id === undefined) {
        id = words.length;
        vocab.set(w, id);
        words.push(w);
        df.push(0);
      }
      df[id]++;
    }
  }
  const n = Math.max(1, texts.length);
  const weight = new Float64Array(words.length);
  for (let id = 0; id < words.length; id++) weight[id] = Math.log(1 + n / df[id]) * weightFactor(words[id], language);
  const model: Model = {
    language,
    vocab,
    words,
    fuzzy: Uint8Array.from(words, (w) => (w.length >= 5 && !/\d/.test(w) ? 1 : 0)),
    weight,
    unknownWeight: 0.8 * Math.log(1 + n),
    intents: new Map(),
    cache: new Map(),
    mark: new Int32Array(words.length),
    simQ: new Float64Array(words.length),
    stamp: 0,
  };
  for (const t of texts) {
    const examples = t.examples.map((tokens): Example => {
      const ids = Int32Array.from(new Set(tokens.map((w) => vocab.get(w) as number)));
      const weights = Float64Array.from(ids, (id) => weight[id]);
      return { ids, weights, total: weights.reduce((a, b) => a + b, 0), negated: isNegated(tokens) };
    });
    const keywords = t.keywords.map((tokens): Keyword => {
      const ids = Int32Array.from(tokens.map((w) => vocab.get(w) as number));
      return { ids, weight: ids.reduce((a, id) => a + weight[id], 0), negated: isNegated(tokens) };
    });
    let yes = 0;
    let no = 0;
    for (const tokens of [...t.examples, ...t.keywords]) {
      if (tokens.every((w) => FILLERS.has(w))) continue;
      const r = readYesNo(tokens, language);
      if (r?.exclusive && r.value) yes++;
      else if (r?.exclusive) no++;
    }
    const total = t.examples.length + t.keywords.length;
    const polarity = yes > 0 && no === 0 && yes >= 0.3 * total ? true : no > 0 && yes === 0 && no >= 0.3 * total ? false : null;
    model.intents.set(t.name, {
      name: t.name,
      examples,
      keywords,
      polarity,
      vocab: membership(words.length, [...examples.flatMap((e) => [...e.ids]), ...keywords.flatMap((k) => [...k.ids])]),
      hasNegated: examples.some((e) => e.negated),
      hasPlain: examples.some((e) => !e.negated) || examples.length === 0,
    });
  }
  return model;
}

function membership(size: number, ids: number[]): Uint8Array {
  const out = new Uint8Array(size);
  for (const id of ids) out[id] = 1;
  return out;
}
