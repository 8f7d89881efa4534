/**
 * Intent classification by meaning: the examples are embedded once (lazily,
 * per language, cached) by an OpenAI-compatible `POST {baseUrl}/embeddings`
 * (the shared client of src/engines/openai), and an utterance goes to the
 * intent of its nearest example by cosine similarity. One request per
 * utterance.
 *
 * Cosine similarity is not a probability and its range depends on the model
 * (some models put unrelated sentences at 0.7); `similarityFloor` and
 * `similarityCeil` map it linearly onto the 0..1 confidence the chain compares
 * with its threshold.
 */
import { createOpenAiClient, type OpenAiServerOptions } from '../../engines/openai/client.js';
import { createEmbedder } from '../../engines/openai/embeddings.js';
import { PalabreError } from '../../errors.js';
import type { IntentClassifier, IntentDefinition, IntentResult } from '../types.js';
import { primaryLanguage } from './normalize.js';

export interface EmbeddingsClassifierOptions extends OpenAiServerOptions {
  model: string;
  intents: IntentDefinition[];
  /** Below this confidence the result is `intent: null`. Default 0.5. */
  threshold?: number;
  /** Cosine similarity that maps to confidence 0. Default 0. */
  similarityFloor?: number;
  /** Cosine similarity that maps to confidence 1. Default 1. */
  similarityCeil?: number;
  /** Texts per request when embedding the examples. Default 128. */
  batchSize?: number;
  /** Timeout of each request embedding the examples (they run once, in the background of the first calls). Default 30 000 ms. */
  prepareTimeoutMs?: number;
  /** `source` of the results. Default 'embeddings'. */
  source?: string;
}

export interface EmbeddingsClassifier extends IntentClassifier {
  /** Embeds the examples of `language` now rather than on the first utterance. */
  prepare(language: string, signal?: AbortSignal): Promise<void>;
}

interface Index {
  intents: string[];
  vectors: Float64Array[];
}

export function createEmbeddingsClassifier(options: EmbeddingsClassifierOptions): EmbeddingsClassifier {
  const threshold = options.threshold ?? 0.5;
  const floor = options.similarityFloor ?? 0;
  const ceil = options.similarityCeil ?? 1;
  if (!(ceil > floor)) throw new PalabreError('config_invalid', `embeddings classifier: similarityCeil (${ceil}) must be above similarityFloor (${floor})`);
  const source = options.source ?? 'embeddings';
  const batchSize = Math.max(1, options.batchSize ?? 128);
  const indexes = new Map<string, Promise<Index>>();

  const embedder = createEmbedder({ client: createOpenAiClient(options), model: options.model });
  const embed = (texts: string[], signal: AbortSignal | undefined, timeoutMs: number) => embedder.embed(texts, { signal, timeoutMs });

  function indexFor(language: string): Promise<Index> {
    let index = indexes.get(language);
    if (!index) {
      const intents: string[] = [];
      const texts: string[] = [];
      for (const def of options.intents) {
        const own = Object.entries(def.examples).filter(([l]) => primaryLanguage(l) === language);
        for (const text of (own.length > 0 ? own : Object.entries(def.examples)).flatMap(([, v]) => v)) {
          intents.push(def.name);
          texts.push(text);
        }
      }
      index = (async () => {
        const vectors: Float64Array[] = [];
        for (let i = 0; i < texts.length; i += batchSize) vectors.push(...(await embed(texts.slice(i, i + batchSize), undefined, options.prepareTimeoutMs ?? 30_000)));
        return { intents, vectors };
      })();
      // A failed preparation is retried by the next utterance rather than cached.
      index.catch(() => indexes.delete(language));
      indexes.set(language, index);
    }
    return index;
  }

  return {
    async prepare(language, signal) {
      await abortable(indexFor(primaryLanguage(language)), signal);
    },
    async classify(text, { language, candidates, signal }): Promise<IntentResult> {
      const allowed = new Set(candidates);
      if (!options.intents.some((d) => allowed.has(d.name)) || text.trim() === '') return { intent: null, confidence: 0, source };
      const [index, [query]] = await Promise.all([abortable(indexFor(primaryLanguage(language)), signal), embed([text], signal, options.timeoutMs)]);
      let best = -Infinity;
      let bestIntent: string | null = null;
      for (let i = 0; i < index.vectors.length; i++) {
        if (!allowed.has(index.intents[i])) continue;
        const v = index.vectors[i];
        if (v.length !== query.length) throw new PalabreError('engine_failed', `embeddings of the examples have ${v.length} dimensions but the utterance has ${query.length}: did the model change?`);
        let dot = 0;
        for (let k = 0; k < v.length; k++) dot += v[k] * query[k];
        if (dot > best) {
          best = dot;
          bestIntent = index.intents[i];
        }
      }
      if (bestIntent === null) return { intent: null, confidence: 0, source };
      const confidence = Math.round(Math.min(1, Math.max(0, (best - floor) / (ceil - floor))) * 1000) / 1000;
      return { intent: confidence >= threshold ? bestIntent : null, confidence, source };
    },
  };
}

/** Waits for `promise` unless `signal` fires first (the work itself goes on, for the next caller). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new PalabreError('aborted', 'embeddings classification was cancelled', { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new PalabreError('aborted', 'embeddings classification was cancelled', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
