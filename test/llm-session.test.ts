/**
 * Browser sessions with a configured LLM: the speaking-coach flow, refused
 * with 409 without one (test/browser-ws.test.ts), starts, and its call asks
 * the model (the streaming fake OpenAI server) for the coach's opening line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { loadConfig } from '../src/config.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { buildApp } from '../src/server/app.js';
import { type FakeChatServer, startFakeChatServer } from './support/fake-openai.js';

let engines: Engines;
let fake: FakeChatServer;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fake = await startFakeChatServer();
  engines = await loadEngines(loadConfig({ env: {}, overrides: { log: { level: 'silent' } } }), silentLogger, { kinds: ['vad', 'tts', 'stt'] });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await engines?.close();
  await fake?.close();
});

async function until<T>(what: string, get: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('browser sessions with an LLM', () => {
  it('start speaking-coach, whose call has the configured model write the coach lines', async () => {
    const config = loadConfig({
      env: { PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl, PALABRE_ENGINES_LLM_MODEL: 'coach-model' },
      overrides: { server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' } },
    });
    const app = await buildApp({ config, engines, logger: silentLogger });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());

    const flows = (await (await fetch(`${url}/api/session/flows`)).json()) as { flows: Array<{ id: string; available: boolean; needs_llm: boolean }> };
    expect(flows.flows.find((f) => f.id === 'speaking-coach')).toMatchObject({ available: true, needs_llm: true });
    const res = await fetch(`${url}/api/session/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ flow: 'speaking-coach', language: 'en' }) });
    const session = (await res.json()) as { session_id: string; ws_url: string };
    expect(res.status, JSON.stringify(session)).toBe(200);

    const ws = new WebSocket(session.ws_url, ['palabre']);
    closers.push(async () => ws.close());
    const messages: string[] = [];
    ws.on('message', (data, binary) => !binary && messages.push(String(data)));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'start', sampleRate: 16000 }));
    await until('ready', () => messages.find((m) => m.includes('"ready"')));

    const asked = await until('a chat request', () => fake.requests.find((r) => r.path === '/v1/chat/completions'));
    const body = asked.body as { model: string; stream: boolean; messages: Array<{ role: string; content: string }> };
    expect(body).toMatchObject({ model: 'coach-model', stream: true });
    expect(body.messages[0].content).toMatch(/kind speaking coach/);
    // The session reads as being in the flow's LLM state, not stuck before it.
    const state = async () => ((await (await fetch(`${url}/api/session/${session.session_id}`)).json()) as { state: string | null }).state;
    for (let i = 0; i < 100 && (await state()) !== 'CONVERSATION'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await state()).toBe('CONVERSATION');
  });
});
