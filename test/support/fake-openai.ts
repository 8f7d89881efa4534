/**
 * A local stand-in for an OpenAI-compatible chat server that streams, for the
 * LLM engine's tests and the coach flow end to end: `POST /v1/chat/completions`
 * answered as SSE `chat.completion.chunk` events ending with `data: [DONE]`
 * (or as one `chat.completion` when `stream` is false). The non-streaming
 * intent fake (src/dialog/intents/fake-openai-server.ts) shares its request
 * record and override shapes. Misbehaviour is queued per request: a status
 * with an error body, a slow start, slow chunks, a stream cut mid-way, raw
 * event text.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Override, RecordedRequest } from '../../src/dialog/intents/fake-openai-server.js';

export type { RecordedRequest } from '../../src/dialog/intents/fake-openai-server.js';

export interface ChatOverride extends Override {
  /** Wait this long between stream events. */
  chunkDelayMs?: number;
  /** Destroy the connection after this many content deltas, without `[DONE]`. */
  cutAfter?: number;
  /** Sent as the whole event-stream body, as is. */
  rawStream?: string;
}

export interface FakeChatMessage {
  role: string;
  content: string;
}

/** The reply text for one request. */
export type ReplyBrain = (messages: FakeChatMessage[]) => string;

export interface FakeChatServer {
  /** Base URL including /v1. */
  baseUrl: string;
  requests: RecordedRequest[];
  next(...overrides: ChatOverride[]): void;
  close(): Promise<void>;
}

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeChatServer(options: { reply?: ReplyBrain } = {}): Promise<FakeChatServer> {
  const requests: RecordedRequest[] = [];
  const queue: ChatOverride[] = [];
  const brain = options.reply ?? coachBrain;
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));

  function send(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // Recorded as text; answered 400 below.
    }
    const path = (req.url ?? '').split('?')[0];
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });
    const o = queue.shift() ?? {};
    if (o.delayMs) await sleep(o.delayMs);
    if (res.destroyed) return;
    if (o.status !== undefined || o.body !== undefined) return send(res, o.status ?? 200, o.body ?? { error: { message: 'fake failure', type: 'server_error', code: null } });
    if (path !== '/v1/chat/completions') return send(res, 404, { error: { message: `no route ${path}`, type: 'invalid_request_error', code: null } });
    const b = body as { model?: unknown; messages?: unknown; stream?: unknown; stream_options?: { include_usage?: boolean } };
    if (req.method !== 'POST' || typeof b !== 'object' || b === null || typeof b.model !== 'string' || !Array.isArray(b.messages)) {
      return send(res, 400, { error: { message: 'model and messages are required', type: 'invalid_request_error', code: null } });
    }
    const model = b.model;
    const text = brain(b.messages as FakeChatMessage[]);
    const id = `chatcmpl-fake${requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    if (b.stream !== true) {
      return send(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    if (o.rawStream !== undefined) {
      res.end(o.rawStream);
      return;
    }
    const event = async (data: unknown) => {
      if (o.chunkDelayMs) await sleep(o.chunkDelayMs);
      if (!res.destroyed) res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    };
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
    await event(chunk({ role: 'assistant', content: '', refusal: null }, null));
    let sent = 0;
    for (const piece of pieces(text)) {
      if (o.cutAfter !== undefined && sent >= o.cutAfter) {
        // What was written reaches the client before the connection drops.
        await sleep(50);
        res.destroy();
        return;
      }
      await event(chunk({ content: piece }, null));
      sent++;
    }
    await event(chunk({}, 'stop'));
    if (b.stream_options?.include_usage) await event({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: { prompt_tokens: 10, completion_tokens: sent, total_tokens: 10 + sent } });
    await event('[DONE]');
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    next: (...overrides) => queue.push(...overrides),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

