/** The language model the configuration names, if any. */
import type { Config } from '../../config.js';
import { PalabreError } from '../../errors.js';
import { openAiPreset } from '../openai/presets.js';
import { createOpenAiLlm } from './openai.js';
import type { Llm } from './types.js';

export type { ChatMessage, ChatOptions, JsonOptions, Llm, LlmItem, LlmMessage, LlmTool, LlmToolCall, StreamOptions } from './types.js';
export { createOpenAiLlm, type OpenAiLlmOptions } from './openai.js';

/** Runs `load` (a flow lookup); a flow refused for want of a language model says how to configure one. */
export function withLlmHint<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof PalabreError && err.code === 'engine_unavailable') {
      throw new PalabreError('engine_unavailable', `${err.message}\nThis flow needs an LLM: set engines.llm.baseUrl and engines.llm.model (PALABRE_ENGINES_LLM_BASE_URL, PALABRE_ENGINES_LLM_MODEL) to an OpenAI-compatible server.`, { cause: err, details: err.details });
    }
    throw err;
  }
}

/** Undefined when no server is configured (generic preset without a URL); flows that need a model then refuse to load. */
export function createLlmFromConfig(config: Config, options: { fetch?: typeof fetch } = {}): Llm | undefined {
  const { preset: presetName, apiKey, timeoutMs } = config.engines.llm;
  const preset = openAiPreset(presetName);
  const baseUrl = config.engines.llm.baseUrl || preset.baseUrl;
  if (baseUrl === '') return undefined;
  if (!preset.chat) throw new PalabreError('config_invalid', `engines.llm.preset is ${presetName}, which serves no chat completions; choose generic, openai, groq, mistral, ollama or vllm`);
  const model = config.engines.llm.model || preset.chat.model || '';
  // A server without a model would otherwise read as "no LLM configured", hiding the slip.
  if (model === '') throw new PalabreError('config_invalid', `engines.llm.baseUrl is set (${baseUrl}) but engines.llm.model is empty: name the model to use (PALABRE_ENGINES_LLM_MODEL)`);
  if (preset.needsKey && !apiKey) throw new PalabreError('config_invalid', `engines.llm.preset ${presetName} needs an API key: set engines.llm.apiKey (PALABRE_ENGINES_LLM_API_KEY)`);
  return createOpenAiLlm({ baseUrl, apiKey, model, timeoutMs, preset: presetName, fetch: options.fetch });
}
