/**
 * The intent chain a flow runs with: the local classifier built from the
 * flow's examples first, then any remote steps the configuration adds
 * (embeddings, LLM) in order, each with its own timeout. Built once per flow,
 * since compiling the examples is the costly part.
 */
import { createIntentChain, createLocalClassifier, type ChainStep } from './intents/index.js';
import { intentDefinitions } from './index.js';
import type { LoadedFlow } from './loader.js';
import type { IntentClassifier } from './types.js';

const DEFAULT_THRESHOLD = 0.5;
const cache = new WeakMap<LoadedFlow, IntentClassifier>();

export interface FlowClassifierOptions {
  /** Steps tried after the local classifier when it is not confident enough. */
  remoteSteps?: ChainStep[];
  /** Budget of the local step (it answers in well under a millisecond). */
  localTimeoutMs?: number;
}

export function createFlowClassifier(flow: LoadedFlow, options: FlowClassifierOptions = {}): IntentClassifier {
  const shared = !options.remoteSteps?.length;
  const hit = shared ? cache.get(flow) : undefined;
  if (hit) return hit;
  const threshold = flow.definition.defaults?.intent_threshold ?? DEFAULT_THRESHOLD;
  const chain = createIntentChain(
    [{ name: 'local', classifier: createLocalClassifier(intentDefinitions(flow)), timeoutMs: options.localTimeoutMs ?? 1000 }, ...(options.remoteSteps ?? [])],
    { threshold },
  );
  if (shared) cache.set(flow, chain);
  return chain;
}
