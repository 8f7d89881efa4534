/** OpenAI-compatible services: the shared HTTP client, presets with each service's quirks, settings from config, embeddings. */
export { createOpenAiClient, endpoint, isRetryable, isRetryableStatus, retryAfterMs, serverMessage, type OpenAiClient, type OpenAiReply, type OpenAiServerOptions, type RequestOptions } from './client.js';
export { createEmbedder, type Embedder, type EmbedderOptions } from './embeddings.js';
export { listOpenAiModels } from './models.js';
export { matchesModel, OPENAI_PRESET_NAMES, openAiPreset, type ChatQuirks, type EmbeddingsQuirks, type ModelMatch, type OpenAiPreset, type OpenAiPresetName, type SttQuirks, type TtsQuirks } from './presets.js';
export { openAiUseSettings, type OpenAiConfig, type OpenAiUse, type OpenAiUseSettings } from './settings.js';
export { sseEvents } from './sse.js';
