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

const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1').describe('Address the HTTP server binds to; 0.0.0.0 to accept other machines.'),
  port: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port (0 picks a free one).'),
  authToken: z.string().optional().describe('When set, every API route except /health and /docs requires `Authorization: Bearer <token>`.'),
  corsOrigins: z.array(z.string()).default([]).describe('Origins allowed by CORS; none by default.'),
  maxUploadBytes: z.coerce.number().int().positive().default(25 * 1024 * 1024).describe('Largest accepted request body or uploaded file; larger gets 413.'),
  requestTimeoutMs: z.coerce.number().int().positive().default(120_000).describe('Longest a request may take before the server answers 503.'),
});

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
});

const audioSchema = z.strictObject({
  ffmpegPath: z.string().default('ffmpeg').describe('ffmpeg program used to decode compressed uploads (mp3, ogg/opus, webm, m4a); optional.'),
  resampleQuality: z.coerce.number().int().min(0).max(10).default(5).describe('Speex resampler quality, 0 (fastest) to 10 (best).'),
});

const vadSchema = z.strictObject({
  engine: z.enum(['silero', 'webrtc']).default('silero').describe('Voice activity detector: Silero v5 (ONNX) or WebRTC VAD (fvad, lighter, weak in noise).'),
  threshold: z.coerce.number().min(0).max(1).default(0.5).describe('Speech probability above which a window is speech (Silero).'),
  minSpeechMs: z.coerce.number().int().min(0).default(250).describe('Shortest speech reported as a speech region.'),
  minSilenceMs: z.coerce.number().int().min(0).default(300).describe('Silence needed to end a speech region.'),
  webrtcMode: z.coerce.number().int().min(0).max(3).default(3).describe('WebRTC VAD aggressiveness, 0 (least) to 3 (most).'),
  batch: z.boolean().default(true).describe('Run the Silero windows of all live streams that arrive in the same tick as one batch (2-3x cheaper per call under load).'),
});

const denoiseSchema = z.strictObject({
  engine: z.enum(['rnnoise', 'none']).default('rnnoise').describe('Noise suppressor used when denoising is asked for.'),
  failsafe: z.boolean().default(true).describe('On a noise-suppressor failure pass the original audio through (logged and counted) instead of failing.'),
});

const ttsSchema = z.strictObject({
  engine: z.enum(['espeak', 'flite', 'elevenlabs', 'openai']).default('espeak').describe('Default text-to-speech engine (elevenlabs and openai need their section configured).'),
  language: LANGUAGE.default('fr').describe('Language spoken when a request names none.'),
  voices: z.record(z.string(), z.string()).default({ fr: 'fr', en: 'en-us' }).describe('Default voice per language.'),
  cacheEntries: z.coerce.number().int().min(0).default(500).describe('Dynamic phrases kept in the LRU phrase cache.'),
  cacheBytes: z.coerce.number().int().min(0).default(64 * 1024 * 1024).describe('Byte bound of the phrase cache.'),
});

const pocketsphinxSchema = z.strictObject({
  library: z.string().default('libpocketsphinx.so.3').describe('Shared library loaded through FFI (Debian package libpocketsphinx3).'),
  hmm: z.string().default('/usr/share/pocketsphinx/model/en-us/en-us').describe('Acoustic model directory.'),
  dict: z.string().default('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict').describe('Pronunciation dictionary.'),
  lm: z.string().default('/usr/share/pocketsphinx/model/en-us/en-us.lm.bin').describe('Language model.'),
  poolSize: z.coerce.number().int().min(1).max(16).default(2).describe('Decoders kept loaded (about 110 MB each); requests beyond wait their turn.'),
  args: z.array(z.string()).default(['-maxhmmpf', '10000']).describe('Extra decoder arguments passed as is. The default caps the search: 0.31 → 0.30 real-time factor on telephone prompts at the same word error rate; tighter caps (5000) are faster but lose words.'),
});

const sherpaSchema = z.strictObject({
  model: z.string().default('').describe('Catalog id of the sherpa-onnx model to load (see `palabre models list`); empty disables sherpa.'),
  numThreads: z.coerce.number().int().min(1).max(16).default(1).describe('Threads per sherpa-onnx recogniser.'),
});

const sttSchema = z.strictObject({
  engine: z.enum(['pocketsphinx', 'sherpa', 'deepgram', 'openai']).default('pocketsphinx').describe('Default speech-to-text engine (deepgram and openai need their section configured).'),
  language: LANGUAGE.optional().describe('Language assumed when a request names none (default: the engine\'s own).'),
  minAudioMs: z.coerce.number().int().min(0).default(100).describe('Shorter audio is refused with 422 audio_too_short.'),
  silenceDbfs: z.coerce.number().max(0).default(-60).describe('Audio whose level stays below this is refused with 422 audio_silent.'),
  degenerateMaxRepeats: z.coerce.number().int().min(2).default(6).describe('The same word or character repeated this many times in a row marks the output degenerate.'),
  degenerateAction: z.enum(['flag', 'drop']).default('flag').describe('flag: keep the text and set `degenerate`; drop: return empty text.'),
  pocketsphinx: pocketsphinxSchema.default(pocketsphinxSchema.parse({})),
  sherpa: sherpaSchema.default(sherpaSchema.parse({})),
});

const llmSchema = z.strictObject({
  baseUrl: z.string().trim().refine((s) => s === '' || /^https?:\/\/[^\s/]+/.test(s), 'an http(s) URL such as http://localhost:11434/v1, or empty').default('').describe('OpenAI-compatible server that writes the replies of `llm` flow states, including the version prefix (https://api.openai.com/v1, http://localhost:11434/v1 for Ollama); empty means no language model, and flows that need one refuse to load.'),
  apiKey: z.string().optional().describe('Sent as `Authorization: Bearer <key>` to the language model server; never logged.'),
  model: z.string().default('').describe('Model the server is asked for (gpt-4o-mini, llama3.2…); required when `baseUrl` is set.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('Longest a whole reply may take; a server that sends nothing for 10 s (or this, if shorter) fails sooner.'),
});

const enginesSchema = z.strictObject({
  vad: vadSchema.default(vadSchema.parse({})),
  denoise: denoiseSchema.default(denoiseSchema.parse({})),
  tts: ttsSchema.default(ttsSchema.parse({})),
  stt: sttSchema.default(sttSchema.parse({})),
  llm: llmSchema.default(llmSchema.parse({})),
});

const modelsSchema = z.strictObject({
  dir: z.string().default('./data/models').describe('Where downloaded models live.'),
  baseUrl: z.string().url().optional().describe('Mirror to download catalog models from instead of their upstream release pages.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('A download with no data for this long fails.'),
});

const callSchema = z.strictObject({
  maxCallMs: z.coerce.number().int().positive().default(3_600_000).describe('A call is ended (reason timeout) after this long.'),
  prerollMs: z.coerce.number().int().min(0).max(2000).default(300).describe('Audio kept before the VAD confirms speech, so the first syllable reaches STT.'),
  sttTimeoutMs: z.coerce.number().int().positive().default(20_000).describe('Longest wait for a transcript of one turn.'),
  dialogTimeoutMs: z.coerce.number().int().positive().default(30_000).describe('Longest wait for the dialog (intent chain, LLM) to answer one turn.'),
  maxEngineErrors: z.coerce.number().int().min(1).default(3).describe('Engine failures in a row after which the call ends with reason error.'),
});

const browserSchema = z.strictObject({
  maxSessions: z.coerce.number().int().min(1).default(50).describe('Browser sessions open at once; more are refused with 503.'),
  connectTimeoutMs: z.coerce.number().int().positive().default(60_000).describe('A started session nobody connects to within this long expires.'),
});

const twilioSchema = z.strictObject({
  authToken: z.string().optional().describe('Twilio auth token: when set, POST /twilio/voice requires a valid X-Twilio-Signature (403 otherwise).'),
  publicUrl: z.string().url().optional().describe('Base URL Twilio reaches this server at (signatures cover it; set it behind a proxy).'),
  defaultFlow: z.string().default('support-desk').describe('Flow a Twilio call runs when the stream names none.'),
  defaultLanguage: z.string().default('en').describe('Language of a Twilio call when the stream names none.'),
  maxCalls: z.coerce.number().int().min(1).default(50).describe('Twilio media streams at once; more are closed with 1013.'),
});

const flowChoiceSchema = z.strictObject({ flow: z.string().min(1), language: z.string().min(2) });

const audiosocketSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Run the Asterisk AudioSocket TCP server with `palabre serve`.'),
  host: z.string().default('127.0.0.1').describe('Address the AudioSocket server binds to; 0.0.0.0 (with an allow-list) for Asterisk on another machine.'),
  port: z.coerce.number().int().min(0).max(65535).default(9090).describe('AudioSocket TCP port.'),
  allow: z.array(z.string()).default([]).describe('Asterisk addresses and CIDR ranges allowed to connect (IPv4 and IPv6); empty allows all.'),
  maxCalls: z.coerce.number().int().min(1).default(50).describe('AudioSocket calls at once; more get a hangup frame.'),
  firstFrameTimeoutMs: z.coerce.number().int().positive().default(5000).describe('The UUID frame must arrive within this time.'),
  flow: z.string().default('support-desk').describe('Flow an AudioSocket call runs when its UUID is not in flowsByUuid.'),
  language: z.string().default('en').describe('Language of that default flow.'),
  flowsByUuid: z.record(z.string(), flowChoiceSchema).default({}).describe('Flow and language per call UUID (set by the dialplan), e.g. {"<uuid>": {flow: heating-leads, language: fr}}.'),
  flowHookUrl: z.string().url().optional().describe('Asked `GET <url>?uuid=<uuid>` for `{flow, language}` when the UUID is not in flowsByUuid; a failure or timeout falls back to the default flow.'),
  flowHookTimeoutMs: z.coerce.number().int().positive().default(1500).describe('Longest wait for the flow hook (Asterisk gives up on a silent socket after 2 s).'),
});

const flowsSchema = z.strictObject({
  dir: z.string().default('./flows').describe('Directory of flow files (*.yaml); `palabre flows list` shows what loads.'),
});

const preprocessSchema = z.strictObject({
  denoise: z.boolean().default(false).describe('Run the noise suppressor on uploads before recognition.'),
  normalize: z.boolean().default(false).describe('Scale uploads to a target RMS level before recognition.'),
  normalizeDbfs: z.coerce.number().max(0).default(-20).describe('Target RMS level of normalisation.'),
  trimSilence: z.boolean().default(false).describe('Cut leading and trailing silence found by the VAD.'),
  lowpassHz: z.coerce.number().min(0).default(0).describe('Low-pass filter cut-off in Hz; 0 disables it.'),
});

export const configSchema = z.strictObject({
  dataDir: z.string().default('./data').describe('Directory for everything palabre writes.'),
  server: serverSchema.default(serverSchema.parse({})),
  log: logSchema.default(logSchema.parse({})),
  audio: audioSchema.default(audioSchema.parse({})),
  engines: enginesSchema.default(enginesSchema.parse({})),
  models: modelsSchema.default(modelsSchema.parse({})),
  flows: flowsSchema.default(flowsSchema.parse({})),
  call: callSchema.default(callSchema.parse({})),
  browser: browserSchema.default(browserSchema.parse({})),
  twilio: twilioSchema.default(twilioSchema.parse({})),
  audiosocket: audiosocketSchema.default(audiosocketSchema.parse({})),
  preprocess: preprocessSchema.default(preprocessSchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type PreprocessOptions = z.infer<typeof preprocessSchema>;

/** The session options a call takes from the configuration. */
export function callSessionOptions(config: Config) {
  const { vad } = config.engines;
  return { ...config.call, turnTaking: { threshold: vad.threshold } };
}

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

function typeOf(schema: z.ZodType): string {
  return (unwrap(schema) as unknown as { def: { type: string } }).def.type;
}

function envName(path: string[]): string {
  return 'PALABRE_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Every leaf setting with its env var, in declaration order. */
export function settingLeaves(schema: z.ZodType = configSchema, prefix: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  if (typeOf(inner) === 'object') {
    const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
    return Object.entries(shape).flatMap(([k, v]) => settingLeaves(v, [...prefix, k]));
  }
  return [{ path: prefix, env: envName(prefix), schema }];
}

type Parsed = { value: unknown } | { error: string };

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `fr=fr,en=en-us` (or `fr:fr`), or a YAML mapping such as `{fr: fr, en: en-us}`. */
function parseRecord(text: string): Parsed {
  if (text.startsWith('{') || text.includes('\n')) {
    try {
      const value: unknown = YAML.parse(text);
      return isPlainObject(value) ? { value } : { error: 'expected a mapping such as {fr: fr, en: en-us}' };
    } catch (err) {
      return { error: `not a valid YAML mapping: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const m = /^\s*([^=:\s]+)\s*[=:]\s*(\S(?:.*\S)?)\s*$/.exec(pair);
    if (!m) return { error: `expected key=value pairs separated by commas (e.g. fr=fr,en=en-us); cannot read "${pair.trim()}"` };
    out[m[1]] = m[2];
  }
  return { value: out };
}

/** An env var's text as the type its setting expects; numbers are checked later with the file's. */
function parseEnvValue(raw: string, schema: z.ZodType): Parsed {
  const text = raw.trim();
  switch (typeOf(schema)) {
    case 'array':
      return { value: text.split(',').map((s) => s.trim()).filter(Boolean) };
    case 'boolean':
      if (TRUE.test(text)) return { value: true };
      if (FALSE.test(text)) return { value: false };
      return { error: 'expected true or false (or 1/0, yes/no, on/off)' };
    case 'record':
      return parseRecord(text);
    default:
      return { value: raw };
  }
}

function getPath(target: unknown, path: string[]): unknown {
  let node = target;
  for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** Sets a leaf, creating sections on the way; a section that is not a mapping is left for zod to report. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    if (!isPlainObject(node[key])) return;
    node = node[key];
  }
  node[path[path.length - 1]] = value;
}

/** YAML's `key:` with nothing after it (or `~`) means "not set", so the default applies. */
function dropNulls(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, dropNulls(v)]));
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
    out[k] = isPlainObject(v) && isPlainObject(b) ? deepMerge(b, v) : v;
  }
  return out;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new PalabreError('config_invalid', `cannot read config file ${file}: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new PalabreError('config_invalid', `config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) {
    const found = Array.isArray(parsed) ? 'a list' : `a ${typeof parsed}`;
    throw new PalabreError('config_invalid', `config file ${file} must be a mapping of settings (such as "server:" then "  port: 8080"), not ${found}`);
  }
  return dropNulls(parsed) as Record<string, unknown>;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  let best = '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? `; did you mean ${best}?` : '';
}

/** Settings one level below `prefix` (for "did you mean" on an unknown key). */
function childKeys(prefix: string[]): string[] {
  const keys = settingLeaves()
    .filter((l) => l.path.length > prefix.length && prefix.every((p, i) => l.path[i] === p))
    .map((l) => l.path[prefix.length]);
  return [...new Set(keys)];
}

interface Problem {
  path: string[];
  /** Replaces the setting path and env var, for problems that have none (an unknown key). */
  label?: string;
  message: string;
}

/** `server.port (PALABRE_SERVER_PORT="abc")`: the setting, the env var that sets it, and its text when it came from there. */
function labelOf(problem: Problem, leaves: Leaf[], envText: Map<string, string>): string {
  if (problem.label) return problem.label;
  const where = problem.path.join('.') || '(root)';
  // An issue inside a map (engines.tts.voices.fr) belongs to the map's env var.
  const leaf = leaves.find((l) => l.path.every((p, i) => problem.path[i] === p));
  if (!leaf) return where;
  const text = envText.get(leaf.path.join('.'));
  return `${where} (${leaf.env}${text === undefined ? '' : `=${JSON.stringify(text)}`})`;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.PALABRE_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  const problems: Problem[] = [];
  const envText = new Map<string, string>();
  const leaves = settingLeaves();
  const fromEnv: Array<[string[], unknown]> = [];
  for (const leaf of leaves) {
    const value = env[leaf.env];
    if (value === undefined || value === '') continue;
    envText.set(leaf.path.join('.'), value);
    const parsed = parseEnvValue(value, leaf.schema);
    if ('error' in parsed) problems.push({ path: leaf.path, message: parsed.error });
    else fromEnv.push([leaf.path, parsed.value]);
  }
  // A misspelt variable would otherwise be ignored without a word.
  const known = new Set(['PALABRE_CONFIG', ...leaves.map((l) => l.env)]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('PALABRE_') && !known.has(name) && env[name] !== undefined) {
      problems.push({ path: [], label: name, message: `unknown environment variable${didYouMean(name, known)}` });
    }
  }
  // An env var replaces its whole setting (a `voices` map too) rather than merging into the file's.
  const merged = structuredClone(fromFile);
  for (const [path, value] of fromEnv) setPath(merged, path, value);
  const raw = deepMerge(merged, structuredClone(options.overrides ?? {}));
  // Zod's coercion would turn true into 1 and "" or "0x10" into numbers: only real numbers pass.
  for (const leaf of leaves) {
    if (typeOf(leaf.schema) !== 'number') continue;
    const value = getPath(raw, leaf.path);
    if (value === undefined || typeof value === 'number') continue;
    if (typeof value === 'string' && NUMBER.test(value.trim())) setPath(raw, leaf.path, Number(value));
    else problems.push({ path: leaf.path, message: `expected a number, got ${JSON.stringify(value)}` });
  }
  const parsed = configSchema.safeParse(raw);
  const reported = new Set(problems.map((p) => p.path.join('.')));
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const where = file ? ` in ${file}` : '';
        problems.push({ path: [...path, key], label: [...path, key].join('.'), message: `unknown setting${where}${didYouMean(key, childKeys(path))}` });
      }
    } else if (!reported.has(path.join('.'))) {
      problems.push({ path, message: issue.message });
    }
  }
  if (problems.length > 0) throw new PalabreError('config_invalid', `invalid configuration:\n${problems.map((p) => `  ${labelOf(p, leaves, envText)}: ${p.message}`).join('\n')}`);
  return parsed.data as Config;
}

/** A copy safe to print or log: secret values, and passwords inside URLs, replaced by "***". */
export function maskSecrets<T>(value: T, key = ''): T {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)])) as T;
  }
  if (typeof value === 'string' && value !== '' && SECRET_KEY.test(key)) return '***' as T;
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) {
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/i, '$1:***@') as T;
  }
  return value;
}

const ENV_FORMAT: Record<string, string> = {
  array: ' In the env var: comma-separated.',
  record: ' In the env var: `fr=fr,en=en-us` or `{fr: fr, en: en-us}`.',
  boolean: ' In the env var: true/false, 1/0, yes/no or on/off.',
};

/** Markdown table of every setting, its env var, default and description (docs/configuration.md). */
export function describeSettings(): string {
  const defaults = configSchema.parse({});
  const rows = settingLeaves().map((leaf) => {
    const def = getPath(defaults, leaf.path);
    const shown = def === undefined ? '(unset)' : JSON.stringify(def);
    const meaning = (leaf.schema.description ?? '') + (ENV_FORMAT[typeOf(leaf.schema)] ?? '');
    return `| \`${leaf.path.join('.')}\` | \`${leaf.env}\` | \`${shown}\` | ${meaning.trim()} |`;
  });
  return ['| setting | env var | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
