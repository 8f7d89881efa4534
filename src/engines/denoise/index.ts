import { PalabreError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { withFailsafe } from './failsafe.js';
import { createRnnoise } from './rnnoise.js';
import type { DenoiseStats, Denoiser } from './types.js';

export { createDenoiseStats, withFailsafe, FailsafeDenoiser } from './failsafe.js';
export type { DenoiseStats, DenoiseStream, Denoiser } from './types.js';

export const DENOISE_ENGINES = ['rnnoise', 'none'] as const;
export type DenoiseEngineName = (typeof DENOISE_ENGINES)[number];

export interface CreateDenoiserOptions {
  /** Where engine failures are logged; pass the process logger so fallbacks are seen. Default: silent. */
  logger?: Logger;
  /** Counters the fail-safe adds to (errors, fallbacks, processing time). */
  stats?: DenoiseStats;
  /** Wrap the engine so its failures pass audio through instead of throwing (default true). */
  failsafe?: boolean;
  /** Speex quality of RNNoise's resampling to 48 kHz and back (config `audio.resampleQuality`). Default 5. */
  quality?: number;
}

/** The named noise suppressor, or null for 'none'; fails with `engine_unavailable` naming what is missing. */
export async function createDenoiser(name: DenoiseEngineName, options: CreateDenoiserOptions = {}): Promise<Denoiser | null> {
  if (name === 'none') return null;
  if (name !== 'rnnoise') {
    throw new PalabreError('engine_unavailable', `unknown denoise engine "${String(name)}"; use one of ${DENOISE_ENGINES.join(', ')}`);
  }
  const engine = await createRnnoise({ quality: options.quality });
  if (options.failsafe === false) return engine;
  return withFailsafe(engine, { logger: (options.logger ?? silentLogger).child({ module: 'denoise' }), stats: options.stats });
}
