/**
 * A local stand-in for an OpenAI-compatible server (node:http on 127.0.0.1,
 * random port) speaking the wire shapes of `POST /v1/embeddings` and
 * `POST /v1/chat/completions` (non-streaming), for tests. Embeddings are
 * deterministic bags of hashed words, so texts sharing words are near each
 * other and nearest-example logic is really exercised. Failures (status codes,
 * delays, raw bodies) are queued per request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** What the next request gets instead of the normal answer. */
export interface Override {
  status?: number;
  /** Sent as is (a string) or as JSON. */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface FakeOpenAiServer {
  /** Base URL including /v1. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Queues overrides for the next requests, in order. */
  next(...overrides: Override[]): void;
  close(): Promise<void>;
}

export const FAKE_DIMENSIONS = 256;

/** Bag of hashed words, L2-normalised: what the fake server answers for one text. */
export function fakeEmbedding(text: string): number[] {
  const v = new Array<number>(FAKE_DIMENSIONS).fill(0);
  const words = text
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

/** How the fake LLM picks an intent: given the user text and the allowed names, the JSON content to answer. */
export type ChatBrain = (userText: string, allowed: string[]) => string;

export async function startFakeOpenAi(options: { chat?: ChatBrain } = {}): Promise<FakeOpenAiServer> {
  const requests: RecordedRequest[] = [];
  const queue: Override[] = [];
  const server = createServer((req, res) => void handle(req, res));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // Recorded as text; the answer below is a 400.
    }
    const path = (req.url ?? '').split('?')[0];
    requests.push({ method: req.method ?? '', path, headers: req.headers, body });
    const override = queue.shift();
    if (override?.delayMs) await new Promise((r) => setTimeout(r, override.delayMs));
    if (res.destroyed) return;
    if (override?.status !== undefined || override?.body !== undefined) return send(res, override.status ?? 200, override.body ?? { error: { message: 'fake failure' } });
    if (req.method !== 'POST' || typeof body !== 'object' || body === null) return send(res, 400, { error: { message: 'expected a JSON POST' } });
    const b = body as Record<string, unknown>;
    if (path === '/v1/embeddings') {
      const input = typeof b.input === 'string' ? [b.input] : b.input;
      if (!Array.isArray(input) || typeof b.model !== 'string') return send(res, 400, { error: { message: 'input and model are required' } });
      return send(res, 200, {
        object: 'list',
        data: input.map((text, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(String(text)) })),
        model: b.model,
        usage: { prompt_tokens: input.length, total_tokens: input.length },
      });
    }
    if (path === '/v1/chat/completions') {
      const messages = b.messages as Array<{ role: string; content: string }> | undefined;
      const format = b.response_format as { json_schema?: { schema?: { properties?: { intent?: { enum?: string[] } } } } } | undefined;
      const allowed = format?.json_schema?.schema?.properties?.intent?.enum;
      if (!Array.isArray(messages) || !allowed) return send(res, 400, { error: { message: 'messages and a json_schema response_format are required' } });
      const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const content = (options.chat ?? (() => JSON.stringify({ intent: 'none', confidence: 0.2, slots: [] })))(user, allowed);
      return send(res, 200, {
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: b.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      });
    }
    send(res, 404, { error: { message: `no route ${path}` } });
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
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
