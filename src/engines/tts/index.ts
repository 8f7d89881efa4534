/**
 * Text-to-speech engines by name. Each engine module is imported only when asked for:
 * espeak drives GPL-3.0 software, so nothing reaches it unless a deployment chooses it,
 * and elevenlabs is a cloud service that needs its settings.
 */
import { PalabreError } from '../../errors.js';
import type { ElevenLabsOptions, ElevenLabsTts } from './elevenlabs.js';
import type { EspeakOptions, EspeakTts } from './espeak.js';
import type { FliteOptions, FliteTts } from './flite.js';
import type { OpenAiTts, OpenAiTtsConfigOptions } from './openai.js';
import type { Tts } from './types.js';

export const TTS_ENGINES = ['espeak', 'flite', 'elevenlabs', 'openai'] as const;
export type TtsEngineName = (typeof TTS_ENGINES)[number];

export type { ElevenLabsOptions, ElevenLabsTts, EspeakOptions, EspeakTts, FliteOptions, FliteTts };
export type { Tts, TtsOptions, TtsVoice, SpeakingStyle } from './types.js';
export { SPEAKING_STYLES } from './types.js';

export function createTts(name: 'espeak', options?: EspeakOptions): Promise<EspeakTts>;
export function createTts(name: 'flite', options?: FliteOptions): Promise<FliteTts>;
export function createTts(name: 'elevenlabs', options: ElevenLabsOptions): Promise<ElevenLabsTts>;
export function createTts(name: 'openai', options: OpenAiTtsConfigOptions): Promise<OpenAiTts>;
export function createTts(name: TtsEngineName, options?: EspeakOptions | FliteOptions | ElevenLabsOptions | OpenAiTtsConfigOptions): Promise<Tts>;
/**
 * Loads an engine; fails with engine_unavailable saying what is missing (the npm
 * package, the program on PATH) when neither of its back-ends can run.
 */
export async function createTts(name: TtsEngineName, options: EspeakOptions | FliteOptions | ElevenLabsOptions | OpenAiTtsConfigOptions = {}): Promise<Tts> {
  switch (name) {
    case 'espeak': {
      const { createEspeakTts } = await import('./espeak.js');
      return createEspeakTts(options as EspeakOptions);
    }
    case 'flite': {
      const { createFliteTts } = await import('./flite.js');
      return createFliteTts(options as FliteOptions);
    }
    case 'elevenlabs': {
      const { createElevenLabsTts } = await import('./elevenlabs.js');
      return createElevenLabsTts(options as ElevenLabsOptions);
    }
    case 'openai': {
      const { createOpenAiTtsFromConfig } = await import('./openai.js');
      return createOpenAiTtsFromConfig(options as OpenAiTtsConfigOptions);
    }
    default:
      throw new PalabreError('engine_unavailable', `unknown text-to-speech engine '${String(name)}'; available: ${TTS_ENGINES.join(', ')}`, {
        details: { engine: name },
      });
  }
}
