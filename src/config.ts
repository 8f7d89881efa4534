/**
 * Every setting of palabre, typed and validated in one place.
 *
 * Sources, later ones winning: the defaults below, an optional YAML file
 * (`--config FILE` or PALABRE_CONFIG), then environment variables. Each leaf
 * setting has an env var derived from its path: `engines.stt.engine` is
 * PALABRE_ENGINES_STT_ENGINE. Arrays in env vars are comma-separated.
 * No other module reads process.env.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { PalabreError } from './errors.js';

const LANGUAGE = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a language tag such as fr, en or en-US');

const serverSchema = z.object({
  host: z.string().default('127.0.0.1').describe('Address the HTTP server binds to; 0.0.0.0 to accept other machines.'),
  port: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port (0 picks a free one).'),
  authToken: z.string().optional().describe('When set, every API route except /health and /docs requires `Authorization: Bearer <token>`.'),
  corsOrigins: z.array(z.string()).default([]).describe('Origins allowed by CORS; none by default.'),
  maxUploadBytes: z.coerce.number().int().positive().default(25 * 1024 * 1024).describe('Largest accepted request body or uploaded file; larger gets 413.'),
  requestTimeoutMs: z.coerce.number().int().positive().default(120_000).describe('Longest a request may take before the server answers 503.'),
});

const logSchema = z.object({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
});

const audioSchema = z.object({
  ffmpegPath: z.string().default('ffmpeg').describe('ffmpeg program used to decode compressed uploads (mp3, ogg/opus, webm, m4a); optional.'),
  resampleQuality: z.coerce.number().int().min(0).max(10).default(5).describe('Speex resampler quality, 0 (fastest) to 10 (best).'),
});

const vadSchema = z.object({
  engine: z.enum(['silero', 'webrtc']).default('silero').describe('Voice activity detector: Silero v5 (ONNX) or WebRTC VAD (fvad, lighter, weak in noise).'),
  threshold: z.coerce.number().min(0).max(1).default(0.5).describe('Speech probability above which a window is speech (Silero).'),
  minSpeechMs: z.coerce.number().int().min(0).default(250).describe('Shortest speech reported as a speech region.'),
  minSilenceMs: z.coerce.number().int().min(0).default(300).describe('Silence needed to end a speech region.'),
  webrtcMode: z.coerce.number().int().min(0).max(3).default(3).describe('WebRTC VAD aggressiveness, 0 (least) to 3 (most).'),
  batch: z.boolean().default(true).describe('Run the Silero windows of all live streams that arrive in the same tick as one batch (2-3x cheaper per call under load).'),
});

const denoiseSchema = z.object({
  engine: z.enum(['rnnoise', 'none']).default('rnnoise').describe('Noise suppressor used when denoising is asked for.'),
  failsafe: z.boolean().default(true).describe('On a noise-suppressor failure pass the original audio through (logged and counted) instead of failing.'),
});

const ttsSchema = z.object({
  engine: z.enum(['espeak', 'flite']).default('espeak').describe('Default text-to-speech engine.'),
  language: LANGUAGE.default('fr').describe('Language spoken when a request names none.'),
  voices: z.record(z.string(), z.string()).default({ fr: 'fr', en: 'en-us' }).describe('Default voice per language.'),
  cacheEntries: z.coerce.number().int().min(0).default(500).describe('Dynamic phrases kept in the LRU phrase cache.'),
  cacheBytes: z.coerce.number().int().min(0).default(64 * 1024 * 1024).describe('Byte bound of the phrase cache.'),
});

const pocketsphinxSchema = z.object({
  library: z.string().default('libpocketsphinx.so.3').describe('Shared library loaded through FFI (Debian package libpocketsphinx3).'),
  hmm: z.string().default('/usr/share/pocketsphinx/model/en-us/en-us').describe('Acoustic model directory.'),
  dict: z.string().default('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict').describe('Pronunciation dictionary.'),
  lm: z.string().default('/usr/share/pocketsphinx/model/en-us/en-us.lm.bin').describe('Language model.'),
  poolSize: z.coerce.number().int().min(1).max(16).default(2).describe('Decoders kept loaded (about 110 MB each); requests beyond wait their turn.'),
});

const sherpaSchema = z.object({
  model: z.string().default('').describe('Catalog id of the sherpa-onnx model to load (see `palabre models list`); empty disables sherpa.'),
  numThreads: z.coerce.number().int().min(1).max(16).default(1).describe('Threads per sherpa-onnx recogniser.'),
});

const sttSchema = z.object({
  engine: z.enum(['pocketsphinx', 'sherpa']).default('pocketsphinx').describe('Default speech-to-text engine.'),
  language: LANGUAGE.optional().describe('Language assumed when a request names none (default: the engine\'s own).'),
  minAudioMs: z.coerce.number().int().min(0).default(100).describe('Shorter audio is refused with 422 audio_too_short.'),
  silenceDbfs: z.coerce.number().max(0).default(-60).describe('Audio whose level stays below this is refused with 422 audio_silent.'),
  degenerateMaxRepeats: z.coerce.number().int().min(2).default(6).describe('The same word or character repeated this many times in a row marks the output degenerate.'),
  degenerateAction: z.enum(['flag', 'drop']).default('flag').describe('flag: keep the text and set `degenerate`; drop: return empty text.'),
  pocketsphinx: pocketsphinxSchema.default(pocketsphinxSchema.parse({})),
  sherpa: sherpaSchema.default(sherpaSchema.parse({})),
});

const enginesSchema = z.object({
  vad: vadSchema.default(vadSchema.parse({})),
  denoise: denoiseSchema.default(denoiseSchema.parse({})),
  tts: ttsSchema.default(ttsSchema.parse({})),
  stt: sttSchema.default(sttSchema.parse({})),
});

const modelsSchema = z.object({
  dir: z.string().default('./data/models').describe('Where downloaded models live.'),
  baseUrl: z.string().url().optional().describe('Mirror to download catalog models from instead of their upstream release pages.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('A download with no data for this long fails.'),
});

const preprocessSchema = z.object({
  denoise: z.boolean().default(false).describe('Run the noise suppressor on uploads before recognition.'),
  normalize: z.boolean().default(false).describe('Scale uploads to a target RMS level before recognition.'),
  normalizeDbfs: z.coerce.number().max(0).default(-20).describe('Target RMS level of normalisation.'),
  trimSilence: z.boolean().default(false).describe('Cut leading and trailing silence found by the VAD.'),
  lowpassHz: z.coerce.number().min(0).default(0).describe('Low-pass filter cut-off in Hz; 0 disables it.'),
});

export const configSchema = z.object({
  dataDir: z.string().default('./data').describe('Directory for everything palabre writes.'),
  server: serverSchema.default(serverSchema.parse({})),
  log: logSchema.default(logSchema.parse({})),
  audio: audioSchema.default(audioSchema.parse({})),
  engines: enginesSchema.default(enginesSchema.parse({})),
  models: modelsSchema.default(modelsSchema.parse({})),
  preprocess: preprocessSchema.default(preprocessSchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type PreprocessOptions = z.infer<typeof preprocessSchema>;

const SECRET_KEY = /(token|secret|password|apikey|api_key|key)$/i;

type Leaf = { path: string[]; env: string; schema: z.ZodType };

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) s = def.innerType;
    else return s;
  }
}

function envName(path: string[]): string {
  return 'PALABRE_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Every leaf setting with its env var, in declaration order. */
export function settingLeaves(schema: z.ZodType = configSchema, prefix: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  const def = (inner as unknown as { def: { type: string } }).def;
  if (def.type === 'object') {
    const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
    return Object.entries(shape).flatMap(([k, v]) => settingLeaves(v, [...prefix, k]));
  }
  return [{ path: prefix, env: envName(prefix), schema }];
}

function parseEnvValue(raw: string, schema: z.ZodType): unknown {
  const type = (unwrap(schema) as unknown as { def: { type: string } }).def.type;
  if (type === 'array') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (type === 'boolean') return /^(1|true|yes|on)$/i.test(raw.trim());
  if (type === 'record') return YAML.parse(raw);
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]] = value;
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  file?: string;
  /** Applied last, for the CLI's own flags and for tests. */
  overrides?: Record<string, unknown>;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let raw: Record<string, unknown> = {};
  const file = options.file ?? env.PALABRE_CONFIG;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new PalabreError('config_invalid', `cannot read config file ${file}: ${(err as Error).message}`);
    }
    try {
      raw = (YAML.parse(text) as Record<string, unknown>) ?? {};
    } catch (err) {
      throw new PalabreError('config_invalid', `config file ${file} is not valid YAML: ${(err as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const leaf of settingLeaves()) {
    const value = env[leaf.env];
    if (value !== undefined && value !== '') setPath(fromEnv, leaf.path, parseEnvValue(value, leaf.schema));
  }
  raw = deepMerge(deepMerge(raw, fromEnv), options.overrides ?? {});
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const path = i.path.map(String);
      return `  ${path.join('.') || '(root)'} (${envName(path)}): ${i.message}`;
    });
    throw new PalabreError('config_invalid', `invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** A copy safe to print or log: secret values replaced by "***". */
export function maskSecrets<T>(value: T, key = ''): T {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)])) as T;
  }
  if (typeof value === 'string' && value !== '' && SECRET_KEY.test(key)) return '***' as T;
  return value;
}

/** Markdown table of every setting, its env var, default and description (docs/configuration.md). */
export function describeSettings(): string {
  const defaults = configSchema.parse({});
  const rows = settingLeaves().map((leaf) => {
    let def: unknown = defaults;
    for (const k of leaf.path) def = (def as Record<string, unknown> | undefined)?.[k];
    const shown = def === undefined ? '(unset)' : JSON.stringify(def);
    return `| \`${leaf.path.join('.')}\` | \`${leaf.env}\` | \`${shown}\` | ${leaf.schema.description ?? ''} |`;
  });
  return ['| setting | env var | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
