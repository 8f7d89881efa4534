/** STT engines by name: each loads its native parts and models, or fails with engine_unavailable saying why. */
import { PalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { createPocketSphinx, type PocketSphinxOptions } from './pocketsphinx.js';
import type { DeepgramOptions } from './deepgram.js';
import type { OpenAiSttConfigOptions } from './openai.js';
import { createSherpa, type SherpaOptions } from './sherpa.js';
import type { Stt } from './types.js';

export type SttEngineName = 'pocketsphinx' | 'sherpa' | 'openai' | 'deepgram';
export const STT_ENGINE_NAMES: readonly SttEngineName[] = ['pocketsphinx', 'sherpa', 'openai', 'deepgram'];

export interface CreateSttOptions {
  /** Config `engines.stt.pocketsphinx` plus any PocketSphinxOptions. */
  pocketsphinx?: Partial<PocketSphinxOptions>;
  /** Config `engines.stt.sherpa` plus `modelsDir` (config `models.dir`). */
  sherpa?: Partial<SherpaOptions>;
  /** Config `engines.openai` and `engines.stt.language`. */
  openai?: OpenAiSttConfigOptions;
  /** Config `engines.stt.deepgram` plus any DeepgramOptions (a usage callback). */
  deepgram?: Partial<DeepgramOptions>;
  logger?: Logger;
}

export async function createStt(name: SttEngineName, options: CreateSttOptions = {}): Promise<Stt> {
  const logger = options.logger;
  switch (name) {
    case 'pocketsphinx':
      return createPocketSphinx({ ...(logger ? { logger } : {}), ...options.pocketsphinx });
    case 'sherpa':
      return createSherpa({ ...(logger ? { logger } : {}), ...options.sherpa });
    case 'openai': {
      const { createOpenAiSttFromConfig } = await import('./openai.js');
      return createOpenAiSttFromConfig(options.openai ?? {});
    }
    case 'deepgram': {
      const { createDeepgram } = await import('./deepgram.js');
      return createDeepgram({ ...(logger ? { logger } : {}), ...options.deepgram });
    }
    default:
      throw new PalabreError('engine_unavailable', `unknown speech-to-text engine "${String(name)}"; known engines: ${STT_ENGINE_NAMES.join(', ')}`);
  }
}

export type { Stt, SttOptions, SttResult, SttStream, SttEvent } from './types.js';
export { applyDegenerateGuard, checkDegenerate } from './degenerate.js';
