/**
 * The browser transport end to end over real sockets: a loopback server with
 * real engines runs the shipped `support-desk` flow in English, and a `ws`
 * client plays the page: it streams a flite-synthesised caller in real time,
 * presses a key, hangs up, and misbehaves in every way the protocol refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PIPELINE_RATE } from '../src/audio/frame.js';
import { decodeWav } from '../src/audio/wav.js';
import { loadConfig } from '../src/config.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { buildApp } from '../src/server/app.js';
import type { SessionRoutesOptions } from '../src/server/routes/session.js';
import { fliteWav } from './support/server.js';

interface Server {
  url: string;
  close(): Promise<void>;
}

let engines: Engines;
const servers: Server[] = [];

/** A real server on loopback sharing the engines loaded once for this file. */
async function serve(overrides: Record<string, unknown> = {}, browserSessions: SessionRoutesOptions = {}): Promise<Server> {
  const config = loadConfig({ env: {}, overrides: { server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' }, ...overrides } });
  const app = await buildApp({ config, engines, logger: silentLogger, browserSessions });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const server = { url, close: () => app.close() };
  servers.push(server);
  return server;
}

beforeAll(async () => {
  const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'tts', 'stt'] });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await engines?.close();
});

async function post(server: Server, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function startSession(server: Server, headers: Record<string, string> = {}): Promise<{ session_id: string; ws_url: string }> {
  const { status, json } = await post(server, '/api/session/start', { flow: 'support-desk', language: 'en' }, headers);
  expect(status, JSON.stringify(json)).toBe(200);
  return json as { session_id: string; ws_url: string };
}

type Json = Record<string, unknown> & { type: string };
type CallEventJson = Record<string, unknown> & { type: string };

/** The page's side of one socket: everything received, with waits on it. */
class Client {
  readonly json: Json[] = [];
  readonly audio: Buffer[] = [];
  readonly opened: Promise<void>;
  /** Resolves when the server closes the connection of a refused upgrade. */
  readonly refusedClosed: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly waiters = new Set<() => void>();
  private line: NodeJS.Timeout | undefined;
  private queue: Int16Array[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.audio.push(data as Buffer);
      else this.json.push(JSON.parse(String(data)) as Json);
      for (const w of this.waiters) w();
    });
    let refusedClosed = (): void => undefined;
    this.refusedClosed = new Promise((resolve) => (refusedClosed = resolve));
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      // With this listener ws leaves the connection open: like a lazy client, wait for the server to close it.
      ws.once('unexpected-response', (_req, res) => {
        res.socket?.once('close', refusedClosed);
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }

  static open(url: string, protocols: string[] = ['palabre']): Client {
    return new Client(new WebSocket(url, protocols));
  }

  get events(): CallEventJson[] {
    return this.json.filter((m) => m.type === 'event').map((m) => m.event as CallEventJson);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = find();
        if (hit === undefined) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; events so far: ${JSON.stringify(this.events.filter((e) => e.type !== 'turn'))}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }

  waitMessage(type: string, pred: (m: Json) => boolean = () => true, timeoutMs?: number): Promise<Json> {
    return this.waitFor(`a "${type}" message`, () => this.json.find((m) => m.type === type && pred(m)), timeoutMs);
  }

  waitEvent(type: string, pred: (e: CallEventJson) => boolean = () => true, timeoutMs?: number): Promise<CallEventJson> {
    return this.waitFor(`a "${type}" event`, () => this.events.find((e) => e.type === type && pred(e)), timeoutMs);
  }

  /** Like a microphone: one 20 ms frame every 20 ms, the caller's audio when queued, silence otherwise. */
  startLine(): void {
    const started = performance.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.floor((performance.now() - started) / 20);
      for (; sent <= due; sent++) {
        if (this.ws.readyState !== WebSocket.OPEN) return;
        const frame = this.queue.shift() ?? new Int16Array(320);
        this.ws.send(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      }
      this.line = setTimeout(tick, 10);
    };
    tick();
  }

  stopLine(): void {
    clearTimeout(this.line);
  }

  say(samples: Int16Array): void {
    for (let at = 0; at < samples.length; at += 320) {
      const frame = new Int16Array(320);
      frame.set(samples.subarray(at, Math.min(samples.length, at + 320)));
      this.queue.push(frame);
    }
  }
}

function flite(text: string): Int16Array {
  const wav = decodeWav(fliteWav(text));
  expect(wav.sampleRate).toBe(PIPELINE_RATE);
  return wav.samples;
}

describe('browser WebSocket transport', () => {
  it('carries a support-desk call: greeting, spoken answer, keypad, hangup; garbage on another socket changes nothing', async () => {
    const server = await serve();
    const yes = flite('yes');
    const session = await startSession(server);
    expect(session.ws_url).toBe(`${server.url.replace('http', 'ws')}/ws/${session.session_id}`);

    const caller = Client.open(session.ws_url);
    await caller.opened;
    expect(caller.ws.protocol).toBe('palabre');
    caller.send({ type: 'start', sampleRate: 16000 });
    const ready = await caller.waitMessage('ready');
    expect(ready).toMatchObject({ sessionId: session.session_id, sampleRate: 16000, flow: 'support-desk', language: 'en' });
    caller.startLine();

    // Meanwhile another page sends garbage until it is thrown out.
    const rogueSession = await startSession(server);
    const rogue = Client.open(rogueSession.ws_url);
    await rogue.opened;
    rogue.ws.send(Buffer.alloc(640));
    expect((await rogue.waitMessage('error')).message).toMatch(/audio frame before "start"/);
    rogue.send('{"type":"start",');
    await rogue.waitMessage('error', (m) => /malformed JSON/.test(String(m.message)));
    rogue.send({ type: 'start', sampleRate: 16000 });
    await rogue.waitMessage('ready');
    rogue.ws.send(Buffer.alloc(641));
    await rogue.waitMessage('error', (m) => /odd-length binary frame \(641 bytes\)/.test(String(m.message)));
    rogue.ws.send(Buffer.alloc(100_000));
    await rogue.waitMessage('error', (m) => /100000 bytes is over the 65536-byte limit/.test(String(m.message)));
    rogue.send({ type: 'dtmf', digit: 'X' });
    const fatal = await rogue.waitMessage('error', (m) => m.fatal === true);
    expect(fatal.message).toMatch(/"dtmf" needs "digit".*\(5 bad messages in 10 s; closing\)/);
    expect((await rogue.closed).code).toBe(1008);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    const rogueView = (await (await fetch(`${server.url}/api/session/${rogueSession.session_id}`)).json()) as Record<string, unknown>;
    expect(rogueView).toMatchObject({ ended: true, status: 'ended' });

    // The greeting plays, as 20 ms frames of 16 kHz PCM16.
    await caller.waitEvent('state', (e) => e.to === 'WELCOME');
    const greeting = await caller.waitEvent('transcript', (e) => e.role === 'bot');
    expect(greeting.text).toBe('Welcome to technical support. Do you already have a ticket number?');
    expect(caller.audio.length).toBeGreaterThan(100);
    for (const frame of caller.audio) expect(frame.length).toBe(640);

    caller.say(yes);
    const heard = await caller.waitEvent('transcript', (e) => e.role === 'caller');
    expect(heard.text).toMatch(/\byes\b/);
    expect(await caller.waitEvent('intent')).toMatchObject({ intent: 'YES' });
    await caller.waitEvent('state', (e) => e.to === 'TICKET_VERIFICATION');

    // A key pressed while the bot asks for the ticket number interrupts it: the page is told to drop its buffer.
    const botStarts = (): number => caller.events.filter((e) => e.type === 'bot-audio' && e.phase === 'start').length;
    const before = botStarts();
    await caller.waitFor('the ticket question to start playing', () => (botStarts() > before ? true : undefined));
    const framesAtStart = caller.audio.length;
    await new Promise((r) => setTimeout(r, 600));
    caller.send({ type: 'dtmf', digit: '4' });
    expect(await caller.waitEvent('dtmf')).toMatchObject({ digit: '4', accepted: true });
    await caller.waitMessage('clear');
    // 0.6 s and the 200 ms lead of the 4 s question went out, then nothing more of it.
    const questionFrames = caller.audio.length - framesAtStart;
    expect(questionFrames).toBeGreaterThan(25);
    expect(questionFrames).toBeLessThan(60);
    const cut = await caller.waitEvent('transcript', (e) => e.role === 'bot' && e.cut === true);
    expect(cut.text).toBe('What is your ticket number? You can also type it on your keypad.');
    expect(String(cut.heard).length).toBeLessThan(String(cut.text).length);
    await caller.waitEvent('state', (e) => e.to === 'IDENTIFICATION');
    await caller.waitEvent('transcript', (e) => e.role === 'bot' && e.text === 'Thank you, ticket 4.');

    const view = (await (await fetch(`${server.url}/api/session/${session.session_id}`)).json()) as Record<string, unknown>;
    expect(view).toMatchObject({ status: 'connected', ended: false, state: 'IDENTIFICATION', language: 'en', flow: 'support-desk' });
    expect((view.transcript as Array<{ role: string; cut?: boolean }>).map((l) => l.role + (l.cut ? ' (cut)' : '')).slice(0, 4)).toEqual(['bot', 'caller', 'bot (cut)', 'bot']);

    caller.send({ type: 'hangup' });
    expect(await caller.waitMessage('ended')).toMatchObject({ reason: 'caller_hangup' });
    expect((await caller.closed).code).toBe(1000);
    caller.stopLine();
    const after = (await (await fetch(`${server.url}/api/session/${session.session_id}`)).json()) as Record<string, unknown>;
    expect(after).toMatchObject({ ended: true, status: 'ended', end_reason: 'caller_hangup' });
  });

  it('refuses unknown flows, flows that need a language model, other languages, missing engines, unknown or taken sockets, and a bad rate', async () => {
    const server = await serve();
    const unknown = await post(server, '/api/session/start', { flow: 'pizza', language: 'en' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.message).toMatch(/no flow "pizza".*known flows: .*support-desk/);
    const llm = await post(server, '/api/session/start', { flow: 'speaking-coach', language: 'en' });
    expect(llm.status).toBe(409);
    expect(llm.json).toMatchObject({ error: 'llm_required' });
    expect(llm.json.message).toMatch(/no LLM is configured/);
    const lang = await post(server, '/api/session/start', { flow: 'support-desk', language: 'de' });
    expect(lang.status).toBe(400);
    expect(lang.json.message).toMatch(/speaks fr, en, not "de"/);

    // French needs a French recogniser, which this machine has not: said at once, not after the page connects.
    const french = await post(server, '/api/session/start', { flow: 'heating-leads', language: 'fr' });
    expect(french.status).toBe(503);
    expect(french.json.message).toMatch(/no loaded speech-to-text engine understands "fr"; loaded: pocketsphinx \(en\)/);

    const nobody = Client.open(`${server.url.replace('http', 'ws')}/ws/does-not-exist`);
    expect(await nobody.closed).toEqual({ code: 4404, reason: 'unknown session: start one with POST /api/session/start' });

    const session = await startSession(server);
    const first = Client.open(session.ws_url);
    await first.opened;
    const second = Client.open(session.ws_url);
    expect(await second.closed).toEqual({ code: 4409, reason: 'this session already has a connected socket' });
    first.send({ type: 'start', sampleRate: 44100 });
    expect((await first.waitMessage('error')).message).toMatch(/unsupported sampleRate number 44100/);
    expect((await first.closed).code).toBe(1003);

    const missing = await fetch(`${server.url}/api/session/nope`);
    expect(missing.status).toBe(404);
  });

  it('expires a session nobody joins, caps live sessions, times out a silent socket, and ends sessions from the API', async () => {
    const server = await serve({}, { connectTimeoutMs: 300, startTimeoutMs: 300, maxSessions: 2 });
    const a = await startSession(server);
    const b = await startSession(server);
    const refused = await post(server, '/api/session/start', { flow: 'support-desk', language: 'en' });
    expect(refused.status).toBe(503);
    expect(refused.json.message).toMatch(/already runs 2 browser sessions/);

    const ended = await post(server, `/api/session/${b.session_id}/end`);
    expect(ended.json).toMatchObject({ ended: true, end_reason: 'ended by the API before anyone connected' });
    await new Promise((r) => setTimeout(r, 500));
    const view = (await (await fetch(`${server.url}/api/session/${a.session_id}`)).json()) as Record<string, unknown>;
    expect(view).toMatchObject({ ended: true, status: 'ended' });
    expect(view.end_reason).toMatch(/^expired/);
    const late = Client.open(a.ws_url);
    const closed = await late.closed;
    expect(closed.code).toBe(4410);
    expect(closed.reason).toMatch(/expired/);
    // Both slots are free again.
    const c = await startSession(server);
    const d = await startSession(server);

    // Joined at once, before they expire.
    const silent = Client.open(c.ws_url);
    const live = Client.open(d.ws_url);
    await Promise.all([silent.opened, live.opened]);
    live.send({ type: 'start', sampleRate: 48000 });

    // A page that connects but never says its rate is told why, and closed.
    const timedOut = await silent.waitMessage('error', (m) => m.fatal === true);
    expect(timedOut.message).toMatch(/no "start" message within 0.3 s/);
    expect((await silent.closed).code).toBe(1008);

    // Ending a connected session from the API hangs its call up.
    await live.waitMessage('ready', (m) => m.sampleRate === 48000);
    const endedLive = await post(server, `/api/session/${d.session_id}/end`);
    expect(endedLive.json).toMatchObject({ ended: true, status: 'ended', end_reason: 'ended by the API' });
    expect(await live.waitMessage('ended')).toMatchObject({ reason: 'bot_hangup' });
    expect((await live.closed).code).toBe(1000);
  });

  it('takes the token of a WebSocket from the query or a subprotocol when the server has one', async () => {
    const token = 's3cret-token';
    const server = await serve({ server: { port: 0, host: '127.0.0.1', authToken: token } });
    const noAuth = await post(server, '/api/session/start', { flow: 'support-desk', language: 'en' });
    expect(noAuth.status).toBe(401);
    const auth = { authorization: `Bearer ${token}` };

    const s1 = await startSession(server, auth);
    const bare = Client.open(s1.ws_url);
    await expect(bare.opened).rejects.toThrow(/HTTP 401/);
    await bare.refusedClosed;
    const wrong = Client.open(`${s1.ws_url}?token=nope`);
    await expect(wrong.opened).rejects.toThrow(/HTTP 401/);
    await wrong.refusedClosed;
    const byQuery = Client.open(`${s1.ws_url}?token=${token}`);
    await byQuery.opened;
    byQuery.send({ type: 'start', sampleRate: 16000 });
    await byQuery.waitMessage('ready');
    byQuery.send({ type: 'hangup' });
    await byQuery.closed;

    const s2 = await startSession(server, auth);
    const byProtocol = Client.open(s2.ws_url, ['palabre', `bearer.${token}`]);
    await byProtocol.opened;
    // The token is never echoed back as the chosen subprotocol.
    expect(byProtocol.ws.protocol).toBe('palabre');
    byProtocol.send({ type: 'start', sampleRate: 16000 });
    await byProtocol.waitMessage('ready');
    byProtocol.send({ type: 'hangup' });
    await byProtocol.closed;
  });
});
