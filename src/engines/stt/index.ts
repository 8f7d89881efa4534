/** STT engines by name: each loads its native parts and models, or fails with engine_unavailable saying why. */
import { PalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createPocketSphinx, type PocketSphinxOptions } from './pocketsphinx.js';
import { createSherpa, type SherpaOptions } from './sherpa.js';
import type { Stt } from './types.js';

export type SttEngineName = 'pocketsphinx' | 'sherpa';
export const STT_ENGINE_NAMES: readonly SttEngineName[] = ['pocketsphinx', 'sherpa'];

export interface CreateSttOptions {
  /** Config `engines.stt.pocketsphinx` plus any PocketSphinxOptions. */
  pocketsphinx?: Partial<PocketSphinxOptions>;
  /** Config `engines.stt.sherpa` plus `modelsDir` (config `models.dir`). */
  sherpa?: Partial<SherpaOptions>;
  logger?: Logger;
}

export async function createStt(name: SttEngineName, options: CreateSttOptions = {}): Promise<Stt> {
  const logger = options.logger;
  switch (name) {
    case 'pocketsphinx':
      return createPocketSphinx({ ...(logger ? { logger } : {}), ...options.pocketsphinx });
    case 'sherpa':
      return createSherpa({ ...(logger ? { logger } : {}), ...options.sherpa });
    default:
      throw new PalabreError('engine_unavailable', `unknown speech-to-text engine "${String(name)}"; known engines: ${STT_ENGINE_NAMES.join(', ')}`);
  }
}

export type { Stt, SttOptions, SttResult, SttStream, SttEvent } from './types.js';
export { applyDegenerateGuard, checkDegenerate } from './degenerate.js';
