/** The real call behind an AudioSocket connection: the same building blocks as a browser call. */
import { createCallSession, type CallSession, type CallSessionOptions } from '../../call/session.js';
import { type Config, callSessionOptions } from '../../config.js';
import { createFlowClassifier } from '../../dialog/classifier.js';
import type { DialogLlm } from '../../dialog/llm.js';
import type { FlowRegistry } from '../../dialog/loader.js';
import { createDialogRuntime } from '../../dialog/runtime.js';
import type { Engines } from '../../engines/registry.js';
import { PhraseCache } from '../../engines/tts/phrase-cache.js';
import type { Logger } from '../../log.js';
import { sessionEngines } from '../browser/call.js';
import type { AudioSocketIO } from './io.js';

export interface AudioSocketCallDeps {
  config: Config;
  engines: Engines;
  flows: () => Promise<FlowRegistry>;
  session?: CallSessionOptions;
  llm?: DialogLlm;
}

export type AudioSocketCallFactory = (io: AudioSocketIO, flow: string, language: string, logger: Logger) => Promise<CallSession>;

export function createAudioSocketCallFactory(deps: AudioSocketCallDeps): AudioSocketCallFactory {
  // One phrase cache for every phone call: greetings and prompts repeat.
  const cache = new PhraseCache({ maxEntries: deps.config.engines.tts.cacheEntries, maxBytes: deps.config.engines.tts.cacheBytes, resampler: deps.engines.resampler, resampleQuality: deps.config.audio.resampleQuality });
  return async (io, flowId, language, logger) => {
    const flow = (await deps.flows()).get(flowId);
    const dialog = createDialogRuntime(flow, { language, classifier: createFlowClassifier(flow), llm: deps.llm });
    const engines = sessionEngines(deps.engines, language, cache, deps.config.preprocess.denoise);
    return createCallSession({ io, dialog, engines, language, logger, options: deps.session ?? callSessionOptions(deps.config) });
  };
}
