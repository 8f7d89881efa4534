/** The speech operations the HTTP API and the CLI offer, bound to one set of loaded engines. */
import type { Config } from '../config.js';
import type { Engines } from '../engines/registry.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import { silentLogger, type Logger } from '../log.js';
import type { Metrics } from '../server/metrics.js';
import { type CleanRequest, type CleanResponse, type CleanStats, createCleaner } from './clean.js';
import { type SynthesizeRequest, type SynthesizeResponse, synthesizeText } from './synthesize.js';
import { type TranscribeRequest, type TranscribeResponse, transcribeAudio } from './transcribe.js';

export interface SpeechServices {
  transcribe(req: TranscribeRequest): Promise<TranscribeResponse>;
  synthesize(req: SynthesizeRequest): Promise<SynthesizeResponse>;
  clean(req: CleanRequest): CleanResponse;
  cleanStats(): CleanStats;
  cacheStats(): ReturnType<PhraseCache['stats']>;
}

export function createSpeechServices(deps: { config: Config; engines: Engines; metrics?: Metrics; logger?: Logger }): SpeechServices {
  const logger = deps.logger ?? silentLogger;
  const cache = new PhraseCache({ maxEntries: deps.config.engines.tts.cacheEntries, maxBytes: deps.config.engines.tts.cacheBytes, resampler: deps.engines.resampler });
  const cleaner = createCleaner(deps.engines, logger);
  const ctx = { config: deps.config, engines: deps.engines, metrics: deps.metrics };
  return {
    transcribe: (req) => transcribeAudio(ctx, req),
    synthesize: (req) => synthesizeText({ ...ctx, cache }, req),
    clean: (req) => cleaner.clean(req),
    cleanStats: () => cleaner.stats(),
    cacheStats: () => cache.stats(),
  };
}
