/**
 * The intent chain: classifiers tried in order (local, then embeddings, then
 * an LLM; or a main classifier, then an FAQ one), each under its own timeout.
 * The first answer at or above the threshold wins; a step that fails or runs
 * out of time is logged and skipped, so a slow or broken server costs at most
 * its timeout and never the turn. Only the caller's own signal (hang-up,
 * barge-in) stops the chain.
 */
import { PalabreError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { IntentClassifier, IntentResult } from '../types.js';

export interface ChainStep {
  /** Becomes the result's `source`. */
  name: string;
  classifier: IntentClassifier;
  timeoutMs: number;
}

export interface ChainOptions {
  /** A step's answer counts from this confidence up. */
  threshold: number;
  logger?: Logger;
}

export function createIntentChain(steps: ChainStep[], options: ChainOptions): IntentClassifier {
  if (!(options.threshold >= 0 && options.threshold <= 1)) {
    throw new PalabreError('config_invalid', `intent chain threshold must be between 0 and 1, got ${options.threshold}`);
  }
  for (const step of steps) {
    if (!(step.timeoutMs > 0)) throw new PalabreError('config_invalid', `intent chain step "${step.name}" needs a positive timeoutMs, got ${step.timeoutMs}`);
  }
  const log = (options.logger ?? silentLogger).child({ module: 'intent-chain' });
  return {
    async classify(text, { language, candidates, signal }): Promise<IntentResult> {
      let best: IntentResult | null = null;
      for (const step of steps) {
        if (signal?.aborted) throw new PalabreError('aborted', 'intent classification was cancelled', { cause: signal.reason });
        const started = performance.now();
        let result: IntentResult;
        try {
          result = await runStep(step, text, language, candidates, signal);
        } catch (err) {
          if (signal?.aborted) throw new PalabreError('aborted', 'intent classification was cancelled', { cause: signal.reason });
          log.warn({ step: step.name, err: err instanceof Error ? err.message : String(err), ms: Math.round(performance.now() - started) }, 'intent step failed; trying the next one');
          continue;
        }
        if (result.intent !== null && !candidates.includes(result.intent)) {
          log.warn({ step: step.name, intent: result.intent }, 'intent step answered an intent that is not a candidate; ignored');
          continue;
        }
        log.debug({ step: step.name, intent: result.intent, confidence: result.confidence, ms: Math.round(performance.now() - started) }, 'intent step answered');
        const answer: IntentResult = { ...result, source: step.name };
        if (answer.intent !== null && answer.confidence >= options.threshold) return answer;
        if (!best || answer.confidence > best.confidence) best = answer;
      }
      return { intent: null, confidence: best?.confidence ?? 0, source: best?.source ?? 'none' };
    },
  };
}

/** One step under its timeout: resolves with its answer or rejects when it fails, times out or the caller aborts. */
function runStep(step: ChainStep, text: string, language: string, candidates: readonly string[], outer: AbortSignal | undefined): Promise<IntentResult> {
  const timeout = new AbortController();
  const signal = outer ? AbortSignal.any([timeout.signal, outer]) : timeout.signal;
  return new Promise<IntentResult>((resolve, reject) => {
    const onAbort = () => {
      done();
      reject(
        outer?.aborted
          ? new PalabreError('aborted', 'intent classification was cancelled', { cause: outer.reason })
          : new PalabreError('engine_unavailable', `intent step "${step.name}" gave no answer within ${step.timeoutMs} ms`),
      );
    };
    const timer = setTimeout(() => timeout.abort(), step.timeoutMs);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    signal.addEventListener('abort', onAbort, { once: true });
    let pending: Promise<IntentResult>;
    try {
      pending = step.classifier.classify(text, { language, candidates, signal });
    } catch (err) {
      done();
      reject(err);
      return;
    }
    // A classifier that ignores its signal keeps running; its late answer or error is dropped here.
    pending.then(
      (r) => {
        done();
        resolve(r);
      },
      (err: unknown) => {
        done();
        reject(err);
      },
    );
  });
}
