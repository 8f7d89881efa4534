/**
 * How the benchmark builds a call: the shipped flow's dialog and the server's
 * engines exactly as src/call/factory.ts assembles them, with two differences
 * that are the point of the benchmark: recognition comes from an `SttSource`
 * chosen per call (the scripted stand-in today), and the IO is wrapped to
 * measure inbound processing lag. One phrase cache serves every call, as in
 * the server.
 */
import type { CallIO } from '../../src/call/io.js';
import { ttsFor } from '../../src/call/engines.js';
import { createCallSession, type CallSession } from '../../src/call/session.js';
import { type Config, callSessionOptions } from '../../src/config.js';
import { createFlowClassifier } from '../../src/dialog/classifier.js';
import type { FlowRegistry } from '../../src/dialog/loader.js';
import { createDialogRuntime } from '../../src/dialog/runtime.js';
import type { Engines } from '../../src/engines/registry.js';
import { PhraseCache } from '../../src/engines/tts/phrase-cache.js';
import { PalabreError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { type InboundMeter, MeasuredIO } from './measured-io.js';
import type { SttSource } from './scripted-stt.js';

export type BenchCallFactory = (io: CallIO, flow: string, language: string, logger: Logger) => Promise<CallSession>;

export interface BenchCallDeps {
  config: Config;
  engines: Engines;
  flows: FlowRegistry;
  stt: SttSource;
  meter: InboundMeter;
}

export function createBenchCallFactory(deps: BenchCallDeps): { create: BenchCallFactory; cache: PhraseCache } {
  const { config, engines } = deps;
  const cache = new PhraseCache({ maxEntries: config.engines.tts.cacheEntries, maxBytes: config.engines.tts.cacheBytes, resampler: engines.resampler, resampleQuality: config.audio.resampleQuality });
  const vad = engines.vad;
  if (!vad) throw new PalabreError('engine_unavailable', 'the call benchmark needs a VAD and none loaded');
  const create: BenchCallFactory = async (io, flowId, language, logger) => {
    const flow = deps.flows.get(flowId);
    const dialog = createDialogRuntime(flow, { language, classifier: createFlowClassifier(flow) });
    return createCallSession({
      io: new MeasuredIO(io, deps.meter),
      dialog,
      engines: { vad, stt: await deps.stt(io.id), tts: ttsFor(engines, language), cache, resampler: engines.resampler, denoiser: config.preprocess.denoise ? engines.denoiser : undefined },
      language,
      logger,
      options: callSessionOptions(config),
    });
  };
  return { create, cache };
}
