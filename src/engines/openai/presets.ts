/**
 * What each OpenAI-compatible service offers and where it departs from
 * OpenAI's own API, as data: default base URL and models, which endpoints
 * exist, and per endpoint the request fields it accepts. The engines read
 * these instead of testing for a vendor by name, and each fact carries its
 * source (see also ../shared/PROTOCOLS.md §6).
 *
 * `generic` assumes nothing beyond the core of each endpoint, for servers not
 * listed here: it sends no optional field a server might refuse.
 */

export const OPENAI_PRESET_NAMES = ['generic', 'openai', 'groq', 'mistral', 'ollama', 'vllm', 'speaches', 'kokoro'] as const;
export type OpenAiPresetName = (typeof OPENAI_PRESET_NAMES)[number];

/** Which models a capability applies to: all, none, or those whose id starts with one of the prefixes (or not). */
export type ModelMatch = boolean | { only: readonly string[] } | { except: readonly string[] };

export function matchesModel(match: ModelMatch, model: string): boolean {
  if (typeof match === 'boolean') return match;
  const hit = (prefixes: readonly string[]) => prefixes.some((p) => model.startsWith(p));
  return 'only' in match ? hit(match.only) : !hit(match.except);
}

export interface ChatQuirks {
  /** Used when the configuration names no model. */
  model?: string;
  /** Models that take `response_format: {type: "json_schema"}`; the others get `json_object` and the schema in the prompt. */
  jsonSchema: ModelMatch;
  /** Models that honour `json_schema.strict: true` (constrained decoding); the others get strict false. */
  strictSchema: ModelMatch;
  /** Accepts `stream_options: {include_usage: true}` (token counts in a last chunk). */
  streamOptions: boolean;
  /** Accepts `parallel_tool_calls`. */
  parallelToolCalls: boolean;
  /** Field naming the reply's length limit. */
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
}

export interface SttQuirks {
  model?: string;
  /** Models that answer `response_format: verbose_json` (segments with times); the others are asked for `json`. */
  verboseJson: ModelMatch;
  /** Models that give word times with `timestamp_granularities[]=word` (inside verbose_json). */
  wordTimestamps: ModelMatch;
}

export interface TtsQuirks {
  model?: string;
  /** Voice per language (primary subtag) when the configuration names none. */
  voices: Readonly<Record<string, string>>;
  /** Rate of `response_format: pcm` (16-bit mono little-endian, no header). */
  pcmRate: number;
  /** Fields added to every speech request. */
  extraBody?: Readonly<Record<string, unknown>>;
  /** Accepted `speed` range. */
  speed: readonly [number, number];
}

export interface EmbeddingsQuirks {
  model?: string;
  /** Accepts `dimensions`. */
  dimensions: boolean;
}

export interface OpenAiPreset {
  name: OpenAiPresetName;
  /** Base URL including the version prefix; empty when there is no usual one. */
  baseUrl: string;
  /** Refuses requests without an API key (local servers do not). */
  needsKey: boolean;
  chat?: ChatQuirks;
  stt?: SttQuirks;
  tts?: TtsQuirks;
  embeddings?: EmbeddingsQuirks;
}

/** OpenAI's speech parameters, which the OpenAI-shaped servers copy (openai-openapi CreateSpeechRequest). */
const OPENAI_SPEED: readonly [number, number] = [0.25, 4];

const PRESETS: Record<OpenAiPresetName, OpenAiPreset> = {
  generic: {
    name: 'generic',
    baseUrl: '',
    needsKey: false,
    chat: { jsonSchema: true, strictSchema: true, streamOptions: false, parallelToolCalls: false, maxTokensField: 'max_tokens' },
    stt: { verboseJson: false, wordTimestamps: false },
    tts: { voices: {}, pcmRate: 24_000, speed: OPENAI_SPEED },
    embeddings: { dimensions: false },
  },

  openai: {
    name: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    needsKey: true,
    chat: {
      model: 'gpt-4o-mini',
      jsonSchema: true,
      strictSchema: true,
      streamOptions: true,
      parallelToolCalls: true,
      // openai-openapi CreateChatCompletionRequest: max_tokens is deprecated and "not compatible with o-series models".
      maxTokensField: 'max_completion_tokens',
    },
    stt: {
      model: 'whisper-1',
      // openai-openapi AudioResponseFormat: "For gpt-4o-transcribe and gpt-4o-mini-transcribe, the only supported format is json"
      // (gpt-4o-transcribe-diarize: json, text, diarized_json).
      verboseJson: { except: ['gpt-4o-transcribe', 'gpt-4o-mini-transcribe', 'gpt-transcribe'] },
      wordTimestamps: { only: ['whisper-1'] },
    },
    tts: {
      model: 'gpt-4o-mini-tts',
      // Every OpenAI voice speaks every language the model knows (openai-openapi VoiceIdsShared).
      voices: { en: 'alloy', fr: 'alloy', es: 'alloy', de: 'alloy', it: 'alloy', pt: 'alloy', nl: 'alloy' },
      // PROTOCOLS.md §6 [V]: "pcm is 16-bit 24 kHz mono with no header".
      pcmRate: 24_000,
      speed: OPENAI_SPEED,
    },
    embeddings: { model: 'text-embedding-3-small', dimensions: true },
  },

  groq: {
    name: 'groq',
    // console.groq.com/docs/openai: base_url https://api.groq.com/openai/v1.
    baseUrl: 'https://api.groq.com/openai/v1',
    needsKey: true,
    chat: {
      model: 'llama-3.3-70b-versatile',
      // console.groq.com/docs/structured-outputs: json_schema only on the models listed there; others answer 400
      // "This model does not support response format json_schema". strict: true only on GPT-OSS 20B/120B.
      jsonSchema: { only: ['openai/gpt-oss-', 'moonshotai/kimi-k2', 'meta-llama/llama-4-'] },
      strictSchema: { only: ['openai/gpt-oss-'] },
      // Not among the fields console.groq.com/docs/openai documents, and Groq answers 400 to fields it refuses [U]:
      // usage arrives in `x_groq.usage` of the last chunk anyway.
      streamOptions: false,
      parallelToolCalls: true,
      // Groq's API reference lists max_completion_tokens, with max_tokens deprecated [C].
      maxTokensField: 'max_completion_tokens',
    },
    stt: {
      // console.groq.com/docs/speech-text: whisper-large-v3, whisper-large-v3-turbo, distil-whisper-large-v3-en.
      model: 'whisper-large-v3-turbo',
      // Same page: verbose_json gives segment timestamps; vtt and srt are refused.
      verboseJson: true,
      // Same page (an earlier version): "timestamp_granularities[] is not supported"; its verbose_json carries
      // segments without `words`. Newer references list word granularity [C]: not relied on, but read when present.
      wordTimestamps: false,
    },
    // No embeddings endpoint (PROTOCOLS.md §6 [C]; Bifrost's Groq page: "Embeddings ... not supported by the upstream Groq API").
  },

  mistral: {
    name: 'mistral',
    baseUrl: 'https://api.mistral.ai/v1',
    needsKey: true,
    chat: {
      model: 'mistral-small-latest',
      // docs.mistral.ai custom structured outputs: response_format {type: json_schema, json_schema: {schema, name, strict}}.
      jsonSchema: true,
      strictSchema: true,
      // Mistral refuses fields it does not know with 422 extra_forbidden (mistralai/platform-docs-public#7),
      // and stream_options is not one of its chat fields.
      streamOptions: false,
      // mistralai/client-python#216: chat.complete takes parallel_tool_calls (default true).
      parallelToolCalls: true,
      // PROTOCOLS.md §6 [C]: "Uses max_tokens, not max_completion_tokens".
      maxTokensField: 'max_tokens',
    },
    // Its transcription answer has no verbose_json (PROTOCOLS.md §6 [C]): chat and embeddings only here.
    embeddings: {
      model: 'mistral-embed',
      // Mistral names it output_dimension (PROTOCOLS.md §6 [U]); `dimensions` would be refused as an extra field.
      dimensions: false,
    },
  },

  ollama: {
    name: 'ollama',
    // Ollama OpenAI-compatibility docs: base_url http://localhost:11434/v1/, api_key "required but ignored".
    baseUrl: 'http://localhost:11434/v1',
    needsKey: false,
    chat: {
      // Same docs: response_format (JSON mode, and json_schema since 0.5 [C]), streaming, tools.
      jsonSchema: true,
      strictSchema: true,
      // PROTOCOLS.md §6 [C]: stream_options.include_usage supported.
      streamOptions: true,
      // Not among the supported request fields of the compatibility docs.
      parallelToolCalls: false,
      maxTokensField: 'max_tokens',
    },
    // No audio endpoints (PROTOCOLS.md §6: "only in very new versions [U]").
    embeddings: {
      // PROTOCOLS.md §6 [C]: "Older versions returned 404 on `dimensions`".
      dimensions: false,
    },
  },

  vllm: {
    name: 'vllm',
    // docs.vllm.ai OpenAI-compatible server: `vllm serve … --api-key` optional, base_url http://localhost:8000/v1.
    baseUrl: 'http://localhost:8000/v1',
    needsKey: false,
    chat: {
      // vLLM structured outputs: response_format json_schema (also guided_json in the extra body).
      jsonSchema: true,
      strictSchema: true,
      streamOptions: true,
      // docs.vllm.ai tool calling documents tool_choice auto/required/none (with --enable-auto-tool-choice),
      // not parallel_tool_calls [U].
      parallelToolCalls: false,
      maxTokensField: 'max_tokens',
    },
    stt: {
      // verbose_json failed on 0.7.3 (vllm-project/vllm#14818); only plain json is relied on.
      verboseJson: false,
      wordTimestamps: false,
    },
    embeddings: { dimensions: false },
  },

  speaches: {
    name: 'speaches',
    // speaches (faster-whisper) listens on port 8000 with routes under /v1.
    baseUrl: 'http://localhost:8000/v1',
    needsKey: false,
    stt: {
      model: 'Systran/faster-whisper-small',
      // speaches-ai/speaches routers/stt.py: response_format text|json|verbose_json|srt|vtt, and word timestamps
      // when `timestamp_granularities[]` (read literally, brackets included) contains "word".
      verboseJson: true,
      wordTimestamps: true,
    },
    tts: {
      model: 'speaches-ai/Kokoro-82M-v1.0-ONNX',
      voices: { en: 'af_heart', fr: 'ff_siwis', es: 'ef_dora', it: 'if_sara', pt: 'pf_dora' },
      pcmRate: 24_000,
      // speaches-ai/speaches routers/speech.py: pcm comes at the model's own rate unless `sample_rate` asks for
      // another (piper voices are 16 or 22.05 kHz): ask for the rate read here.
      extraBody: { sample_rate: 24_000 },
      speed: OPENAI_SPEED,
    },
  },

  kokoro: {
    name: 'kokoro',
    // remsky/Kokoro-FastAPI: routes under /v1 on port 8880.
    baseUrl: 'http://localhost:8880/v1',
    needsKey: false,
    tts: {
      // Kokoro-FastAPI structures/schemas.py OpenAISpeechRequest: model "kokoro" (tts-1, tts-1-hd accepted),
      // voice "af_heart" by default; the first letter of a voice is its language (a/b English, f French, e Spanish…).
      model: 'kokoro',
      voices: { en: 'af_heart', fr: 'ff_siwis', es: 'ef_dora', it: 'if_sara', pt: 'pf_dora', hi: 'hf_alpha', ja: 'jf_alpha', zh: 'zf_xiaobei' },
      // routers/openai_compatible.py: StreamingAudioWriter(…, sample_rate=24000); pcm is raw 16-bit.
      pcmRate: 24_000,
      // `stream` defaults to true there, one sentence per chunk; said explicitly so a changed default cannot buffer a whole answer.
      extraBody: { stream: true },
      speed: OPENAI_SPEED,
    },
  },
};

export function openAiPreset(name: OpenAiPresetName): OpenAiPreset {
  return PRESETS[name];
}
