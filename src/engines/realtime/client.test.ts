/**
 * The Realtime client's failures and wire details, against small raw servers
 * on loopback: what each failure becomes (a PalabreError naming the problem,
 * with `details.retryable`), and the beta event names read as the GA ones.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { PalabreError } from '../../errors.js';
import { RealtimeClient, type RealtimeConnectOptions } from './client.js';

const servers: Array<{ close(cb: () => void): void }> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function options(url: string, over: Partial<RealtimeConnectOptions> = {}): RealtimeConnectOptions {
  return { url, apiKey: 'sk-x', model: 'gpt-realtime', connectTimeoutMs: 2000, session: { instructions: 'hi' }, ...over };
}

async function wsServer(onConnection: (ws: import('ws').WebSocket) => void, verify?: (cb: (ok: boolean, code?: number, message?: string) => void) => void): Promise<string> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...(verify ? { verifyClient: (_info: unknown, cb: (ok: boolean, code?: number, message?: string) => void) => verify(cb) } : {}) });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', onConnection);
  servers.push({ close: (cb) => { for (const c of wss.clients) c.terminate(); wss.close(() => cb()); } });
  return `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/realtime`;
}

/** A server that completes the session set-up, then runs `then`. */
function handshake(then: (ws: import('ws').WebSocket) => void) {
  return (ws: import('ws').WebSocket): void => {
    ws.send(JSON.stringify({ type: 'session.created', event_id: 'e1', session: { type: 'realtime' } }));
    ws.on('message', (data) => {
      const e = JSON.parse(data.toString()) as { type: string; session?: unknown };
      if (e.type === 'session.update') {
        ws.send(JSON.stringify({ type: 'session.updated', event_id: 'e2', session: e.session }));
        then(ws);
      }
    });
  };
}

async function failure(p: Promise<unknown>): Promise<PalabreError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(PalabreError);
  return err as PalabreError;
}

describe('RealtimeClient', () => {
  it('a refused key is not retryable and names the setting; a 503 is retryable', async () => {
    const refused = await wsServer(() => undefined, (cb) => cb(false, 401, 'Unauthorized'));
    const e401 = await failure(RealtimeClient.connect(options(refused)));
    expect(e401.message).toMatch(/openai realtime: the connection was refused with 401.*engines\.realtime\.apiKey/);
    expect(e401.details).toMatchObject({ engine: 'openai-realtime', retryable: false, status: 401 });
    const busy = await wsServer(() => undefined, (cb) => cb(false, 503, 'Service Unavailable'));
    expect((await failure(RealtimeClient.connect(options(busy)))).details).toMatchObject({ retryable: true, status: 503 });
  });

  it('nothing listening, or a server that never answers, are retryable failures', async () => {
    const tcp: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as AddressInfo).port;
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const down = await failure(RealtimeClient.connect(options(`ws://127.0.0.1:${port}/v1/realtime`)));
    expect(down.message).toMatch(/cannot connect to 127\.0\.0\.1/);
    expect(down.details?.retryable).toBe(true);
    const mute = await wsServer(() => undefined);
    const slow = await failure(RealtimeClient.connect(options(mute, { connectTimeoutMs: 200 })));
    expect(slow.message).toMatch(/was not ready within 200 ms/);
    expect(slow.details).toMatchObject({ retryable: true, timeout: true });
  });

  it('an error event while the session is set up fails the connection with the server\'s words', async () => {
    const url = await wsServer((ws) => {
      ws.send(JSON.stringify({ type: 'session.created', event_id: 'e1', session: {} }));
      ws.on('message', () => ws.send(JSON.stringify({ type: 'error', event_id: 'e2', error: { type: 'invalid_request_error', code: 'invalid_value', message: "Invalid value: 'nope'.", param: 'session.audio.output.voice' } })));
    });
    const err = await failure(RealtimeClient.connect(options(url)));
    expect(err.code).toBe('bad_request');
    expect(err.message).toBe("openai realtime: invalid_request_error/invalid_value: Invalid value: 'nope'.");
    expect(err.details).toMatchObject({ retryable: false, param: 'session.audio.output.voice' });
  });

  it('reads beta event names as the GA ones, sends the model in the URL and the key as a bearer token, and reports a drop once', async () => {
    let seen: { url?: string; auth?: string } = {};
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    servers.push({ close: (cb) => wss.close(() => cb()) });
    wss.on('connection', (ws, req) => {
      seen = { url: req.url, auth: req.headers.authorization };
      handshake((s) => {
        s.send(JSON.stringify({ type: 'response.audio.delta', event_id: 'e3', response_id: 'r', item_id: 'i', output_index: 0, content_index: 0, delta: 'AAA=' }));
        s.send(JSON.stringify({ type: 'response.audio_transcript.done', event_id: 'e4', response_id: 'r', item_id: 'i', output_index: 0, content_index: 0, transcript: 'hi' }));
        setTimeout(() => s.terminate(), 50);
      })(ws);
    });
    const client = await RealtimeClient.connect(options(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/realtime`));
    const types: string[] = [];
    client.on('event', (e) => types.push(e.type));
    const closed = await new Promise<PalabreError | undefined>((resolve) => client.on('closed', resolve));
    expect(seen).toEqual({ url: '/v1/realtime?model=gpt-realtime', auth: 'Bearer sk-x' });
    expect(types).toEqual(['response.output_audio.delta', 'response.output_audio_transcript.done']);
    expect(closed?.message).toMatch(/the connection dropped mid-session \(1006/);
    expect(closed?.details?.retryable).toBe(true);
    await client.close();
  });
});
