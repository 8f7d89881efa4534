import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { PIPELINE_RATE, samplesPerFrame } from '../../audio/frame.js';
import { loadResampler, type ResamplerFactory } from '../../audio/resample.js';
import { sine, toneAmplitude } from '../../audio/test-support.js';
import type { CallEndReason } from '../../call/io.js';
import { WsCallIO, type WsCallIOOptions } from './ws-io.js';
import { leBytesFromSamples, samplesFromLeBytes } from './pcm.js';

let factory: ResamplerFactory;
let wss: WebSocketServer;
let url: string;
let nextIO: ((io: WsCallIO) => void) | undefined;
let ioOptions: Partial<WsCallIOOptions> = {};

beforeAll(async () => {
  factory = await loadResampler();
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  wss.on('connection', (socket) => {
    const io = new WsCallIO({ id: 'test', socket, resampler: factory, ...ioOptions });
    nextIO?.(io);
  });
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
});

interface Client {
  ws: WebSocket;
  io: WsCallIO;
  json: Array<Record<string, unknown>>;
  audio: Int16Array[];
  closed: Promise<{ code: number; reason: string }>;
  waitJson(pred: (m: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

async function connect(options: Partial<WsCallIOOptions> = {}): Promise<Client> {
  ioOptions = options;
  const ioReady = new Promise<WsCallIO>((resolve) => (nextIO = resolve));
  const ws = new WebSocket(url);
  const json: Array<Record<string, unknown>> = [];
  const audio: Int16Array[] = [];
  const listeners: Array<() => void> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) audio.push(samplesFromLeBytes(data as Buffer));
    else json.push(JSON.parse(String(data)) as Record<string, unknown>);
    for (const l of listeners) l();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await once(ws, 'open');
  const io = await ioReady;
  return {
    ws,
    io,
    json,
    audio,
    closed,
    waitJson(pred, timeoutMs = 2000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hit = json.find(pred);
          if (hit) resolve(hit);
          return hit !== undefined;
        };
        if (check()) return;
        const timer = setTimeout(() => reject(new Error(`no matching message; got ${JSON.stringify(json)}`)), timeoutMs);
        listeners.push(() => {
          if (check()) clearTimeout(timer);
        });
      });
    },
  };
}

function pcmBytes(samples: Int16Array): Buffer {
  return Buffer.from(leBytesFromSamples(samples));
}

describe('WsCallIO', () => {
  it('re-frames and resamples caller audio of any chunk size to 20 ms frames at 16 kHz', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'start', sampleRate: 48000 }));
    expect(await c.io.whenStarted()).toBe(true);
    // One second of a 440 Hz tone at 48 kHz, sent in odd-sized (but even-byte) chunks.
    const tone = sine(440, 48000, 48000);
    for (let at = 0; at < tone.length; at += 1234) c.ws.send(pcmBytes(tone.subarray(at, Math.min(tone.length, at + 1234))));
    const frames: Int16Array[] = [];
    for await (const f of c.io.frames()) {
      expect(f.sampleRate).toBe(PIPELINE_RATE);
      expect(f.samples.length).toBe(samplesPerFrame(PIPELINE_RATE));
      frames.push(f.samples);
      if (frames.length === 49) break;
    }
    const all = new Int16Array(frames.length * 320);
    frames.forEach((f, i) => all.set(f, i * 320));
    // The tone survives the 48 → 16 kHz conversion: same pitch, same level.
    expect(toneAmplitude(all.subarray(640), 440, PIPELINE_RATE)).toBeGreaterThan(9000);
    c.ws.close();
    await c.closed;
  });

  it('sends bot audio at the client rate, paced with a lead, and clear() takes back the rest', async () => {
    const c = await connect({ clientRate: 24000, leadMs: 200 });
    const tone = sine(300, PIPELINE_RATE, PIPELINE_RATE * 2);
    for (let at = 0; at < tone.length; at += 320) c.io.write({ samples: tone.subarray(at, at + 320), sampleRate: PIPELINE_RATE });
    await new Promise((r) => setTimeout(r, 300));
    // About 200 ms of lead plus 300 ms of real time have gone out, not the whole 2 s.
    const sentFrames = c.audio.length;
    expect(sentFrames).toBeGreaterThanOrEqual(20);
    expect(sentFrames).toBeLessThan(40);
    for (const f of c.audio) expect(f.length).toBe(480);
    const played = c.io.playedMs();
    expect(played).toBeGreaterThan(200);
    expect(played).toBeLessThan(420);
    const dropped = c.io.clear();
    // Everything not yet played is dropped: what was queued plus the lead the page held.
    expect(dropped).toBeGreaterThan(1400);
    expect(dropped + c.io.playedMs()).toBeCloseTo(2000, -2);
    await c.waitJson((m) => m.type === 'clear');
    const afterClear = c.audio.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(c.audio.length).toBe(afterClear);
    await c.io.waitForPlayout();
    await c.io.close('bot_hangup');
    const ended = await c.waitJson((m) => m.type === 'ended');
    expect(ended.reason).toBe('bot_hangup');
    expect((await c.closed).code).toBe(1000);
  });

  it('reports DTMF and hangup, and ends frames() on hangup', async () => {
    const c = await connect({ clientRate: 16000 });
    const digits: string[] = [];
    const hangups: CallEndReason[] = [];
    c.io.on('dtmf', (d) => digits.push(d));
    c.io.on('hangup', (r) => hangups.push(r));
    c.ws.send(JSON.stringify({ type: 'dtmf', digit: '7' }));
    c.ws.send(JSON.stringify({ type: 'dtmf', digit: '#' }));
    c.ws.send(pcmBytes(new Int16Array(640)));
    c.ws.send(JSON.stringify({ type: 'hangup' }));
    const frames = [];
    for await (const f of c.io.frames()) frames.push(f);
    expect(frames).toHaveLength(2);
    expect(digits).toEqual(['7', '#']);
    expect(hangups).toEqual(['caller_hangup']);
    await c.io.close('caller_hangup');
    await c.closed;
  });

  it('answers each bad message with an error naming it, and closes with 1008 on repeated garbage', async () => {
    const c = await connect();
    const hangups: CallEndReason[] = [];
    c.io.on('hangup', (r) => hangups.push(r));
    c.ws.send(pcmBytes(new Int16Array(320)));
    expect((await c.waitJson((m) => m.type === 'error')).message).toMatch(/audio frame before "start"/);
    c.ws.send('{"type": "start", sampleRate');
    await c.waitJson((m) => m.type === 'error' && /malformed JSON/.test(String(m.message)));
    c.ws.send(JSON.stringify({ type: 'start', sampleRate: 16000 }));
    c.ws.send(Buffer.alloc(641));
    await c.waitJson((m) => m.type === 'error' && /odd-length binary frame \(641 bytes\)/.test(String(m.message)));
    c.ws.send(Buffer.alloc(70_000));
    await c.waitJson((m) => m.type === 'error' && /70000 bytes is over the 65536-byte limit/.test(String(m.message)));
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.ws.send(JSON.stringify({ type: 'dance' }));
    const last = await c.waitJson((m) => m.type === 'error' && m.fatal === true);
    expect(last.message).toMatch(/unknown message type "dance".*5 bad messages/);
    const closed = await c.closed;
    expect(closed.code).toBe(1008);
    expect(hangups).toEqual(['transport_error']);
    expect(c.io.stats.badMessages).toBe(5);
  });

  it('refuses an unsupported rate and closes', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'start', sampleRate: 44100 }));
    const err = await c.waitJson((m) => m.type === 'error');
    expect(err.message).toMatch(/unsupported sampleRate number 44100.*8000, 16000, 24000, 48000/);
    expect((await c.closed).code).toBe(1003);
    expect(await c.io.whenStarted()).toBe(false);
  });

  it('sees a dropped connection as a hangup', async () => {
    const c = await connect({ clientRate: 8000 });
    const hangup = new Promise<CallEndReason>((resolve) => c.io.on('hangup', resolve));
    c.ws.terminate();
    expect(await hangup).toBe('transport_error');
    expect(c.io.isClosed).toBe(true);
    // Writing to a call whose socket is gone is harmless.
    c.io.write({ samples: new Int16Array(320), sampleRate: PIPELINE_RATE });
    expect(c.io.clear()).toBe(0);
  });
});
