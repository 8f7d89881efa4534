/**
 * A local stand-in for an OpenAI-compatible server (node:http on 127.0.0.1,
 * random port), for the engines' tests and the flows end to end. It speaks
 * the wire shapes of the real API, and test/fake-openai.test.ts reads every
 * endpoint with the official `openai` client so it cannot drift from them:
 *
 * - `POST /v1/chat/completions`: one `chat.completion`, or SSE
 *   `chat.completion.chunk` events ending with `data: [DONE]` (usage last with
 *   `stream_options.include_usage`); `response_format` json_schema (strict
 *   schemas checked as OpenAI checks them) and json_object; tools, with calls
 *   streamed as `tool_calls` deltas.
 * - `POST /v1/embeddings`: deterministic bags of hashed words (texts sharing
 *   words are near each other), as floats or base64 float32, `dimensions`.
 * - `POST /v1/audio/transcriptions` (multipart): the upload decoded and
 *   recognised by the local PocketSphinx engine; json, text, srt, vtt,
 *   verbose_json with segments and words (`timestamp_granularities[]`), or
 *   SSE `transcript.text.*` events with `stream`.
 * - `POST /v1/audio/speech`: real speech (flite, espeak-ng for Kokoro's
 *   French and Spanish voices) streamed sentence by sentence as pcm (24 kHz
 *   s16le), wav, mp3/flac (ffmpeg) or SSE `speech.audio.*` events.
 * - `GET /v1/models`, `GET /v1/models/{id}`.
 *
 * Misbehaviour is queued per request (`next`): a status with an error body
 * and headers (401, 429 with retry-after, 500…), a slow first byte, slow
 * chunks, a connection cut mid-stream, raw (malformed) event text. Servers
 * lacking a feature are imitated with `unsupported`.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AudioChunk } from '../../src/audio/frame.js';
import { decodeAudio } from '../../src/audio/decode.js';
import { loadResampler, resample, type Resampler } from '../../src/audio/resample.js';
import { encodeSlinLe } from '../../src/audio/slin.js';
import { createStt } from '../../src/engines/stt/index.js';
import type { Stt, SttResult } from '../../src/engines/stt/types.js';
import { createTts } from '../../src/engines/tts/index.js';
import type { Tts } from '../../src/engines/tts/types.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON, the multipart fields (files as {filename, type, size}), or the raw text. */
  body: unknown;
}

/** What the next request gets instead of (or on top of) the normal answer. */
export interface Override {
  status?: number;
  /** Sent as is (a string) or as JSON, with `status` (default 200). */
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before sending anything (a slow first byte). */
  delayMs?: number;
  /** Wait this long before each streamed event or audio piece. */
  chunkDelayMs?: number;
  /** Destroy the connection after this many streamed pieces (chat deltas, audio pieces), without finishing. */
  cutAfter?: number;
  /** Sent as the whole event-stream body, as is. */
  rawStream?: string;
}
export type ChatOverride = Override;

export interface FakeChatMessage {
  role: string;
  content: string | null;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

export interface FakeTool {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

export interface FakeChatRequest {
  model: string;
  messages: FakeChatMessage[];
  stream: boolean;
  /** The last user message's text. */
  userText: string;
  responseFormat?: { type: string; json_schema?: { name: string; schema?: Record<string, unknown>; strict?: boolean } };
  tools: FakeTool[];
  toolChoice?: unknown;
  parallelToolCalls?: boolean;
}

export interface FakeToolCall {
  name: string;
  /** An object (sent as JSON text) or the text itself. */
  arguments: unknown;
}

export type FakeReply = string | { content?: string; toolCalls?: FakeToolCall[]; refusal?: string };

/** The reply text for a conversation. */
export type ReplyBrain = (messages: FakeChatMessage[]) => string;

/** Features a server may lack; a request using one gets the 400 such a server gives. */
export type FakeUnsupported = 'json_schema' | 'stream_options' | 'parallel_tool_calls' | 'verbose_json';

export interface FakeOpenAiOptions {
  /** The model's answer; default: schema- and tool-aware, else `coachBrain`. */
  reply?: (request: FakeChatRequest) => FakeReply;
  /** When set, every request must carry `Authorization: Bearer <apiKey>` (401 otherwise). */
  apiKey?: string;
  unsupported?: readonly FakeUnsupported[];
  /** Listed by /v1/models. */
  models?: readonly string[];
}

export interface FakeOpenAi {
  /** Base URL including /v1. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Queues overrides for the next requests, in order. */
  next(...overrides: Override[]): void;
  close(): Promise<void>;
}
export type FakeOpenAiServer = FakeOpenAi;
export type FakeChatServer = FakeOpenAi;

/** A recruiter that picks its line from the learner's last words, with a style tag as the coach flow asks. */
export const coachBrain: ReplyBrain = (messages) => {
  const last = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  // The dialog runtime opens an llm state with a bracketed stage direction instead of learner words.
  if (last === '' || last.startsWith('(')) return '[encouragement] Welcome! Tell me about yourself.';
  if (/experience|worked|job/i.test(last)) return '[curiosite] Interesting! What did you learn in that job?';
  return `[encouragement] Thank you. You said "${last}". Why do you want this position?`;
};

/** The reply as a model streams it: a word and its following space per delta. */
export function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

export const FAKE_DIMENSIONS = 256;

/** Bag of hashed words, L2-normalised: what the fake answers for one text. */
export function fakeEmbedding(text: string): number[] {
  const v = new Array<number>(FAKE_DIMENSIONS).fill(0);
  const words =
    text
      .toLowerCase()
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .match(/[a-z0-9]+/g) ?? [];
  for (const w of words) {
    let h = 2166136261;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
    v[(h >>> 0) % FAKE_DIMENSIONS] += 1;
  }
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

/** How an intent-classifying model answers: given the user text and the intent names its schema allows, the JSON content. */
export type ChatBrain = (userText: string, allowed: string[]) => string;

/** A reply function for intent classification requests (a json_schema whose `intent` is an enum). */
export function intentReply(brain: ChatBrain): (request: FakeChatRequest) => FakeReply {
  return (request) => {
    const properties = request.responseFormat?.json_schema?.schema?.properties as { intent?: { enum?: string[] } } | undefined;
    return brain(request.userText, properties?.intent?.enum ?? []);
  };
}

/** A value satisfying a JSON schema; an enum takes the value the text names, else its last. */
export function exampleOf(schema: unknown, text: string): unknown {
  const s = (schema ?? {}) as Record<string, unknown>;
  if (Array.isArray(s.enum)) return s.enum.find((v) => typeof v === 'string' && text.toLowerCase().includes(v.toLowerCase())) ?? s.enum.at(-1);
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.anyOf)) return exampleOf(s.anyOf[0], text);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, exampleOf(v, text)]));
    }
    case 'array':
      return [exampleOf(s.items, text)];
    case 'number':
      return typeof s.minimum === 'number' && typeof s.maximum === 'number' ? (s.minimum + s.maximum) / 2 : 0.5;
    case 'integer':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return text.split(/\s+/).filter(Boolean).at(-1) ?? 'ok';
  }
}

/** Schema- and tool-aware default: calls a tool the user names (or the one tool_choice forces), fills a json_schema, else `coachBrain`. */
export function defaultReply(request: FakeChatRequest): FakeReply {
  const text = request.userText.toLowerCase();
  if (request.tools.length > 0 && request.toolChoice !== 'none') {
    const forced = request.toolChoice as { function?: { name?: string } } | string | undefined;
    const chosen =
      typeof forced === 'object' && forced?.function?.name
        ? request.tools.filter((t) => t.name === forced.function?.name)
        : request.tools.filter((t) => text.includes(t.name.toLowerCase()) || text.includes(t.name.toLowerCase().replace(/_/g, ' ')));
    const calls = chosen.length > 0 ? chosen : forced === 'required' ? request.tools.slice(0, 1) : [];
    if (calls.length > 0) return { toolCalls: calls.map((t) => ({ name: t.name, arguments: exampleOf(t.parameters, request.userText) })) };
  }
  const format = request.responseFormat;
  if (format?.type === 'json_schema') return JSON.stringify(exampleOf(format.json_schema?.schema, request.userText));
  if (format?.type === 'json_object') {
    // A model in JSON mode follows a schema spelt out in its instructions.
    const schema = request.messages
      .filter((m) => m.role === 'system')
      .map((m) => /\{[\s\S]*\}\s*$/.exec(m.content ?? '')?.[0])
      .map((text) => {
        try {
          return text === undefined ? undefined : (JSON.parse(text) as unknown);
        } catch {
          return undefined;
        }
      })
      .find((v) => typeof v === 'object' && v !== null);
    return JSON.stringify(schema ? exampleOf(schema, request.userText) : { reply: coachBrain(request.messages) });
  }
  return coachBrain(request.messages);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const OPENAI_VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];
const MALE_VOICES = new Set(['ash', 'echo', 'fable', 'onyx', 'ballad', 'cedar']);
/** Kokoro's voice names: language letter, gender letter, name; several may be mixed ("af_bella(2)+af_sky"). */
const KOKORO_VOICE = /^[a-z][fm]_[a-z]+(\(\d+(\.\d+)?\))?$/;
const PCM_RATE = 24_000;
/** Audio is written in pieces of this many ms, so streaming shows. */
const PIECE_MS = 100;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

function errorBody(status: number, message: string, param: string | null = null, code: string | null = null) {
  const type = status === 401 ? 'invalid_request_error' : status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

/** OpenAI's strict mode: every object closed and all its properties required. */
function strictProblem(schema: unknown, where: string): string | undefined {
  if (Array.isArray(schema)) {
    for (const s of schema) {
      const p = strictProblem(s, where);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof schema !== 'object' || schema === null) return undefined;
  const s = schema as Record<string, unknown>;
  if (s.type === 'object') {
    if (s.additionalProperties !== false) return `In context=(${where}), 'additionalProperties' is required to be supplied and to be false.`;
    const keys = Object.keys((s.properties as Record<string, unknown>) ?? {});
    const required = Array.isArray(s.required) ? s.required : [];
    const missing = keys.find((k) => !required.includes(k));
    if (missing) return `In context=(${where}), 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
    for (const [k, v] of Object.entries((s.properties as Record<string, unknown>) ?? {})) {
      const p = strictProblem(v, where ? `${where}, 'properties', '${k}'` : `'properties', '${k}'`);
      if (p) return p;
    }
  }
  if (s.items) return strictProblem(s.items, where ? `${where}, 'items'` : `'items'`);
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(s[k])) return strictProblem(s[k], where);
  return undefined;
}

function mask(key: string): string {
  return key.length <= 8 ? '***' : `${key.slice(0, 3)}${'*'.repeat(Math.max(4, key.length - 7))}${key.slice(-4)}`;
}

function srtTime(seconds: number, sep: string): string {
  const ms = Math.round(seconds * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}${sep}${pad(ms % 1000, 3)}`;
}

/** Encodes raw 24 kHz PCM with ffmpeg, streaming its output. */
function ffmpegEncode(pcm: Uint8Array, rate: number, format: string): { stdout: NodeJS.ReadableStream; done: Promise<void> } {
  const args: Record<string, string[]> = {
    mp3: ['-f', 'mp3'],
    flac: ['-f', 'flac'],
    opus: ['-c:a', 'libopus', '-f', 'ogg'],
    aac: ['-c:a', 'aac', '-f', 'adts'],
  };
  const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', String(rate), '-ac', '1', '-i', 'pipe:0', ...args[format], 'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(Buffer.from(pcm));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${format} failed: ${stderr.trim()}`))));
  });
  return { stdout: child.stdout, done };
}

export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const requests: RecordedRequest[] = [];
  const queue: Override[] = [];
  const unsupported = new Set(options.unsupported ?? []);
  const reply = options.reply ?? defaultReply;
  const models = options.models ?? ['gpt-4o-mini', 'whisper-1', 'gpt-4o-mini-tts', 'text-embedding-3-small'];
  // Loaded on first use: chat-only tests never pay for a recogniser or voices.
  let stt: Promise<Stt> | undefined;
  const voices = new Map<string, Promise<Tts>>();
  const engine = (name: 'flite' | 'espeak') => {
    let tts = voices.get(name);
    if (!tts) {
      tts = name === 'flite' ? createTts('flite') : createTts('espeak');
      voices.set(name, tts);
    }
    return tts;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return send(res, err.status, errorBody(err.status, err.message, err.param, err.code));
      if (!res.headersSent) return send(res, 500, errorBody(500, `The server had an error while processing your request: ${(err as Error).message}`));
      res.destroy();
    });
  });

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', ...headers });
    res.end(text);
  }

  async function parseBody(req: IncomingMessage, raw: Buffer): Promise<{ body: unknown; form?: FormData }> {
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake/', { method: 'POST', headers: { 'content-type': type }, body: raw }).formData();
      const fields: Record<string, unknown> = {};
      for (const [k, v] of form.entries()) {
        const value = typeof v === 'string' ? v : { filename: v.name, type: v.type, size: v.size };
        fields[k] = k.endsWith('[]') ? [...((fields[k] as unknown[]) ?? []), value] : value;
      }
      return { body: fields, form };
    }
    const text = raw.toString('utf8');
    try {
      return { body: JSON.parse(text) };
    } catch {
      return { body: text };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const { body, form } = await parseBody(req, Buffer.concat(chunks));
    const path = (req.url ?? '').split('?')[0];
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });
    const o = queue.shift() ?? {};
    if (o.delayMs) await sleep(o.delayMs);
    if (res.destroyed) return;
    if (options.apiKey !== undefined) {
      const given = /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1];
      if (given === undefined) return send(res, 401, errorBody(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", null, null));
      if (given !== options.apiKey) return send(res, 401, errorBody(401, `Incorrect API key provided: ${mask(given)}. You can find your API key at https://platform.openai.com/account/api-keys.`, null, 'invalid_api_key'));
    }
    if (o.status !== undefined || o.body !== undefined) return send(res, o.status ?? 200, o.body ?? errorBody(o.status ?? 500, 'fake failure'), o.headers);
    const route = `${req.method} ${path}`;
    if (route === 'GET /v1/models') return send(res, 200, { object: 'list', data: models.map((id) => modelObject(id)) }, o.headers);
    if (req.method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (!models.includes(id)) throw new HttpError(404, `The model '${id}' does not exist`, 'model', 'model_not_found');
      return send(res, 200, modelObject(id), o.headers);
    }
    if (route === 'POST /v1/chat/completions') return chat(res, body, o);
    if (route === 'POST /v1/embeddings') return embeddings(res, body, o);
    if (route === 'POST /v1/audio/transcriptions' || route === 'POST /v1/audio/translations') return transcription(res, form, o, path.endsWith('translations'));
    if (route === 'POST /v1/audio/speech') return speech(res, body, o);
    throw new HttpError(404, `Invalid URL (${req.method} ${path})`);
  }

  function modelObject(id: string) {
    return { id, object: 'model', created: 1_700_000_000, owned_by: 'palabre-fake' };
  }

  /** Writes an event stream: headers, then each event after `chunkDelayMs`; false once the connection is cut. */
  function eventStream(res: ServerResponse, o: Override) {
    let sent = 0;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...o.headers });
    return {
      /** Counts toward `cutAfter` when `counted`. */
      async event(data: unknown, counted = false): Promise<boolean> {
        if (res.destroyed) return false;
        if (counted && o.cutAfter !== undefined && sent >= o.cutAfter) {
          // What was written reaches the client before the connection drops.
          await sleep(50);
          res.destroy();
          return false;
        }
        if (o.chunkDelayMs) await sleep(o.chunkDelayMs);
        if (res.destroyed) return false;
        res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
        if (counted) sent++;
        return true;
      },
      get sent() {
        return sent;
      },
    };
  }

  function chatRequest(body: unknown): FakeChatRequest {
    if (typeof body !== 'object' || body === null) throw new HttpError(400, 'We could not parse the JSON body of your request.');
    const b = body as Record<string, unknown>;
    if (typeof b.model !== 'string') throw new HttpError(400, 'you must provide a model parameter', 'model');
    if (!Array.isArray(b.messages) || b.messages.length === 0) throw new HttpError(400, "Invalid 'messages': empty array. Expected an array with minimum length 1.", 'messages');
    const messages = b.messages as FakeChatMessage[];
    const callIds = new Set<string>();
    for (const [i, m] of messages.entries()) {
      if (m.role === 'assistant') for (const c of m.tool_calls ?? []) callIds.add(c.id);
      if (m.role === 'tool' && !callIds.has(m.tool_call_id ?? '')) {
        throw new HttpError(400, `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.`, `messages.[${i}].role`);
      }
    }
    const stream = b.stream === true;
    if (b.stream_options !== undefined) {
      if (unsupported.has('stream_options')) throw new HttpError(400, 'Unrecognized request argument supplied: stream_options');
      if (!stream) throw new HttpError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
    }
    const tools: FakeTool[] = [];
    for (const t of (b.tools as Array<{ type?: string; function?: FakeTool }> | undefined) ?? []) {
      if (t.type !== 'function' || typeof t.function?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)) {
        throw new HttpError(400, `Invalid 'tools': each tool needs type "function" and a function name matching ^[a-zA-Z0-9_-]{1,64}$.`, 'tools');
      }
      tools.push(t.function);
    }
    if (b.parallel_tool_calls !== undefined) {
      if (unsupported.has('parallel_tool_calls')) throw new HttpError(400, 'Unrecognized request argument supplied: parallel_tool_calls');
      if (tools.length === 0) throw new HttpError(400, "Invalid value for 'parallel_tool_calls': only allowed when 'tools' are specified.", 'parallel_tool_calls');
    }
    const format = b.response_format as FakeChatRequest['responseFormat'];
    if (format?.type === 'json_schema') {
      if (unsupported.has('json_schema')) throw new HttpError(400, 'This model does not support response format `json_schema`.', 'response_format');
      const js = format.json_schema;
      if (!js || !/^[A-Za-z0-9_-]{1,64}$/.test(js.name ?? '')) throw new HttpError(400, "Invalid 'response_format.json_schema.name': string does not match pattern '^[a-zA-Z0-9_-]+$'.", 'response_format.json_schema.name');
      if (js.strict === true) {
        const problem = strictProblem(js.schema, '');
        if (problem) throw new HttpError(400, `Invalid schema for response_format '${js.name}': ${problem}`, 'response_format', 'invalid_json_schema');
      }
    } else if (format?.type === 'json_object') {
      if (!messages.some((m) => /json/i.test(m.content ?? ''))) {
        throw new HttpError(400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", 'messages');
      }
    }
    const userText = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    return {
      model: b.model,
      messages,
      stream,
      userText,
      responseFormat: format,
      tools,
      toolChoice: b.tool_choice,
      parallelToolCalls: typeof b.parallel_tool_calls === 'boolean' ? b.parallel_tool_calls : undefined,
    };
  }

  async function chat(res: ServerResponse, body: unknown, o: Override): Promise<void> {
    const request = chatRequest(body);
    const answer = reply(request);
    const { content, toolCalls = [], refusal } = typeof answer === 'string' ? { content: answer } : answer;
    // A model told not to call tools in parallel calls one at a time.
    const calls = (request.parallelToolCalls === false ? toolCalls.slice(0, 1) : toolCalls).map((c, i) => ({
      id: `call_fake${requests.length}_${i}`,
      type: 'function',
      function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
    }));
    const finish = calls.length > 0 ? 'tool_calls' : 'stop';
    const id = `chatcmpl-fake${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const promptTokens = request.messages.reduce((n, m) => n + pieces(m.content ?? '').length, 0);
    if (!request.stream) {
      const message: Record<string, unknown> = { role: 'assistant', content: content ?? null, refusal: refusal ?? null };
      if (calls.length > 0) message.tool_calls = calls;
      const completion = pieces(content ?? '').length + calls.length;
      return send(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model: request.model,
          choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
          usage: { prompt_tokens: promptTokens, completion_tokens: completion, total_tokens: promptTokens + completion },
        },
        o.headers,
      );
    }
    const stream = eventStream(res, o);
    if (o.rawStream !== undefined) {
      res.end(o.rawStream);
      return;
    }
    const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    });
    if (!(await stream.event(chunk({ role: 'assistant', content: '', refusal: null }, null)))) return;
    if (refusal !== undefined) {
      for (const piece of pieces(refusal)) if (!(await stream.event(chunk({ refusal: piece }, null), true))) return;
    }
    for (const piece of pieces(content ?? '')) if (!(await stream.event(chunk({ content: piece }, null), true))) return;
    for (const [index, call] of calls.entries()) {
      if (!(await stream.event(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, null), true))) return;
      // Arguments arrive in fragments that split keys and values, as real models stream them.
      for (const fragment of call.function.arguments.match(/[\s\S]{1,7}/g) ?? []) {
        if (!(await stream.event(chunk({ tool_calls: [{ index, function: { arguments: fragment } }] }, null), true))) return;
      }
    }
    if (!(await stream.event(chunk({}, finish)))) return;
    const b = body as { stream_options?: { include_usage?: boolean } };
    if (b.stream_options?.include_usage) {
      const usage = { prompt_tokens: promptTokens, completion_tokens: stream.sent, total_tokens: promptTokens + stream.sent };
      if (!(await stream.event({ id, object: 'chat.completion.chunk', created, model: request.model, choices: [], usage }))) return;
    }
    if (!(await stream.event('[DONE]'))) return;
    res.end();
  }

  function embeddings(res: ServerResponse, body: unknown, o: Override): void {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.model !== 'string') throw new HttpError(400, 'you must provide a model parameter', 'model');
    let inputs: string[];
    if (typeof b.input === 'string') inputs = [b.input];
    else if (Array.isArray(b.input) && b.input.every((x) => typeof x === 'number')) inputs = [b.input.join(' ')];
    else if (Array.isArray(b.input)) inputs = b.input.map((x) => (Array.isArray(x) ? x.join(' ') : String(x)));
    else throw new HttpError(400, "'input' is a required property", 'input');
    if (inputs.length === 0 || inputs.some((t) => t === '')) throw new HttpError(400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input');
    const dims = b.dimensions === undefined ? FAKE_DIMENSIONS : Number(b.dimensions);
    if (!Number.isInteger(dims) || dims < 1 || dims > FAKE_DIMENSIONS) throw new HttpError(400, `This model does not support specifying dimensions above ${FAKE_DIMENSIONS}.`, 'dimensions');
    const base64 = b.encoding_format === 'base64';
    const data = inputs.map((text, index) => {
      let v = fakeEmbedding(text).slice(0, dims);
      const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
      v = v.map((x) => x / norm);
      if (!base64) return { object: 'embedding', index, embedding: v };
      const bytes = Buffer.alloc(v.length * 4);
      v.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
      return { object: 'embedding', index, embedding: bytes.toString('base64') };
    });
    const tokens = inputs.reduce((n, t) => n + pieces(t).length, 0);
    send(res, 200, { object: 'list', data, model: b.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, o.headers);
  }

  async function transcription(res: ServerResponse, form: FormData | undefined, o: Override, translate: boolean): Promise<void> {
    if (!form) throw new HttpError(400, 'Invalid Content-Type header: expected multipart/form-data.');
    const file = form.get('file');
    if (!(file instanceof File)) throw new HttpError(400, "'file' is a required property", 'file');
    const model = form.get('model');
    if (typeof model !== 'string' || model === '') throw new HttpError(400, 'you must provide a model parameter', 'model');
    const format = String(form.get('response_format') ?? 'json');
    if (!['json', 'text', 'srt', 'vtt', 'verbose_json'].includes(format)) throw new HttpError(400, `Invalid value for 'response_format': '${format}'.`, 'response_format');
    if (format === 'verbose_json' && unsupported.has('verbose_json')) {
      throw new HttpError(400, `response_format 'verbose_json' is not compatible with model '${model}'. Use 'json' or 'text' instead.`, 'response_format', 'unsupported_value');
    }
    const granularities = form.getAll('timestamp_granularities[]').map(String);
    let audio: AudioChunk;
    try {
      audio = await decodeAudio(new Uint8Array(await file.arrayBuffer()), { ffmpegPath: 'ffmpeg' });
    } catch {
      throw new HttpError(400, 'Audio file might be corrupted or unsupported', 'file', 'invalid_value');
    }
    stt ??= createStt('pocketsphinx', { pocketsphinx: { poolSize: 1 } });
    // PocketSphinx here knows English only; a request in another language still gets what it heard.
    const heard: SttResult = await (await stt).transcribe(await resample(audio, 16_000), { language: 'en' });
    const duration = Math.round((audio.samples.length / audio.sampleRate) * 100) / 100;
    const usage = { type: 'duration', seconds: Math.ceil(duration) };
    if (form.get('stream') === 'true') {
      const stream = eventStream(res, o);
      for (const word of pieces(heard.text)) if (!(await stream.event({ type: 'transcript.text.delta', delta: word }, true))) return;
      if (!(await stream.event({ type: 'transcript.text.done', text: heard.text, usage }))) return;
      res.end();
      return;
    }
    const segments = heard.segments.map((s, id) => ({
      id,
      seek: 0,
      start: s.start,
      end: s.end,
      text: ` ${s.text}`,
      tokens: [],
      temperature: 0,
      avg_logprob: Math.log(Math.max(1e-4, s.confidence ?? 0.9)),
      compression_ratio: 1,
      no_speech_prob: 0.01,
    }));
    switch (format) {
      case 'text':
        return send(res, 200, `${heard.text}\n`, o.headers);
      case 'srt':
        return send(res, 200, segments.map((s, i) => `${i + 1}\n${srtTime(s.start, ',')} --> ${srtTime(s.end, ',')}\n${s.text.trim()}\n\n`).join(''), o.headers);
      case 'vtt':
        return send(res, 200, `WEBVTT\n\n${segments.map((s) => `${srtTime(s.start, '.')} --> ${srtTime(s.end, '.')}\n${s.text.trim()}\n\n`).join('')}`, o.headers);
      case 'verbose_json': {
        const verbose: Record<string, unknown> = { task: translate ? 'translate' : 'transcribe', language: 'english', duration, text: heard.text };
        if (granularities.length === 0 || granularities.includes('segment')) verbose.segments = segments;
        if (granularities.includes('word')) verbose.words = (heard.words ?? []).map((w) => ({ word: w.word, start: w.start, end: w.end }));
        verbose.usage = usage;
        return send(res, 200, verbose, o.headers);
      }
      default:
        return send(res, 200, { text: heard.text, usage }, o.headers);
    }
  }

  /** The voice's speech, sentence by sentence, at `rate`. */
  async function* speak(voice: string, input: string, rate: number): AsyncGenerator<Int16Array> {
    const first = voice.split('+')[0];
    const kokoroLanguage = KOKORO_VOICE.test(first) ? first[0] : undefined;
    const tts = await engine(kokoroLanguage === 'f' || kokoroLanguage === 'e' ? 'espeak' : 'flite');
    const male = kokoroLanguage === undefined ? MALE_VOICES.has(voice) : first[1] === 'm';
    const options = kokoroLanguage === 'f' ? { language: 'fr' } : kokoroLanguage === 'e' ? { language: 'es' } : { voice: male ? 'kal16' : 'slt' };
    let resampler: Resampler | undefined;
    try {
      for await (const chunk of tts.synthesize(input, options)) {
        resampler ??= (await loadResampler()).create(chunk.sampleRate, rate);
        yield resampler.process(chunk.samples);
      }
      if (resampler) yield resampler.flush();
    } finally {
      resampler?.close();
    }
  }

  async function speech(res: ServerResponse, body: unknown, o: Override): Promise<void> {
    const b = (body ?? {}) as Record<string, unknown>;
    if (typeof b.model !== 'string') throw new HttpError(400, 'you must provide a model parameter', 'model');
    if (typeof b.input !== 'string' || b.input.trim() === '') throw new HttpError(400, "'input' is a required property", 'input');
    if (b.input.length > 4096) throw new HttpError(400, `Invalid 'input': string too long. Expected a string with maximum length 4096, but got a string with length ${b.input.length} instead.`, 'input', 'string_above_max_length');
    const voice = String(b.voice ?? '');
    const voiceOk = OPENAI_VOICES.includes(voice) || voice.split('+').every((v) => KOKORO_VOICE.test(v));
    if (!voiceOk) throw new HttpError(400, `Invalid value: '${voice}'. Supported values are: ${OPENAI_VOICES.map((v) => `'${v}'`).join(', ')}.`, 'voice', 'invalid_value');
    const format = String(b.response_format ?? 'mp3');
    if (!['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'].includes(format)) throw new HttpError(400, `Invalid value: '${format}'. Supported values are: 'mp3', 'opus', 'aac', 'flac', 'wav', and 'pcm'.`, 'response_format');
    const speed = b.speed === undefined ? 1 : Number(b.speed);
    if (!(speed >= 0.25 && speed <= 4)) throw new HttpError(400, `Invalid 'speed': ${String(b.speed)} is not between 0.25 and 4.0.`, 'speed');
    // speaches' `sample_rate` extra; everyone else speaks 24 kHz.
    const rate = typeof b.sample_rate === 'number' ? b.sample_rate : PCM_RATE;
    const audio = speak(voice, b.input, rate);
    const pieceBytes = Math.round((rate * PIECE_MS) / 1000) * 2;

    if (b.stream_format === 'sse') {
      const stream = eventStream(res, o);
      if (o.rawStream !== undefined) {
        res.end(o.rawStream);
        return;
      }
      let samples = 0;
      for await (const pcm of audio) {
        samples += pcm.length;
        const bytes = encodeSlinLe(pcm);
        for (let at = 0; at < bytes.length; at += pieceBytes) {
          if (!(await stream.event({ type: 'speech.audio.delta', audio: Buffer.from(bytes.subarray(at, at + pieceBytes)).toString('base64') }, true))) return;
        }
      }
      const tokens = pieces(b.input).length;
      if (!(await stream.event({ type: 'speech.audio.done', usage: { input_tokens: tokens, output_tokens: Math.ceil(samples / 480), total_tokens: tokens + Math.ceil(samples / 480) } }))) return;
      res.end();
      return;
    }

    const types: Record<string, string> = { pcm: 'audio/pcm', wav: 'audio/wav', mp3: 'audio/mpeg', flac: 'audio/flac', opus: 'audio/opus', aac: 'audio/aac' };
    if (format !== 'pcm' && format !== 'wav') {
      // Compressed formats are encoded once the speech is complete.
      const all: Int16Array[] = [];
      for await (const pcm of audio) all.push(pcm);
      const joined = new Int16Array(all.reduce((n, a) => n + a.length, 0));
      let at = 0;
      for (const a of all) {
        joined.set(a, at);
        at += a.length;
      }
      const encoded = ffmpegEncode(encodeSlinLe(joined), rate, format);
      res.writeHead(200, { 'content-type': types[format], 'transfer-encoding': 'chunked', ...o.headers });
      for await (const part of encoded.stdout) res.write(part as Buffer);
      await encoded.done;
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': types[format], 'transfer-encoding': 'chunked', ...o.headers });
    if (format === 'wav') {
      // A streamed WAV cannot know its length: the size fields say "unknown" (0xFFFFFFFF), as OpenAI's do.
      const header = Buffer.alloc(44);
      header.write('RIFF', 0, 'ascii');
      header.writeUInt32LE(0xffffffff, 4);
      header.write('WAVEfmt ', 8, 'ascii');
      header.writeUInt32LE(16, 16);
      header.writeUInt16LE(1, 20);
      header.writeUInt16LE(1, 22);
      header.writeUInt32LE(rate, 24);
      header.writeUInt32LE(rate * 2, 28);
      header.writeUInt16LE(2, 32);
      header.writeUInt16LE(16, 34);
      header.write('data', 36, 'ascii');
      header.writeUInt32LE(0xffffffff, 40);
      res.write(header);
    }
    let sent = 0;
    for await (const pcm of audio) {
      const bytes = encodeSlinLe(pcm);
      for (let at = 0; at < bytes.length; at += pieceBytes) {
        if (o.cutAfter !== undefined && sent >= o.cutAfter) {
          await sleep(50);
          res.destroy();
          return;
        }
        if (o.chunkDelayMs) await sleep(o.chunkDelayMs);
        if (res.destroyed) return;
        res.write(bytes.subarray(at, at + pieceBytes));
        sent++;
      }
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    next: (...overrides) => queue.push(...overrides),
    async close() {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      const engines = await Promise.allSettled([stt, ...voices.values()].filter((p): p is Promise<Stt> | Promise<Tts> => p !== undefined));
      await Promise.allSettled(engines.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    },
  };
}

/** The same fake under the name the chat tests know it by. */
export const startFakeChatServer = startFakeOpenAi;
