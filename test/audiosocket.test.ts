/**
 * The AudioSocket transport over real sockets: an Asterisk emulator written
 * from the protocol notes streams a flite-synthesised caller at 8 kHz in real
 * time through `support-desk` with real engines, checks every frame palabre
 * sends back (kinds, lengths, pacing, keep-alive silence), and misbehaves in
 * the ways the protocol refuses while the server keeps serving other calls.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../src/audio/resample.js';
import { decodeWav } from '../src/audio/wav.js';
import type { CallSummary } from '../src/call/events.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { createAllowList } from '../src/transports/audiosocket/allow.js';
import { createAudioSocketCallFactory } from '../src/transports/audiosocket/call.js';
import { FrameError, FrameParser, encodeFrame } from '../src/transports/audiosocket/frames.js';
import { type AudioSocketServer, type AudioSocketServerOptions, startAudioSocketServer } from '../src/transports/audiosocket/server.js';
import { startThreadedAudioSocketServer, type ThreadedAudioSocketServer } from '../src/transports/audiosocket/threaded-server.js';
import { AsteriskAudioSocket, frame, uuidFrame } from './support/asterisk-audiosocket.js';
import { fliteWav } from './support/server.js';
import { botHangsUp, expectSupportDeskTicket, playSupportDesk, SUPPORT_DESK_LINES } from './support/support-desk.js';
import { settled, until } from './support/wait.js';

const ROOT = new URL('..', import.meta.url).pathname;
const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
let engines: Engines;
const servers: AudioSocketServer[] = [];
const ended = new Map<string, { cause: string | undefined; summary: CallSummary | undefined }>();

beforeAll(async () => {
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await engines?.close();
});

/** Whether the servers of the tests now running keep their media on a thread of their own (the default) or on the main thread. */
let mediaThread = true;

async function serve(options: Partial<Omit<AudioSocketServerOptions, 'createCall' | 'resampler'>> = {}): Promise<AudioSocketServer> {
  const registry = loadFlowsDir(join(ROOT, 'flows'), { llmAvailable: false });
  const settings = {
    host: '127.0.0.1',
    port: 0,
    chooseFlow: () => ({ flow: 'support-desk', language: 'en' }),
    createCall: createAudioSocketCallFactory({ config, engines, flows: () => registry }),
    onCallEnded: (info: { uuid: string; cause: string | undefined; summary: CallSummary | undefined }) => ended.set(info.uuid, { cause: info.cause, summary: info.summary }),
    ...options,
  };
  const server = mediaThread ? await startThreadedAudioSocketServer(settings) : await startAudioSocketServer({ ...settings, resampler: engines.resampler });
  servers.push(server);
  return server;
}

/** The server's counters hold `wanted`: a media thread reports them a moment after the sockets show it. */
async function countersMatch(server: AudioSocketServer, wanted: Record<string, unknown>): Promise<void> {
  expect(await settled(() => server.counters, wanted)).toMatchObject(wanted);
}

async function caller8k(text: string): Promise<Int16Array> {
  const wav = decodeWav(fliteWav(text));
  const mono = { samples: wav.samples, sampleRate: wav.sampleRate };
  return (await resample(mono, 8000)).samples;
}


describe('AudioSocket frames', () => {
  it('parses frames split across chunks and several per chunk, and refuses bad ones by name', () => {
    const audio = encodeFrame(0x10, new Uint8Array(320).fill(1));
    const bytes = Buffer.concat([uuidFrame('0b7e2f2c-6a3e-4a63-9d3c-2a4a0b6f9e11'), audio, frame(0x03, Buffer.from('7')), audio, frame(0x00)]);
    const parser = new FrameParser();
    const out = [];
    for (let pos = 0; pos < bytes.length; pos += 7) out.push(...parser.push(bytes.subarray(pos, pos + 7)));
    expect(out.map((f) => f.type)).toEqual(['uuid', 'audio', 'dtmf', 'audio', 'hangup']);
    expect(out[0]).toEqual({ type: 'uuid', uuid: '0b7e2f2c-6a3e-4a63-9d3c-2a4a0b6f9e11' });
    expect(out[2]).toEqual({ type: 'dtmf', digit: '7' });
    expect(new FrameParser().push(Buffer.concat([audio, audio, audio]))).toHaveLength(3);
    expect(new FrameParser().push(encodeFrame(0x12, new Uint8Array(640)))[0]).toMatchObject({ type: 'audio', sampleRate: 16000 });

    const problem = (b: Buffer, end = false): string => {
      const p = new FrameParser(8192);
      try {
        p.push(b);
        if (end) p.end();
      } catch (err) {
        expect(err).toBeInstanceOf(FrameError);
        return `${(err as FrameError).problem}: ${(err as Error).message}`;
      }
      return 'ok';
    };
    expect(problem(frame(0x05, Buffer.from([1])))).toMatch(/^unknown_kind: unknown AudioSocket frame kind 0x05/);
    expect(problem(frame(0x10))).toMatch(/^empty_audio/);
    expect(problem(Buffer.from([0x10, 0xff, 0xff]))).toMatch(/^oversized: .*65535 bytes, over the 8192-byte limit/);
    expect(problem(audio.subarray(0, 100), true)).toMatch(/^truncated: connection ended inside a frame: 100 byte/);
    expect(problem(frame(0x01, Buffer.from([1, 2])))).toMatch(/^malformed: UUID frame of 2 bytes/);
    expect(problem(frame(0x03, Buffer.from('x')))).toMatch(/^malformed: DTMF/);
  });

  it('allow-lists addresses and CIDR ranges, IPv4 and IPv6', () => {
    const allow = createAllowList(['10.1.0.0/16', '192.168.1.7', '2001:db8::/32', '::1']);
    expect(allow('10.1.200.3')).toBe(true);
    expect(allow('::ffff:10.1.0.9')).toBe(true);
    expect(allow('10.2.0.1')).toBe(false);
    expect(allow('192.168.1.7')).toBe(true);
    expect(allow('192.168.1.8')).toBe(false);
    expect(allow('2001:db8:1::5')).toBe(true);
    expect(allow('::1')).toBe(true);
    expect(allow('127.0.0.1')).toBe(false);
    expect(allow(undefined)).toBe(false);
    expect(createAllowList([])('203.0.113.9')).toBe(true);
    expect(() => createAllowList(['10.0.0.0/33'])).toThrow(/prefix length must be 0 to 32/);
    expect(() => createAllowList(['asterisk.local'])).toThrow(/not an IPv4\/IPv6 address or CIDR range/);
  });
});

describe.each([
  { where: 'on its media thread', thread: true },
  { where: 'on the main thread', thread: false },
])('AudioSocket server with real engines, $where', ({ thread }) => {
  beforeAll(() => {
    mediaThread = thread;
  });

  it('carries a support-desk call from the emulated Asterisk to the saved ticket', async () => {
    const server = await serve();
    const uuid = randomUUID();
    const audio = new Map<string, Int16Array>();
    for (const l of new Set(SUPPORT_DESK_LINES)) audio.set(l, await caller8k(l));
    const ast = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid });

    await playSupportDesk({ get voiced() { return ast.voiced; }, botDone: (v) => ast.botDone(v), say: (l) => ast.say(audio.get(l)!), dtmf: (d) => ast.dtmf(d) });
    await botHangsUp(ast.closed);
    await until(() => ended.has(uuid));

    const { summary, cause } = ended.get(uuid)!;
    expectSupportDeskTicket(summary);
    expect(summary?.endReason).toBe('bot_hangup');
    expect(cause).toBe('bot_closed');

    // Everything palabre sent is something Asterisk accepts.
    expect(ast.violations).toEqual([]);
    expect(ast.hangupReceived).toBe(true);
    expect(ast.received.at(-1)?.kind).toBe(0x00);
    const kinds = new Set(ast.received.map((r) => r.kind));
    expect([...kinds].sort()).toEqual([0x00, 0x10]);
    expect(ast.received.filter((r) => r.kind === 0x10).every((r) => r.length === 320)).toBe(true);
    // Keep-alive silence while the bot listens, real speech when it talks.
    const silent = ast.received.filter((r) => r.kind === 0x10 && r.silent).length;
    expect(silent).toBeGreaterThan(500);
    expect(ast.voiced).toBeGreaterThan(500);
    // One frame per 20 ms: no gap near Asterisk's 2 s timeout, no burst beyond the lead (40 ms) plus scheduling noise.
    const pacing = ast.pacing();
    console.log('audiosocket pacing', pacing);
    expect(pacing.medianGapMs).toBeGreaterThan(17);
    expect(pacing.medianGapMs).toBeLessThan(23);
    expect(pacing.maxGapMs).toBeLessThan(500);
    expect(pacing.burstMs).toBeLessThan(150);
    await countersMatch(server, { callsStarted: 1, callsEnded: 1, active: 0 });
  }, 120_000);

  it('ends misbehaving connections with a named cause and still serves a healthy call', async () => {
    const server = await serve({ firstFrameTimeoutMs: 300, io: { idleTimeoutMs: 600 } });
    const connect = (sendUuid = true, stream = false) => AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid: randomUUID(), sendUuid, stream });

    const wrongFirst = await connect(false);
    wrongFirst.write(frame(0x10, new Uint8Array(320)));
    const silentPeer = await connect(false);
    const unknown = await connect();
    unknown.write(frame(0x05, Buffer.from([1, 2])));
    const empty = await connect();
    empty.write(frame(0x10));
    const oversized = await connect();
    oversized.write(Buffer.from([0x10, 0xff, 0xff, 0, 0]));
    const truncated = await connect();
    truncated.write(frame(0x10, new Uint8Array(320)).subarray(0, 120));
    truncated.hangup(false);
    const halfOpen = await connect();

    await Promise.all([wrongFirst, silentPeer, unknown, empty, oversized, truncated, halfOpen].map((c) => c.closed));
    for (const c of [wrongFirst, silentPeer, unknown, empty, oversized]) {
      expect(c.hangupReceived).toBe(true);
      expect(c.violations).toEqual([]);
    }
    await countersMatch(server, { badFirstFrame: 1, firstFrameTimeout: 1, callsStarted: 5, callsEnded: 5, active: 0 });
    await countersMatch(server, { ended: { unknown_kind: 1, empty_audio: 1, oversized: 1, truncated: 1, half_open: 1 } });

    // A healthy call afterwards, at 16 kHz (Dial(AudioSocket/…/c(slin16))): greeted in kind 0x12, then hangs up.
    const uuid = randomUUID();
    const ok = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid, kind: 0x12 });
    await ok.botDone(0, 300, 20_000);
    const firstVoice = ok.received.findIndex((r) => !r.silent);
    const after = ok.received.slice(firstVoice);
    expect(after.every((r) => r.kind === 0x12 && r.length === 640)).toBe(true);
    ok.hangup(true);
    await ok.closed;
    expect(ok.violations).toEqual([]);
    await until(() => ended.has(uuid));
    expect(ended.get(uuid)?.cause).toBe('hangup_frame');
    expect(ended.get(uuid)?.summary?.endReason).toBe('caller_hangup');
  }, 40_000);

  it('ends a call whose client stops reading, counted with its cause, while a concurrent call goes on', async () => {
    const server = await serve();
    // A second server where only the time bound can trip: its byte bound is out of reach.
    const timed = await serve({ io: { maxBufferedBytes: 1 << 30, writeStallMs: 1000 } });
    const healthyUuid = randomUUID();
    const healthy = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid: healthyUuid });
    // At 192 kHz (kind 0x18) palabre answers with 384 kB/s, so the megabytes the kernel buffers on
    // loopback fill in seconds; at 8 kHz the same stall takes minutes to show.
    const stalledUuids = [randomUUID(), randomUUID()];
    const stalled = await Promise.all([server, timed].map((s, i) => AsteriskAudioSocket.connect({ host: '127.0.0.1', port: s.port, uuid: stalledUuids[i], kind: 0x18 })));
    await until(() => stalled.every((c) => c.received.length > 10) && healthy.received.length > 10);
    for (const c of stalled) c.stopReading();
    const stalledAt = healthy.received.length;

    await until(() => stalledUuids.every((u) => ended.has(u)), 'both stalled calls ended', 45_000);
    for (const uuid of stalledUuids) {
      expect(ended.get(uuid)?.cause).toBe('not_reading');
      expect(ended.get(uuid)?.summary?.endReason).toBe('transport_error');
    }
    await countersMatch(server, { callsStarted: 2, callsEnded: 1, active: 1, ended: { not_reading: 1 } });
    await countersMatch(timed, { ended: { not_reading: 1 } });
    for (const c of stalled) c.destroy();

    // The other call was served throughout: a frame in every slot, no gap near Asterisk's 2 s timeout.
    const during = healthy.pacing(stalledAt);
    expect(during.frames).toBeGreaterThan(50);
    expect(during.maxGapMs).toBeLessThan(1000);
    await healthy.botDone(0, 300, 20_000);
    healthy.hangup(true);
    await healthy.closed;
    expect(healthy.violations).toEqual([]);
    await until(() => ended.has(healthyUuid));
    expect(ended.get(healthyUuid)?.cause).toBe('hangup_frame');
  }, 60_000);

  it('closes clients outside the allow-list at once and refuses calls beyond the cap with a hangup frame', async () => {
    const closedShop = await serve({ allow: ['10.0.0.0/8', '::2'] });
    const refused = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: closedShop.port, uuid: randomUUID() });
    await refused.closed;
    expect(refused.received).toEqual([]);
    await countersMatch(closedShop, { refusedAddress: 1, callsStarted: 0 });

    const small = await serve({ maxCalls: 1, allow: ['127.0.0.0/8'] });
    const first = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: small.port, uuid: randomUUID() });
    await until(() => small.counters.active === 1);
    const second = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: small.port, uuid: randomUUID() });
    await second.closed;
    expect(second.hangupReceived).toBe(true);
    expect(second.received).toHaveLength(1);
    await countersMatch(small, { refusedCapacity: 1, callsStarted: 1 });

    // A connection an ARI call expects is handed over even at the cap (the ARI app has its own);
    // while one is expected, others are refused once their UUID is read.
    const ariUuid = randomUUID();
    const handed = small.expect(ariUuid, { timeoutMs: 5000 });
    const third = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: small.port, uuid: randomUUID() });
    await third.closed;
    expect(third.hangupReceived).toBe(true);
    const ari = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: small.port, uuid: ariUuid });
    const io = await handed;
    expect(io.id).toBe(ariUuid);
    await countersMatch(small, { refusedCapacity: 2, callsStarted: 1, handedOver: 1 });
    await io.close('bot_hangup');
    await ari.closed;
    first.hangup(false);
    await first.closed;
    await countersMatch(small, { active: 0, ended: { eof: 1 } });
  }, 20_000);

  it('takes a connection reset by Asterisk as the caller hanging up, not as a transport fault', async () => {
    const server = await serve();
    const uuid = randomUUID();
    const client = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid });
    await until(() => server.counters.active === 1 && client.received.length > 5);
    client.reset();
    await until(() => ended.has(uuid));
    expect(ended.get(uuid)?.cause).toBe('reset');
    expect(ended.get(uuid)?.summary?.endReason).toBe('caller_hangup');
    await countersMatch(server, { ended: { reset: 1, socket_error: 0, eof: 0 } });
  }, 20_000);
});

describe('AudioSocket media thread', () => {
  it('keeps sending a frame every 20 ms while the main thread is held for 400 ms, and runs at the priority asked for', async () => {
    const registry = loadFlowsDir(join(ROOT, 'flows'), { llmAvailable: false });
    const sends: number[] = [];
    const server = await startThreadedAudioSocketServer({
      host: '127.0.0.1',
      port: 0,
      chooseFlow: () => ({ flow: 'support-desk', language: 'en' }),
      createCall: (io, flow, language, logger) => {
        io.onFrameSent = (at) => sends.push(at);
        return createAudioSocketCallFactory({ config, engines, flows: () => registry })(io, flow, language, logger);
      },
      reportFrameSends: true,
      threadNice: -5,
    });
    servers.push(server);

    // The thread set its own niceness: as root it is raised, otherwise palabre says why not.
    if (process.getuid?.() === 0) {
      expect(server.threadPriority).toBe('nice -5');
      const nices = readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]));
      expect(nices.filter((n) => n === -5)).toHaveLength(1);
    } else expect(server.threadPriority).toMatch(/CAP_SYS_NICE/);

    const ast = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: server.port, uuid: randomUUID() });
    await until(() => sends.length > 25);
    // Dialog, recognition, storage and GC all run here; a long task must not reach the wire.
    const heldFrom = performance.now();
    while (performance.now() - heldFrom < 400) {
      // busy: the main thread's event loop is held
    }
    const heldTo = performance.now();
    await until(() => sends.some((t) => t > heldTo + 100));
    const during = sends.filter((t) => t >= heldFrom && t <= heldTo);
    expect(during.length).toBeGreaterThanOrEqual(18);
    // No slot went empty (on the main thread the gap would be the whole 400 ms).
    const gaps = during.slice(1).map((t, i) => t - during[i]);
    expect(Math.max(...gaps)).toBeLessThan(40);
    ast.hangup(true);
    await ast.closed;
    expect(ast.violations).toEqual([]);
  }, 30_000);
});

describe('AudioSocket media thread failure', () => {
  it('ends the calls of a media thread that dies as transport errors, and another server goes on', async () => {
    mediaThread = true;
    const doomed = (await serve()) as ThreadedAudioSocketServer;
    const other = await serve();
    const lost = randomUUID();
    const kept = randomUUID();
    const a = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: doomed.port, uuid: lost });
    const b = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: other.port, uuid: kept });
    await until(() => a.received.length > 10 && b.received.length > 10);
    await doomed.thread.terminate();
    await until(() => ended.has(lost));
    expect(ended.get(lost)?.summary?.endReason).toBe('transport_error');
    await a.closed;
    // The other server's call still gets a frame every 20 ms, and ends normally.
    const at = b.received.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(b.received.length - at).toBeGreaterThanOrEqual(15);
    b.hangup(true);
    await until(() => ended.has(kept));
    expect(ended.get(kept)?.cause).toBe('hangup_frame');
    await doomed.close();
  }, 30_000);
});
