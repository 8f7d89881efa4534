/**
 * The server, model and quirks one use (transcription, speech, embeddings)
 * of `engines.openai` resolves to: the use's own preset, URL and key when set,
 * else the section's, else the preset's defaults. Anything missing is an
 * engine_unavailable error that says which setting to fill in, which is what
 * /health and `palabre doctor` show.
 */
import type { Config } from '../../config.js';
import { PalabreError } from '../../errors.js';
import type { OpenAiServerOptions } from './client.js';
import { OPENAI_PRESET_NAMES, openAiPreset, type OpenAiPreset } from './presets.js';

export type OpenAiConfig = Config['engines']['openai'];
export type OpenAiUse = 'stt' | 'tts' | 'embeddings';

const WHAT: Record<OpenAiUse, string> = { stt: 'transcription', tts: 'speech', embeddings: 'embeddings' };

export interface OpenAiUseSettings {
  preset: OpenAiPreset;
  server: OpenAiServerOptions;
  model: string;
}

export function openAiUseSettings(config: OpenAiConfig, use: OpenAiUse): OpenAiUseSettings {
  const section = config[use];
  const preset = openAiPreset(section.preset ?? config.preset);
  const env = (leaf: string) => `PALABRE_ENGINES_OPENAI_${leaf}`;
  if (!preset[use]) {
    const offering = OPENAI_PRESET_NAMES.filter((n) => openAiPreset(n)[use] !== undefined).join(', ');
    throw new PalabreError('engine_unavailable', `the ${preset.name} preset has no ${WHAT[use]} endpoint; set engines.openai.${use}.preset (${env(`${use.toUpperCase()}_PRESET`)}) to one that has: ${offering}`);
  }
  const baseUrl = section.baseUrl || config.baseUrl || preset.baseUrl;
  if (baseUrl === '') {
    throw new PalabreError('engine_unavailable', `no ${WHAT[use]} server: set engines.openai.baseUrl (${env('BASE_URL')}) or engines.openai.${use}.baseUrl to its URL, version prefix included (http://host:8000/v1)`);
  }
  const model = section.model || preset[use]?.model || '';
  if (model === '') throw new PalabreError('engine_unavailable', `no ${WHAT[use]} model: the ${preset.name} preset has no default, set engines.openai.${use}.model (${env(`${use.toUpperCase()}_MODEL`)})`);
  const apiKey = section.apiKey ?? config.apiKey;
  if (preset.needsKey && !apiKey) {
    throw new PalabreError('engine_unavailable', `the ${preset.name} ${WHAT[use]} server needs an API key: set engines.openai.apiKey (${env('API_KEY')}) or engines.openai.${use}.apiKey`);
  }
  // A transcription or an embedding answers only once computed: only streamed speech has a first byte worth a shorter clock.
  const connectTimeoutMs = use === 'tts' ? Math.min(config.connectTimeoutMs, config.timeoutMs) : config.timeoutMs;
  return { preset, model, server: { baseUrl, apiKey, timeoutMs: config.timeoutMs, connectTimeoutMs } };
}
