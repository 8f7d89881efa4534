/**
 * One cheap request to each configured remote engine, for `palabre doctor`:
 * it proves the server is reachable and takes the key, without spending audio,
 * characters or tokens. Keys never appear in what is reported.
 */
import type { Config } from '../config.js';
import { createOpenAiClient, listOpenAiModels, openAiUseSettings, type OpenAiUse } from './openai/index.js';
import { openAiPreset } from './openai/presets.js';

export interface RemoteCheck {
  kind: 'stt' | 'tts' | 'llm' | 'embeddings';
  engine: string;
  ok: boolean;
  detail: string;
  ms: number;
}

interface Options {
  timeoutMs?: number;
  fetch?: typeof fetch;
}

async function timed(kind: RemoteCheck['kind'], engine: string, probe: () => Promise<string>): Promise<RemoteCheck> {
  const started = performance.now();
  try {
    const detail = await probe();
    return { kind, engine, ok: true, detail, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { kind, engine, ok: false, detail: err instanceof Error ? err.message : String(err), ms: Math.round(performance.now() - started) };
  }
}

/** GET with a deadline; the answer's status and JSON body (undefined when it is not JSON). */
async function getJson(url: string, headers: Record<string, string>, options: Options): Promise<{ status: number; body: unknown }> {
  const res = await (options.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(options.timeoutMs ?? 5000) }).catch((err: unknown) => {
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs ?? 5000} ms` : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
    throw new Error(`${new URL(url).origin} cannot be reached: ${why}`);
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body };
}

function refused(status: number, service: string, keySetting: string): Error {
  if (status === 401 || status === 403) return new Error(`${service} refused the API key (HTTP ${status}); check ${keySetting}`);
  return new Error(`${service} answered HTTP ${status}`);
}

/** Deepgram: the projects the key belongs to. */
function deepgram(config: Config, options: Options): Promise<string> {
  const dg = config.engines.stt.deepgram;
  return getJson(`${dg.baseUrl.replace(/\/+$/, '')}/v1/projects`, { authorization: `Token ${dg.apiKey}` }, options).then(({ status, body }) => {
    if (status !== 200) throw refused(status, 'Deepgram', 'engines.stt.deepgram.apiKey');
    const projects = (body as { projects?: unknown[] })?.projects;
    return `key accepted (${Array.isArray(projects) ? projects.length : 0} project(s)), model ${dg.model}`;
  });
}

/** ElevenLabs: the configured voice exists for this key. */
function elevenlabs(config: Config, options: Options): Promise<string> {
  const el = config.engines.tts.elevenlabs;
  const voice = el.voiceId || Object.values(el.voices)[0] || '';
  const base = el.baseUrl.replace(/\/+$/, '');
  const url = voice ? `${base}/v1/voices/${encodeURIComponent(voice)}` : `${base}/v1/voices`;
  return getJson(url, { 'xi-api-key': el.apiKey ?? '' }, options).then(({ status, body }) => {
    if (status === 404 && voice) throw new Error(`ElevenLabs has no voice ${voice} for this key; check engines.tts.elevenlabs.voiceId`);
    if (status !== 200) throw refused(status, 'ElevenLabs', 'engines.tts.elevenlabs.apiKey');
    if (!voice) return 'key accepted; no voice configured (set engines.tts.elevenlabs.voiceId)';
    return `key accepted, voice ${voice}${typeof (body as { name?: unknown })?.name === 'string' ? ` (${(body as { name: string }).name})` : ''}, model ${el.modelId}`;
  });
}

/** An OpenAI-compatible server: its model list, and whether the configured model is in it. */
async function openAiModels(baseUrl: string, apiKey: string | undefined, model: string, options: Options): Promise<string> {
  const client = createOpenAiClient({ baseUrl, apiKey, timeoutMs: options.timeoutMs ?? 5000, fetch: options.fetch });
  const models = await listOpenAiModels(client, { timeoutMs: options.timeoutMs ?? 5000 });
  // Some servers (Ollama, Kokoro) list models under other names than they accept: a miss is a hint, not a failure.
  return models.includes(model) ? `${baseUrl} serves ${model}` : `${baseUrl} answers (${models.length} model(s)); ${model} is not in its list`;
}

export async function checkRemoteEngines(config: Config, options: Options = {}): Promise<RemoteCheck[]> {
  const e = config.engines;
  const checks: Array<Promise<RemoteCheck>> = [];
  const wantsStt = (name: string) => e.stt.engine === name || e.stt.fallback.includes(name as never);
  const wantsTts = (name: string) => e.tts.engine === name || e.tts.fallback.includes(name as never);
  if (e.stt.deepgram.apiKey) checks.push(timed('stt', 'deepgram', () => deepgram(config, options)));
  if (e.tts.elevenlabs.apiKey) checks.push(timed('tts', 'elevenlabs', () => elevenlabs(config, options)));
  const uses: Array<[OpenAiUse, boolean]> = [
    ['stt', wantsStt('openai')],
    ['tts', wantsTts('openai')],
  ];
  for (const [use, wanted] of uses) {
    if (!wanted) continue;
    checks.push(
      timed(use, 'openai', async () => {
        const s = openAiUseSettings(e.openai, use);
        return openAiModels(s.server.baseUrl, s.server.apiKey, s.model, options);
      }),
    );
  }
  const llmPreset = openAiPreset(e.llm.preset);
  const llmBase = e.llm.baseUrl || llmPreset.baseUrl;
  if (llmBase) checks.push(timed('llm', e.llm.preset, () => openAiModels(llmBase, e.llm.apiKey, e.llm.model || llmPreset.chat?.model || '', options)));
  return Promise.all(checks);
}
