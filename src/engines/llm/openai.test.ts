/**
 * The OpenAI-compatible chat engine against the fake server, which
 * test/fake-openai.test.ts proves with the official `openai` client so it
 * cannot drift from the real wire protocol. Tool calls, JSON answers and
 * presets are in test/openai-engines.test.ts.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coachBrain, type FakeOpenAi, pieces, startFakeOpenAi } from '../../../test/support/fake-openai.js';
import { loadConfig } from '../../config.js';
import { PalabreError } from '../../errors.js';
import { createLlmFromConfig } from './index.js';
import { createOpenAiLlm } from './openai.js';
import type { ChatMessage, Llm } from './types.js';

const KEY = 'sk-test-secret-1234';
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a recruiter.' },
  { role: 'user', content: 'I worked five years as a baker' },
];
const EXPECTED = coachBrain(MESSAGES);

let fake: FakeOpenAi;
let llm: Llm;

beforeAll(async () => {
  fake = await startFakeOpenAi();
  llm = createOpenAiLlm({ baseUrl: fake.baseUrl, apiKey: KEY, model: 'fake-model', timeoutMs: 5000 });
});
afterAll(() => fake.close());

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const d of it) out.push(d);
  return out;
}

/** The error the iteration ends with, and when (ms after `start`). */
async function failure(run: () => Promise<unknown>): Promise<{ err: PalabreError; ms: number }> {
  const start = performance.now();
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return { err: err as PalabreError, ms: performance.now() - start };
  }
  throw new Error('expected a failure');
}

describe('createOpenAiLlm', () => {
  it('yields the same deltas as the official client, in order, and sends the OpenAI request shape', async () => {
    const deltas = await collect(llm.chat(MESSAGES, { maxTokens: 120, temperature: 0.8 }));
    expect(deltas).toEqual(pieces(EXPECTED));
    expect(deltas.join('')).toBe(EXPECTED);
    const req = fake.requests.at(-1)!;
    expect(req.path).toBe('/v1/chat/completions');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(req.body).toEqual({ model: 'fake-model', messages: MESSAGES, stream: true, max_tokens: 120, temperature: 0.8 });
    expect(llm).toMatchObject({ name: 'openai', model: 'fake-model' });
  });

  it('hands each delta over as it arrives, not at the end', async () => {
    fake.next({ chunkDelayMs: 80 });
    const start = performance.now();
    const at: number[] = [];
    for await (const _ of llm.chat(MESSAGES)) at.push(performance.now() - start);
    expect(at.length).toBe(pieces(EXPECTED).length);
    // The first piece comes after about two events, long before the last.
    expect(at[0]).toBeLessThan(at.at(-1)! - 300);
  });

  it('stops promptly when the signal fires mid-stream, and sends nothing when it already has', async () => {
    fake.next({ chunkDelayMs: 150 });
    const ac = new AbortController();
    const got: string[] = [];
    let abortedAt = 0;
    const { err } = await failure(async () => {
      for await (const d of llm.chat(MESSAGES, { signal: ac.signal })) {
        got.push(d);
        if (got.length === 1) {
          abortedAt = performance.now();
          setTimeout(() => ac.abort(), 20);
        }
      }
    });
    expect(err.code).toBe('aborted');
    expect(performance.now() - abortedAt).toBeLessThan(150);
    expect(got).toHaveLength(1);
    // Already aborted: no request at all.
    const before = fake.requests.length;
    const again = await failure(() => collect(llm.chat(MESSAGES, { signal: ac.signal })));
    expect(again.err.code).toBe('aborted');
    expect(fake.requests.length).toBe(before);
  });

  it('gives up on a server that says nothing, and on a reply that takes too long overall', async () => {
    const quick = createOpenAiLlm({ baseUrl: fake.baseUrl, model: 'fake-model', timeoutMs: 5000, connectTimeoutMs: 200 });
    fake.next({ delayMs: 2000 });
    const silent = await failure(() => collect(quick.chat(MESSAGES)));
    expect(silent.err.code).toBe('engine_unavailable');
    expect(silent.err.message).toMatch(/sent nothing for 200 ms before answering/);
    expect(silent.ms).toBeLessThan(1000);

    const short = createOpenAiLlm({ baseUrl: fake.baseUrl, model: 'fake-model', timeoutMs: 400, connectTimeoutMs: 300 });
    fake.next({ chunkDelayMs: 100 });
    const slow = await failure(() => collect(short.chat(MESSAGES)));
    expect(slow.err.code).toBe('engine_unavailable');
    expect(slow.err.message).toMatch(/did not finish its reply within 400 ms/);
    expect(slow.ms).toBeLessThan(1000);
  });

  it('turns HTTP errors into errors naming the status and the server message, never the key', async () => {
    fake.next(
      { status: 429, body: { error: { message: 'Rate limit reached for fake-model', type: 'requests', code: 'rate_limit_exceeded' } } },
      { status: 503, body: { error: { message: 'model is loading' } } },
      { status: 500, body: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } } },
      { status: 404, body: { error: { message: 'The model `nope` does not exist', type: 'invalid_request_error', code: 'model_not_found' } } },
    );
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push((await failure(() => collect(llm.chat(MESSAGES)))).err);
    expect(errors.map((e) => e.code)).toEqual(['engine_unavailable', 'engine_unavailable', 'engine_failed', 'engine_failed']);
    expect(errors[0].message).toMatch(/fake-model at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions answered HTTP 429: Rate limit reached for fake-model$/);
    expect(errors[1].message).toMatch(/HTTP 503: model is loading/);
    expect(errors[2].message).toMatch(/HTTP 500: The server had an error/);
    expect(errors[3].message).toMatch(/HTTP 404: The model `nope` does not exist/);
    for (const e of errors) expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain(KEY);
  });

  it('fails on a stream cut mid-way or malformed, after the deltas that did arrive', async () => {
    fake.next({ cutAfter: 2 });
    const got: string[] = [];
    const cut = await failure(async () => {
      for await (const d of llm.chat(MESSAGES)) got.push(d);
    });
    expect(got).toEqual(pieces(EXPECTED).slice(0, 2));
    expect(cut.err.code).toBe('engine_failed');
    expect(cut.err.message).toMatch(/after 2 piece\(s\) of text/);

    fake.next({ rawStream: 'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: {not json\n\n' });
    const bad = await failure(() => collect(llm.chat(MESSAGES)));
    expect(bad.err.code).toBe('engine_failed');
    expect(bad.err.message).toMatch(/stream event that is not JSON: \{not json/);

    fake.next({ rawStream: 'data: {"error":{"message":"context length exceeded"}}\n\n' });
    expect((await failure(() => collect(llm.chat(MESSAGES)))).err.message).toMatch(/error mid-stream: context length exceeded/);
  });

  it('reads SSE split across packets, CRLF lines and comments, and accepts a finish without [DONE]', async () => {
    const event = (content: string, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\r\n\r\n`;
    fake.next({ rawStream: `: keep-alive\r\n\r\n${event('Bonjour, ')}${event('ça va ?', 'stop')}` });
    expect((await collect(llm.chat(MESSAGES))).join('')).toBe('Bonjour, ça va ?');
  });

  it('reports a refused connection as unavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gone = createOpenAiLlm({ baseUrl: `http://127.0.0.1:${port}/v1/`, apiKey: KEY, model: 'fake-model', timeoutMs: 2000 });
    const { err } = await failure(() => collect(gone.chat(MESSAGES)));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}/v1/chat/completions could not be reached`));
    expect(err.message).not.toContain(KEY);
  });
});

describe('createLlmFromConfig', () => {
  it('builds the engine from engines.llm, none without a server, and refuses a server without a model', async () => {
    expect(createLlmFromConfig(loadConfig({ env: {} }))).toBeUndefined();
    const config = loadConfig({ env: { PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl, PALABRE_ENGINES_LLM_MODEL: 'fake-model', PALABRE_ENGINES_LLM_API_KEY: KEY } });
    const fromConfig = createLlmFromConfig(config)!;
    expect(fromConfig.model).toBe('fake-model');
    expect((await collect(fromConfig.chat(MESSAGES))).join('')).toBe(EXPECTED);
    expect(fake.requests.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(() => createLlmFromConfig(loadConfig({ env: { PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl } }))).toThrow(/engines\.llm\.model is empty/);
    expect(() => loadConfig({ env: { PALABRE_ENGINES_LLM_BASE_URL: 'localhost:11434' } })).toThrow(/engines\.llm\.baseUrl.*an http\(s\) URL/);
  });
});
