/**
 * Asterisk ARI + ExternalMedia RTP end to end over real sockets: an ARI
 * server emulator written from the REST docs (test/support/asterisk-ari.ts)
 * hands calls to palabre's Stasis app, and its RTP peer streams a
 * flite-synthesised caller as big-endian slin16 in real time (with packets
 * reordered and duplicated) through `support-desk` with real engines.
 * Also: caller hangup, transfer by continue and redirect, the events
 * WebSocket dropping, and bad input (strangers' RTP, malformed packets,
 * unknown events, REST failures during setup), each ending only the call it
 * concerns, cleaned up and counted.
 *
 * slin16 is flite's own 16 kHz, so PocketSphinx hears the caller without
 * the telephone band's losses that make the AudioSocket (8 kHz) and Twilio
 * (8 kHz µ-law) tests choose their voices and lines carefully; the script
 * is theirs.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../src/call/events.js';
import { createCallFactory, type CallFactory, type CallMeta, type CallObserver } from '../src/call/factory.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/server/metrics.js';
import { AriStasisApp } from '../src/transports/ari/app.js';
import type { AriCallEnded, AriSettings } from '../src/transports/ari/call.js';
import { AriClient, AriError } from '../src/transports/ari/client.js';
import { registerAriMetrics } from '../src/transports/ari/metrics.js';
import { AsteriskAri, type AsteriskAriOptions } from './support/asterisk-ari.js';
import { RtpPeer } from './support/rtp-peer.js';
import { fliteSamples16k } from './support/server.js';
import { botHangsUp, expectSupportDeskTicket, playSupportDesk } from './support/support-desk.js';
import { until } from './support/wait.js';

const ROOT = new URL('..', import.meta.url).pathname;
const flowsDir = mkdtempSync(join(tmpdir(), 'palabre-ari-flows-'));
const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' }, flows: { dir: flowsDir } } });
let engines: Engines;
const emulators: AsteriskAri[] = [];
const apps: AriStasisApp[] = [];
/** A range of its own, clear of the other tests' ports. */
let nextPortBase = 47_000;

beforeAll(async () => {
  copyFileSync(join(ROOT, 'flows/support-desk.yaml'), join(flowsDir, 'support-desk.yaml'));
  const transfer = (id: string, target: string) =>
    `id: ${id}\ndescription: Sends every caller to ${target}\nlanguages: [en]\ndefault_language: en\nstart: HELLO\nstates:\n  HELLO:\n    say: Let me put you through.\n    on_enter:\n      - transfer: { target: "${target}", reason: test }\n`;
  writeFileSync(join(flowsDir, 'transfer-desk.yaml'), transfer('transfer-desk', 'sales-queue'));
  writeFileSync(join(flowsDir, 'transfer-agent.yaml'), transfer('transfer-agent', 'PJSIP/agent-7'));
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(emulators.map((e) => e.close()));
  await engines?.close();
  rmSync(flowsDir, { recursive: true, force: true });
});

interface Served {
  ari: AsteriskAri;
  app: AriStasisApp;
  client: AriClient;
  settings: AriSettings;
  ended: Map<string, AriCallEnded>;
  metas: Map<string, CallMeta>;
  events: Map<string, CallEvent[]>;
  /** When (performance.now()) each call's session started: its flow, after any welcome. */
  startedAt: Map<string, number>;
  metricsText(): Promise<string>;
}

async function serve(emulator: AsteriskAriOptions = {}, settings: Partial<AriSettings> = {}, voice?: Pick<CallFactory, 'renderPhrase'>): Promise<Served> {
  const ari = await AsteriskAri.start(emulator);
  emulators.push(ari);
  const base = nextPortBase;
  nextPortBase += 100;
  const s: AriSettings = { ...config.ari, url: ari.url, username: 'palabre', password: 'secret', rtpHost: '127.0.0.1', rtpPortMin: base, rtpPortMax: base + 99, reconnectMinMs: 100, reconnectMaxMs: 400, setupTimeoutMs: 5_000, ...settings };
  const registry = loadFlowsDir(flowsDir, { llmAvailable: false });
  const metas = new Map<string, CallMeta>();
  const events = new Map<string, CallEvent[]>();
  const startedAt = new Map<string, number>();
  const observer: CallObserver = {
    open(_callId, meta) {
      const list: CallEvent[] = [];
      metas.set(meta.externalId ?? '', meta);
      events.set(meta.externalId ?? '', list);
      return {
        onEvent: (e) => {
          if (e.type === 'call-started') startedAt.set(meta.externalId ?? '', performance.now());
          list.push(e);
        },
      };
    },
  };
  const client = new AriClient({ url: s.url, username: s.username, password: s.password, app: s.app, reconnectMinMs: s.reconnectMinMs, reconnectMaxMs: s.reconnectMaxMs, pingIntervalMs: 1_000 });
  const ended = new Map<string, AriCallEnded>();
  const createCall = createCallFactory({ config, engines, flows: () => registry, observers: [observer] });
  if (voice) createCall.renderPhrase = voice.renderPhrase;
  const app = new AriStasisApp({
    client,
    settings: s,
    flows: () => registry,
    createCall,
    resampler: engines.resampler,
    onCallEnded: (info) => ended.set(info.channelId, info),
  });
  apps.push(app);
  const metrics = createMetrics({ defaultMetrics: false });
  registerAriMetrics(metrics, { app: app.counters, client: client.counters, rtp: app.rtpCounters, ports: app.ports });
  app.start();
  await client.whenConnected();
  await ari.whenConnected();
  return { ari, app, client, settings: s, ended, metas, events, startedAt, metricsText: () => metrics.registry.metrics() };
}

const caller16k = fliteSamples16k;

/** Nothing the call created is left in Asterisk, and palabre holds no port. */
function expectCleanedUp(s: Served): void {
  expect(s.ari.liveOwnChannels().map((c) => c.name)).toEqual([]);
  expect([...s.ari.bridges.keys()]).toEqual([]);
  expect(s.app.ports.used).toBe(0);
}

describe('ARI + ExternalMedia RTP with real engines', () => {
  it('carries a support-desk call from StasisStart to the saved ticket, DTMF by ChannelDtmfReceived, over a jittery RTP stream', async () => {
    const s = await serve({ impair: { reorderEvery: 9, duplicateEvery: 13 } }, { welcome: 'sound:hello-world' });
    const call = s.ari.call({ number: '+33612345678', args: ['flow=support-desk', 'language=en'] });
    const peer = await call.media();

    await playSupportDesk({ get voiced() { return peer.voiced; }, botDone: (v) => peer.botDone(v), say: (l) => peer.say(caller16k(l)), dtmf: (d) => call.dtmf(d) });
    expect(await botHangsUp(call.left.promise)).toEqual({ how: 'deleted', reason: 'normal' });
    await until(() => s.ended.has(call.id), 'the call reported ended');

    const ended = s.ended.get(call.id)!;
    expect(ended).toMatchObject({ cause: 'bot_hangup', flow: 'support-desk', language: 'en', callerId: '+33612345678' });
    expectSupportDeskTicket(ended.summary);
    expect(s.metas.get(call.id)).toEqual({ transport: 'ari', flow: 'support-desk', language: 'en', externalId: call.id, callerId: '+33612345678' });
    expect(s.events.get(call.id)?.filter((e) => e.type === 'dtmf').map((e) => (e as { digit: string }).digit).join('')).toBe('123456');

    // Setup as the docs prescribe: answered, welcomed, bridged with an RTP externalMedia channel; then cleaned up.
    const calls = s.ari.requests.map((r) => `${r.method} ${r.path.replace(call.id, 'CALLER').replace(/palabre-[a-z]+-[0-9a-f]{8}/, 'OWN')}`);
    expect(calls).toEqual([
      'POST /channels/CALLER/answer',
      'POST /channels/CALLER/play/OWN',
      'POST /bridges',
      'POST /channels/externalMedia',
      'POST /bridges/OWN/addChannel',
      'DELETE /channels/OWN',
      'DELETE /bridges/OWN',
      'DELETE /channels/CALLER',
    ]);
    const media = s.ari.requests.find((r) => r.path === '/channels/externalMedia')!;
    expect(media.query).toMatchObject({ app: 'palabre', format: 'slin16', encapsulation: 'rtp', transport: 'udp', direction: 'both', connection_type: 'client' });
    const port = Number(media.query.external_host.split(':')[1]);
    expect(media.query.external_host).toBe(`127.0.0.1:${port}`);
    expect(port % 2).toBe(0);
    expect(port).toBeGreaterThanOrEqual(s.settings.rtpPortMin);
    expect(s.ari.requests.find((r) => r.path === '/bridges')?.query.type).toBe('mixing');
    const finished = s.ari.sentEvents.findIndex((e) => e.type === 'PlaybackFinished');
    expect(finished).toBeGreaterThan(0);
    expect(s.app.counters).toMatchObject({ callsStarted: 1, callsEnded: 1, active: 0, ignoredEvents: 0 });
    expectCleanedUp(s);

    // Everything palabre sent is RTP Asterisk takes, one 20 ms packet per 20 ms, from the announced port.
    expect(peer.violations).toEqual([]);
    expect(peer.received.every((p) => p.fromPort === port && p.payloadBytes === 640 && p.payloadType === 118)).toBe(true);
    expect(peer.voiced).toBeGreaterThan(500);
    expect(peer.received.filter((p) => p.silent).length).toBeGreaterThan(500);
    const pacing = peer.pacing();
    console.log('rtp pacing', pacing, 'jitter', s.app.rtpCounters.jitter);
    expect(pacing.medianGapMs).toBeGreaterThan(17);
    expect(pacing.medianGapMs).toBeLessThan(23);
    expect(pacing.maxGapMs).toBeLessThan(500);
    expect(pacing.burstMs).toBeLessThan(150);
    // The caller's reordered and duplicated packets were put back in order, none lost.
    const jitter = s.app.rtpCounters.jitter;
    expect(jitter.reordered).toBeGreaterThanOrEqual(peer.sent.reordered - 1);
    expect(jitter.duplicates).toBe(peer.sent.duplicated);
    expect(jitter.lost).toBe(0);
    expect(s.app.rtpCounters.unexpectedSource).toBe(0);
  }, 150_000);

  it('cleans everything up when the caller hangs up, with Asterisk-side snoop recordings and the flow chosen by channel variable', async () => {
    const s = await serve({ channelvarsInAnswer: false, impair: { dropEvery: 25 } }, { snoopRecord: ['in', 'both'] });
    const call = s.ari.call({ variables: { PALABRE_FLOW: 'support-desk', PALABRE_LANGUAGE: 'en' } });
    const peer = await call.media();
    await peer.botDone(0);
    call.hangup();
    await until(() => s.ended.has(call.id), 'the call reported ended');
    const ended = s.ended.get(call.id)!;
    expect(ended).toMatchObject({ cause: 'caller_hangup', flow: 'support-desk', language: 'en' });
    expect(ended.summary?.endReason).toBe('caller_hangup');
    // The flow's on_hangup keeps what the caller left.
    expect(ended.summary?.records.map((r) => r.kind)).toEqual(['ticket']);
    // The flow came from PALABRE_FLOW/PALABRE_LANGUAGE; the RTP address from GET /variable, the answer having none.
    const variables = s.ari.requests.filter((r) => r.path.endsWith('/variable')).map((r) => `${r.status} ${r.query.variable}`);
    expect(variables).toEqual(['200 PALABRE_FLOW', '200 PALABRE_LANGUAGE', '200 UNICASTRTP_LOCAL_ADDRESS', '200 UNICASTRTP_LOCAL_PORT']);
    expect(peer.voiced).toBeGreaterThan(50);
    expect(peer.violations).toEqual([]);
    // One snoop channel per direction, each recorded (the bridged caller itself cannot be).
    expect(s.ari.recordings).toEqual([
      { name: `palabre-${call.id}-in`, format: 'wav', channel: expect.stringMatching(/^palabre-snoop-in-/), target: 'snoop' },
      { name: `palabre-${call.id}-both`, format: 'wav', channel: expect.stringMatching(/^palabre-snoop-both-/), target: 'snoop' },
    ]);
    const snoops = s.ari.requests.filter((r) => r.path.endsWith('/snoop')).map((r) => r.query.spy);
    expect(snoops).toEqual(['in', 'both']);
    expect(s.ari.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith('/channels/palabre-')).length).toBe(3);
    // The caller is gone: palabre does not hang it up again.
    expect(s.ari.requests.some((r) => r.method === 'DELETE' && r.path === `/channels/${call.id}`)).toBe(false);
    expect(s.app.counters.callsStarted).toBe(1);
    // Lost caller packets were concealed with silence.
    expect(s.app.rtpCounters.jitter.lost).toBeGreaterThan(0);
    expect(s.app.rtpCounters.jitter.concealedSamples).toBe(s.app.rtpCounters.jitter.lost * 320);
    expectCleanedUp(s);
    const text = await s.metricsText();
    expect(text).toMatch(/palabre_ari_calls_total\{event="caller_hangup"\} 1/);
    expect(text).toMatch(/palabre_rtp_jitter_total\{event="lost"\} [1-9]/);
    expect(text).toMatch(/palabre_rtp_ports_in_use 0/);
  }, 60_000);

  it('speaks a tts: welcome in the call\'s voice once bridged, before the flow, and drops what the caller says over it', async () => {
    const welcome = 'Hello, this call may be recorded for quality.';
    const s = await serve({}, { welcome: `tts:${welcome}` });
    const call = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    const peer = await call.media();
    // The caller talks over the welcome: that is no answer to the flow's first question.
    await until(() => peer.voiced > 10, 'the welcome is heard');
    await peer.say(caller16k('yes'));
    await until(() => s.startedAt.has(call.id), 'the flow started', 20_000);
    const startedAt = s.startedAt.get(call.id)!;
    const welcomeMs = peer.received.filter((p) => !p.silent && p.at < startedAt).length * 20;
    expect(welcomeMs).toBeGreaterThan(1_500);
    await peer.botDone(peer.voiced);
    call.hangup();
    await until(() => s.ended.has(call.id), 'the call reported ended');

    const ended = s.ended.get(call.id)!;
    expect(ended.cause).toBe('caller_hangup');
    expect(ended.summary?.states).toEqual(['WELCOME']);
    const events = s.events.get(call.id)!;
    const transcript = events.filter((e): e is Extract<CallEvent, { type: 'transcript' }> => e.type === 'transcript').map((e) => `${e.role}: ${e.text}`);
    expect(transcript).toEqual([`bot: ${welcome}`, 'bot: Welcome to technical support. Do you already have a ticket number?']);
    // Not even as speech ignored while the bot spoke: it never reached the flow.
    expect(events.filter((e) => e.type === 'speech' || e.type === 'speech-ignored')).toEqual([]);
    // Spoken over the media channel: Asterisk was asked to play nothing.
    expect(s.ari.requests.some((r) => r.path.includes('/play/'))).toBe(false);
    expect(peer.violations).toEqual([]);
    expectCleanedUp(s);
  }, 60_000);

  it('goes on without the tts: welcome when the voice fails', async () => {
    const s = await serve({}, { welcome: 'tts:Hello.' }, { renderPhrase: () => Promise.reject(new Error('the voice is down')) });
    const call = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    const peer = await call.media();
    await peer.botDone(0);
    call.hangup();
    await until(() => s.ended.has(call.id), 'the call reported ended');
    expect(s.ended.get(call.id)).toMatchObject({ cause: 'caller_hangup', flow: 'support-desk' });
    const bot = s.events.get(call.id)!.filter((e): e is Extract<CallEvent, { type: 'transcript' }> => e.type === 'transcript' && e.role === 'bot').map((e) => e.text);
    expect(bot).toEqual(['Welcome to technical support. Do you already have a ticket number?']);
    expectCleanedUp(s);
  }, 60_000);

  it('transfers by continuing in the dialplan, or by redirecting to an endpoint', async () => {
    const s = await serve({}, { transferContext: 'agents', transferPriority: 3 });
    const desk = s.ari.call({ args: ['flow=transfer-desk', 'language=en'] });
    const agent = s.ari.call({ args: ['flow=transfer-agent'] });
    const [deskPeer, agentPeer] = await Promise.all([desk.media(), agent.media()]);
    expect(await desk.left.promise).toEqual({ how: 'continue', context: 'agents', extension: 'sales-queue', priority: '3' });
    expect(await agent.left.promise).toEqual({ how: 'redirect', endpoint: 'PJSIP/agent-7' });
    await until(() => s.ended.size === 2, 'both calls reported ended');
    expect(s.ended.get(desk.id)).toMatchObject({ cause: 'transfer', flow: 'transfer-desk' });
    expect(s.ended.get(agent.id)).toMatchObject({ cause: 'transfer', flow: 'transfer-agent', language: 'en' });
    expect(s.ari.channels.get(desk.id)?.variables.PALABRE_TRANSFER_TARGET).toBe('sales-queue');
    // The caller heard the goodbye before being handed over, and was not hung up.
    expect(deskPeer.voiced).toBeGreaterThan(20);
    expect(agentPeer.voiced).toBeGreaterThan(20);
    expect(s.ari.requests.some((r) => r.method === 'DELETE' && (r.path === `/channels/${desk.id}` || r.path === `/channels/${agent.id}`))).toBe(false);
    // The caller's own StasisEnd after continue is the transfer working, not a hangup.
    expect(s.ari.channels.get(desk.id)?.left?.how).toBe('continue');
    expectCleanedUp(s);
  }, 60_000);

  it('reconnects the events WebSocket after a drop, and ends a call whose caller hung up meanwhile', async () => {
    const s = await serve();
    const call = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    const peer = await call.media();
    await peer.botDone(0);

    s.ari.dropEventSockets();
    await until(() => s.client.counters.connects === 2 && s.ari.connectedClients === 1, 'reconnected', 10_000);
    // The call went on through the drop: a key press after it still reaches the flow.
    await call.dtmf('5');
    await until(() => (s.events.get(call.id) ?? []).some((e) => e.type === 'dtmf'), 'dtmf seen');
    expect(s.ended.has(call.id)).toBe(false);

    // This time the caller hangs up while the WebSocket is down: the events are lost.
    s.ari.dropEventSockets();
    call.hangup();
    await until(() => s.ended.has(call.id), 'the call ended after the reconnection', 10_000);
    expect(s.ended.get(call.id)?.cause).toBe('caller_hangup');
    expect(s.client.counters.connects).toBe(3);
    expect(s.client.counters.reconnects).toBeGreaterThanOrEqual(2);
    expect(s.ari.requests.some((r) => r.method === 'GET' && r.path === `/channels/${call.id}` && r.status === 404)).toBe(true);
    expectCleanedUp(s);
    // New calls are served after all this.
    const next = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    await (await next.media()).botDone(0);
    next.hangup();
    await until(() => s.ended.has(next.id), 'the next call ended');
    expect(await s.metricsText()).toMatch(/palabre_ari_reconnects_total [2-9]/);
  }, 60_000);

  it('drops RTP from strangers and malformed packets, ignores unknown events, and the call goes on', async () => {
    const s = await serve();
    const call = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    const peer = await call.media();
    const port = Number(s.ari.requests.find((r) => r.path === '/channels/externalMedia')!.query.external_host.split(':')[1]);
    // Strangers: another port on the same host, and another address (127.0.0.2).
    const samePort = await RtpPeer.open();
    const otherHost = await RtpPeer.open({ host: '127.0.0.2' });
    for (const stranger of [samePort, otherHost]) {
      stranger.setRemote('127.0.0.1', port);
      for (let i = 0; i < 5; i++) stranger.sendRaw(stranger.packetOfSilence());
    }
    // Malformed from the right peer: a short header and RTP version 1.
    peer.sendRaw(Buffer.from([0x80, 118, 0, 1, 0]));
    const v1 = samePort.packetOfSilence();
    v1[0] = 0x40;
    peer.sendRaw(v1);
    // Events: not JSON, no type, an event type palabre does not use, a DTMF for a channel nobody owns, a StasisEnd without its channel.
    s.ari.sendRaw('{not json');
    s.ari.sendRaw('{"channel": {}}');
    s.ari.event({ type: 'ChannelVarset', variable: 'X', value: '1', channel: s.ari.channelJson(call.channel) });
    s.ari.event({ type: 'ChannelDtmfReceived', digit: '9', duration_ms: 80, channel: { id: 'nobody.1', name: 'PJSIP/x', state: 'Up' } });
    s.ari.event({ type: 'StasisEnd' });

    await until(() => s.app.rtpCounters.unexpectedSource === 10 && s.app.rtpCounters.bad.version === 1, 'strangers counted');
    await peer.botDone(0);
    const since = peer.voiced;
    await peer.say(caller16k('yes'));
    await peer.botDone(since);
    expect(s.ended.has(call.id)).toBe(false);
    expect(s.events.get(call.id)?.filter((e) => e.type === 'state').map((e) => (e as { to: string }).to)).toEqual(['WELCOME', 'TICKET_VERIFICATION']);
    expect(s.events.get(call.id)?.some((e) => e.type === 'dtmf')).toBe(false);
    call.hangup();
    await until(() => s.ended.has(call.id), 'the call ended');
    samePort.close();
    otherHost.close();

    expect(s.app.rtpCounters.bad).toMatchObject({ short: 1, version: 1 });
    expect(s.client.counters.badMessages).toBe(3);
    expect(s.client.counters.events.ChannelVarset).toBe(1);
    expect(s.app.counters.ignoredEvents).toBe(1);
    expect(peer.violations).toEqual([]);
    const text = await s.metricsText();
    expect(text).toMatch(/palabre_rtp_unexpected_source_total 10/);
    expect(text).toMatch(/palabre_rtp_bad_packets_total\{reason="short"\} 1/);
    expect(text).toMatch(/palabre_rtp_bad_packets_total\{reason="version"\} 1/);
    expect(text).toMatch(/palabre_ari_events_total\{type="unreadable"\} 3/);
    expect(text).toMatch(/palabre_ari_events_total\{type="ignored"\} 1/);
    expectCleanedUp(s);
  }, 60_000);

  it('ends a call whose setup fails (REST 500, 404, unknown flow) cleanly with its reason, and other calls go on', async () => {
    const s = await serve();
    const healthy = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    const healthyPeer = await healthy.media();

    s.ari.failNext({ method: 'POST', path: /^\/channels\/externalMedia$/, status: 500, message: 'Internal Server Error' });
    const a = s.ari.call();
    expect(await a.left.promise).toEqual({ how: 'deleted', reason: 'failure' });
    await until(() => s.ended.has(a.id), 'a ended');
    expect(s.ended.get(a.id)).toMatchObject({ cause: 'setup_failed', detail: 'ARI POST /channels/externalMedia answered 500: Internal Server Error' });

    s.ari.failNext({ method: 'POST', path: /^\/bridges\/[^/]+\/addChannel$/, status: 404, message: 'Bridge not found' });
    const b = s.ari.call();
    expect(await b.left.promise).toEqual({ how: 'deleted', reason: 'failure' });
    await until(() => s.ended.has(b.id), 'b ended');
    expect(s.ended.get(b.id)?.detail).toMatch(/addChannel answered 404: Bridge not found/);

    const bad = s.ari.call({ args: ['flow=suport-desk'] });
    expect(await bad.left.promise).toEqual({ how: 'deleted', reason: 'failure' });
    await until(() => s.ended.has(bad.id), 'bad ended');
    expect(s.ended.get(bad.id)).toMatchObject({ cause: 'bad_flow', detail: expect.stringMatching(/no flow "suport-desk" \(did you mean support-desk\?\)/) });
    expect(s.ari.requests.some((r) => r.path === `/channels/${bad.id}/answer`)).toBe(false);

    // Only the healthy call holds anything now, and it still talks.
    expect(s.ari.liveOwnChannels()).toHaveLength(1);
    expect(s.app.ports.used).toBe(1);
    await healthyPeer.botDone(0);
    expect(healthyPeer.violations).toEqual([]);
    healthy.hangup();
    await until(() => s.ended.has(healthy.id), 'healthy ended');
    expect(s.ended.get(healthy.id)?.cause).toBe('caller_hangup');
    expectCleanedUp(s);
    expect(s.app.counters.ended).toMatchObject({ setup_failed: 2, bad_flow: 1, caller_hangup: 1 });
    expect(await s.metricsText()).toMatch(/palabre_ari_rest_errors_total\{status="500"\} 1/);
  }, 60_000);

  it('refuses calls beyond maxCalls with congestion, and names bad credentials', async () => {
    const s = await serve({}, { maxCalls: 1 });
    const first = s.ari.call({ args: ['flow=support-desk', 'language=en'] });
    await first.media();
    const second = s.ari.call();
    expect(await second.left.promise).toEqual({ how: 'deleted', reason: 'congestion' });
    expect(s.app.counters.refusedCapacity).toBe(1);
    first.hangup();
    await until(() => s.ended.has(first.id), 'first ended');
    expectCleanedUp(s);

    // One RTP port for two calls: the second is turned away unanswered, the range named.
    const tight = await serve({}, { rtpPortMin: 47_990, rtpPortMax: 47_991 });
    const holder = tight.ari.call({ args: ['flow=support-desk', 'language=en'] });
    await holder.media();
    const squeezed = tight.ari.call();
    expect(await squeezed.left.promise).toEqual({ how: 'deleted', reason: 'congestion' });
    await until(() => tight.ended.has(squeezed.id), 'squeezed ended');
    expect(tight.ended.get(squeezed.id)).toMatchObject({ cause: 'setup_failed', detail: expect.stringMatching(/^no free RTP port in 47990–47991: palabre's calls hold 1 of the 1 even ports/) });
    expect(tight.ari.requests.some((r) => r.path === `/channels/${squeezed.id}/answer`)).toBe(false);
    holder.hangup();
    await until(() => tight.ended.has(holder.id), 'holder ended');
    expectCleanedUp(tight);

    const wrong = new AriClient({ url: s.ari.url, username: 'palabre', password: 'wrong', app: 'palabre', reconnectMinMs: 50, reconnectMaxMs: 100 });
    const err = await wrong.request('GET', '/channels/1.1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AriError);
    expect((err as AriError).statusCode).toBe(401);
    expect((err as Error).message).toMatch(/^ARI GET \/channels\/1\.1 answered 401: Authentication required \(check ari\.username "palabre" and ari\.password against ari\.conf\)/);
    const before = s.ari.wsAuthFailures;
    wrong.start();
    await until(() => s.ari.wsAuthFailures >= before + 2 && wrong.counters.reconnects >= 2, 'retried with backoff');
    expect(wrong.connected).toBe(false);
    await wrong.stop();
    const unreachable = new AriClient({ url: 'http://127.0.0.1:9', username: 'u', password: 'p', app: 'palabre', requestTimeoutMs: 2_000 });
    expect(String(await unreachable.request('GET', '/asterisk/info').catch((e: unknown) => e))).toMatch(/ARI GET \/asterisk\/info got no answer: .*127\.0\.0\.1:9/);
  }, 60_000);
});
