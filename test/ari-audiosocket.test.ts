/**
 * ARI with AudioSocket externalMedia end to end over real sockets: the ARI
 * emulator (test/support/asterisk-ari.ts) answers `POST /channels/externalMedia`
 * with encapsulation=audiosocket&transport=tcp as Asterisk does and, like
 * chan_audiosocket, connects to palabre's AudioSocket server naming the UUID
 * palabre chose, then streams a flite-synthesised caller as slin16 (kind 0x12)
 * in real time once bridged. palabre's server hands the connection to the
 * waiting ARI call, which runs `support-desk` over it with real engines after
 * a welcome in its own voice (`ari.welcome: tts:…`). Also: a connection that
 * never comes (setup_failed, everything deleted, its late arrival refused),
 * and Asterisk's answers to bad externalMedia parameters.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/events.js';
import { createCallFactory, type CallObserver } from '../src/call/factory.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { AriStasisApp } from '../src/transports/ari/app.js';
import type { AriCallEnded, AriSettings } from '../src/transports/ari/call.js';
import { AriClient, AriError } from '../src/transports/ari/client.js';
import { createAudioSocketCallFactory } from '../src/transports/audiosocket/call.js';
import type { AudioSocketServer } from '../src/transports/audiosocket/server.js';
import { startThreadedAudioSocketServer } from '../src/transports/audiosocket/threaded-server.js';
import { AsteriskAri, type AsteriskAriOptions } from './support/asterisk-ari.js';
import { AsteriskAudioSocket } from './support/asterisk-audiosocket.js';
import { fliteSamples16k } from './support/server.js';
import { botHangsUp, expectSupportDeskTicket, playSupportDesk } from './support/support-desk.js';
import { settled, until } from './support/wait.js';

const ROOT = new URL('..', import.meta.url).pathname;
const flowsDir = mkdtempSync(join(tmpdir(), 'palabre-ari-as-flows-'));
const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' }, flows: { dir: flowsDir } } });
const WELCOME = 'Hello, this call may be recorded.';
let engines: Engines;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  copyFileSync(join(ROOT, 'flows/support-desk.yaml'), join(flowsDir, 'support-desk.yaml'));
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await engines?.close();
  rmSync(flowsDir, { recursive: true, force: true });
});

interface Served {
  ari: AsteriskAri;
  app: AriStasisApp;
  server: AudioSocketServer;
  settings: AriSettings;
  ended: Map<string, AriCallEnded>;
  /** Each call's events, with the time (performance.now()) each arrived. */
  events: Map<string, Array<{ event: CallEvent; at: number }>>;
}

async function serve(emulator: AsteriskAriOptions = {}, settings: Partial<AriSettings> = {}): Promise<Served> {
  const ari = await AsteriskAri.start(emulator);
  closers.push(() => ari.close());
  const registry = loadFlowsDir(flowsDir, { llmAvailable: false });
  // On its media thread, as `palabre serve` runs it by default.
  const server = await startThreadedAudioSocketServer({
    host: '127.0.0.1',
    port: 0,
    chooseFlow: () => ({ flow: 'support-desk', language: 'en' }),
    createCall: createAudioSocketCallFactory({ config, engines, flows: () => registry }),
  });
  const s: AriSettings = {
    ...config.ari,
    url: ari.url,
    username: 'palabre',
    password: 'secret',
    mediaEncapsulation: 'audiosocket',
    audiosocketHost: `127.0.0.1:${server.port}`,
    reconnectMinMs: 100,
    reconnectMaxMs: 400,
    setupTimeoutMs: 5_000,
    ...settings,
  };
  const events = new Map<string, Array<{ event: CallEvent; at: number }>>();
  const observer: CallObserver = {
    open(_callId, meta) {
      const list: Array<{ event: CallEvent; at: number }> = [];
      events.set(meta.externalId ?? '', list);
      return { onEvent: (event) => list.push({ event, at: performance.now() }) };
    },
  };
  const client = new AriClient({ url: s.url, username: s.username, password: s.password, app: s.app, reconnectMinMs: s.reconnectMinMs, reconnectMaxMs: s.reconnectMaxMs, pingIntervalMs: 1_000 });
  const ended = new Map<string, AriCallEnded>();
  const app = new AriStasisApp({
    client,
    settings: s,
    flows: () => registry,
    createCall: createCallFactory({ config, engines, flows: () => registry, observers: [observer] }),
    resampler: engines.resampler,
    audioSocket: server,
    onCallEnded: (info) => ended.set(info.channelId, info),
  });
  // The ARI app first, as `palabre serve` closes them: its calls end their own connections.
  closers.push(() => server.close());
  closers.push(() => app.close());
  app.start();
  await client.whenConnected();
  await ari.whenConnected();
  return { ari, app, server, settings: s, ended, events };
}

const caller16k = fliteSamples16k;

function expectCleanedUp(s: Served): void {
  expect(s.ari.liveOwnChannels().map((c) => c.name)).toEqual([]);
  expect([...s.ari.bridges.keys()]).toEqual([]);
}

describe('ARI + ExternalMedia AudioSocket with real engines', () => {
  it('welcomes the caller in its own voice, then carries support-desk to the saved ticket over the handed-over AudioSocket connection', async () => {
    const s = await serve({}, { welcome: `tts:${WELCOME}` });
    const call = s.ari.call({ number: '+33612345678', args: ['flow=support-desk', 'language=en'] });
    const sock = await call.audioSocket();

    // The welcome plays before the flow starts: by the session's call-started, its audio has reached the caller.
    await until(() => (s.events.get(call.id) ?? []).some((e) => e.event.type === 'call-started'), 'the flow started', 20_000);
    const startedAt = s.events.get(call.id)!.find((e) => e.event.type === 'call-started')!.at;
    const welcomeFrames = sock.received.filter((r) => !r.silent && r.at < startedAt);
    expect(welcomeFrames.length * 20).toBeGreaterThan(1_000);

    await playSupportDesk({ get voiced() { return sock.voiced; }, botDone: (v) => sock.botDone(v), say: (l) => call.say(caller16k(l)), dtmf: (d) => call.dtmf(d) }, sock.voiced);
    expect(await botHangsUp(call.left.promise)).toEqual({ how: 'deleted', reason: 'normal' });
    await until(() => s.ended.has(call.id), 'the call reported ended');

    const ended = s.ended.get(call.id)!;
    expect(ended).toMatchObject({ cause: 'bot_hangup', flow: 'support-desk', language: 'en', callerId: '+33612345678' });
    expectSupportDeskTicket(ended.summary);
    const events = s.events.get(call.id)!.map((e) => e.event);
    expect(events.filter((e) => e.type === 'dtmf').map((e) => (e as { digit: string }).digit).join('')).toBe('123456');
    // The welcome is the call's first bot line, before the flow's first prompt.
    const botLines = events.filter((e): e is Extract<CallEvent, { type: 'transcript' }> => e.type === 'transcript' && e.role === 'bot').map((e) => e.text);
    expect(botLines.slice(0, 2)).toEqual([WELCOME, 'Welcome to technical support. Do you already have a ticket number?']);

    // Asked of Asterisk as an AudioSocket externalMedia channel naming a fresh UUID; everything deleted after.
    const calls = s.ari.requests.map((r) => `${r.method} ${r.path.replace(call.id, 'CALLER').replace(/palabre-[a-z]+-[0-9a-f]{8}/, 'OWN')}`);
    expect(calls).toEqual(['POST /channels/CALLER/answer', 'POST /bridges', 'POST /channels/externalMedia', 'POST /bridges/OWN/addChannel', 'DELETE /channels/OWN', 'DELETE /bridges/OWN', 'DELETE /channels/CALLER']);
    const media = s.ari.requests.find((r) => r.path === '/channels/externalMedia')!;
    expect(media.query).toMatchObject({ app: 'palabre', encapsulation: 'audiosocket', transport: 'tcp', external_host: s.settings.audiosocketHost, format: 'slin16', data: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) });
    expectCleanedUp(s);
    expect(s.app.counters).toMatchObject({ callsStarted: 1, callsEnded: 1, active: 0 });
    // The connection was the ARI call's: the AudioSocket server ran no call of its own.
    expect(await settled(() => s.server.counters, { connections: 1, handedOver: 1, callsStarted: 0 })).toMatchObject({ connections: 1, handedOver: 1, callsStarted: 0 });

    // Everything palabre sent is AudioSocket Asterisk takes: 20 ms slin16 frames (0x12), paced in real time.
    await sock.closed;
    expect(sock.violations).toEqual([]);
    const audio = sock.received.filter((r) => r.kind !== 0x00);
    expect(audio.every((r) => r.kind === 0x12 && r.length === 640)).toBe(true);
    expect(sock.voiced).toBeGreaterThan(500);
    const pacing = sock.pacing();
    console.log('audiosocket pacing', pacing);
    expect(pacing.medianGapMs).toBeGreaterThan(17);
    expect(pacing.medianGapMs).toBeLessThan(23);
    expect(pacing.burstMs).toBeLessThan(150);
  }, 180_000);

  it('fails the setup cleanly when the AudioSocket connection never comes, and refuses it should it come late', async () => {
    const s = await serve({ audioSocketConnects: false }, { setupTimeoutMs: 1_500, welcome: `tts:${WELCOME}` });
    const call = s.ari.call({ args: ['flow=support-desk'] });
    expect(await call.left.promise).toEqual({ how: 'deleted', reason: 'failure' });
    await until(() => s.ended.has(call.id), 'the call reported ended');
    expect(s.ended.get(call.id)).toMatchObject({ cause: 'setup_failed', detail: expect.stringMatching(/AudioSocket connection/) });
    expect(s.events.has(call.id)).toBe(false);
    expectCleanedUp(s);
    expect(s.ari.requests.filter((r) => r.method === 'DELETE').map((r) => r.path.replace(call.id, 'CALLER').replace(/palabre-[a-z]+-[0-9a-f]{8}/, 'OWN'))).toEqual(['/channels/OWN', '/bridges/OWN', '/channels/CALLER']);

    // A connection naming that UUID after the call gave up is closed, not run as a call of its own.
    const uuid = s.ari.requests.find((r) => r.path === '/channels/externalMedia')!.query.data;
    const late = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: s.server.port, uuid, kind: 0x12 });
    await late.closed;
    expect(late.hangupReceived).toBe(true);
    expect(await settled(() => s.server.counters, { refusedAbandoned: 1 })).toMatchObject({ refusedAbandoned: 1, handedOver: 0, callsStarted: 0 });
    expect(s.app.counters.ended.setup_failed).toBe(1);
  }, 30_000);

  it('is answered as Asterisk answers bad externalMedia parameters, and refuses to start without an AudioSocket server', async () => {
    const s = await serve();
    const client = new AriClient({ url: s.ari.url, username: 'palabre', password: 'secret', app: 'palabre' });
    const ask = (query: Record<string, string>) => client.request('POST', '/channels/externalMedia', { query: { app: 'palabre', external_host: s.settings.audiosocketHost, format: 'slin16', ...query } });
    const refusal = (query: Record<string, string>) => ask(query).then(
      () => 'accepted',
      (err: AriError) => `${err.statusCode} ${err.ariMessage}`,
    );
    expect(await refusal({ encapsulation: 'audiosocket', transport: 'tcp' })).toBe('400 data can not be empty');
    expect(await refusal({ encapsulation: 'audiosocket', transport: 'tcp', data: '' })).toBe('400 data can not be empty');
    expect(await refusal({ encapsulation: 'audiosocket', transport: 'udp', data: randomUUID() })).toBe('501 The encapsulation and/or transport is not supported');
    expect(await refusal({ encapsulation: 'rtp', transport: 'tcp' })).toBe('501 The encapsulation and/or transport is not supported');
    // Nothing connected for the refused ones.
    expect(s.server.counters.connections).toBe(0);

    // palabre's side: audiosocket encapsulation needs the server and where Asterisk reaches it.
    expect(() => new AriStasisApp({ client, settings: { ...s.settings }, flows: () => Promise.reject(new Error('unused')), createCall: createCallFactory({ config, engines, flows: () => Promise.reject(new Error('unused')) }), resampler: engines.resampler })).toThrow(/AudioSocket server must run/);
    expect(() => loadConfig({ env: {}, overrides: { ari: { mediaEncapsulation: 'audiosocket' } } })).toThrow(/ari\.audiosocketHost.*required when mediaEncapsulation is audiosocket/);
    expect(() => loadConfig({ env: {}, overrides: { ari: { mediaEncapsulation: 'audiosocket', audiosocketHost: '10.0.0.7:9090', format: 'ulaw' } } })).toThrow(/AudioSocket carries slin16 or slin only/);
  }, 30_000);
});
