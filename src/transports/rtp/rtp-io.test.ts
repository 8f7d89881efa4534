import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMulaw, encodeMulaw } from '../../audio/g711.js';
import { loadResampler, type ResamplerFactory } from '../../audio/resample.js';
import { toneAmplitude, sine } from '../../audio/test-support.js';
import type { Frame } from '../../audio/frame.js';
import { createRtpCounters } from './counters.js';
import { parseRtp } from './packet.js';
import { PortPool } from './port-pool.js';
import { RtpIO, type RtpIOOptions } from './rtp-io.js';

let resampler: ResamplerFactory;
const pool = new PortPool({ host: '127.0.0.1', min: 41000, max: 41999 });
const peers: Socket[] = [];

beforeAll(async () => {
  resampler = await loadResampler();
});
afterAll(() => {
  for (const p of peers) p.close();
});

/** A bare UDP socket standing in for Asterisk's side, collecting what palabre sends. */
async function peer(host = '127.0.0.1'): Promise<{ socket: Socket; port: number; got: Array<{ at: number; bytes: Buffer; from: number }> }> {
  const socket = createSocket('udp4');
  peers.push(socket);
  const got: Array<{ at: number; bytes: Buffer; from: number }> = [];
  socket.on('message', (bytes, rinfo) => got.push({ at: performance.now(), bytes, from: rinfo.port }));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  return { socket, port: socket.address().port, got };
}

/** RTP written byte by byte (RFC 3550), so these tests do not lean on buildRtp. */
function rtp(pt: number, seq: number, ts: number, payload: Uint8Array, ssrc = 0x11223344): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  b.set(payload, 12);
  return b;
}

function be16(samples: Int16Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => b.writeInt16BE(s, i * 2));
  return b;
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function open(options: Partial<RtpIOOptions> = {}): Promise<RtpIO> {
  return new RtpIO({ id: 'call-1', lease: await pool.allocate(), format: 'slin16', resampler, ...options });
}

function collect(io: RtpIO): Frame[] {
  const frames: Frame[] = [];
  void (async () => {
    for await (const f of io.frames()) frames.push(f);
  })();
  return frames;
}

describe('RtpIO', () => {
  it('plays big-endian slin16 from Asterisk in order, learns its payload type, and drops strangers and garbage', async () => {
    const ast = await peer();
    const counters = createRtpCounters();
    const io = await open({ remote: { address: '127.0.0.1', port: ast.port }, counters });
    const frames = collect(io);
    const send = (b: Buffer, from: Socket = ast.socket) => from.send(b, io.localPort, '127.0.0.1');
    const frame = (n: number) => new Int16Array(320).fill(n * 100 + 0x0102);
    // Packets 0..5 with 2 and 3 swapped, payload type 96 (dynamic, as a differently set up Asterisk would send).
    for (const n of [0, 1, 3, 2, 4, 5]) send(rtp(96, 1000 + n, 5000 + n * 320, be16(frame(n))));
    const stranger = await peer();
    send(rtp(96, 1006, 5000 + 6 * 320, be16(frame(99))), stranger.socket);
    const other = await peer('127.0.0.2');
    send(rtp(96, 1006, 5000 + 6 * 320, be16(frame(99))), other.socket);
    send(Buffer.from([0x80, 96, 0, 1]));
    const v1 = rtp(96, 1006, 5000 + 6 * 320, be16(frame(99)));
    v1[0] = 0x40;
    send(v1);
    send(rtp(0, 1006, 5000 + 6 * 320, be16(frame(99))));
    send(rtp(96, 1006, 5000 + 6 * 320, Buffer.alloc(3)));
    await until(() => frames.length === 6 && io.stats.unexpectedSource === 2 && counters.bad.payload_length === 1);
    expect(frames.map((f) => f.samples[0])).toEqual([0, 1, 2, 3, 4, 5].map((n) => n * 100 + 0x0102));
    expect(frames.every((f) => f.sampleRate === 16000 && f.samples.length === 320)).toBe(true);
    expect(io.stats.dropped).toMatchObject({ short: 1, version: 1, payload_type: 1, payload_length: 1 });
    expect(counters).toMatchObject({ unexpectedSource: 2, packetsIn: 6 });
    expect(counters.jitter.reordered).toBe(1);
    expect(io.outboundPayloadType).toBe(96);
    await io.close('bot_hangup');
  });

  it('sends bot audio as paced 20 ms packets to Asterisk, from its own port, with silence in between', async () => {
    const ast = await peer();
    const io = await open({ remote: { address: '127.0.0.1', port: ast.port } });
    const tone = sine(440, 16000, 16000 * 0.2, 8000);
    for (let i = 0; i < tone.length; i += 320) io.write({ samples: tone.slice(i, i + 320), sampleRate: 16000 });
    const started = performance.now();
    await io.waitForPlayout();
    expect(performance.now() - started).toBeGreaterThan(120);
    await new Promise((r) => setTimeout(r, 100));
    await io.close('bot_hangup');
    const packets = ast.got.map((g) => ({ ...g, p: parseRtp(g.bytes) }));
    expect(packets.length).toBeGreaterThan(12);
    expect(packets.every((g) => g.from === io.localPort && g.p.payloadType === 118 && g.p.payload.length === 640)).toBe(true);
    expect(packets[0].p.marker).toBe(true);
    for (let i = 1; i < packets.length; i++) {
      expect((packets[i].p.sequence - packets[i - 1].p.sequence) & 0xffff).toBe(1);
      expect((packets[i].p.timestamp - packets[i - 1].p.timestamp) >>> 0).toBe(320);
      expect(packets[i].p.ssrc).toBe(packets[0].p.ssrc);
    }
    const voiced = packets.filter((g) => g.p.payload.some((b) => b !== 0));
    expect(voiced).toHaveLength(10);
    // Big-endian on the wire: the tone is there when read as BE.
    const first = voiced[2].p.payload;
    const samples = new Int16Array(320).map((_, i) => (first[2 * i] << 8) | first[2 * i + 1]);
    expect(toneAmplitude(samples, 440, 16000)).toBeGreaterThan(6000);
    const gaps = voiced.slice(1).map((g, i) => g.at - voiced[i].at);
    expect(gaps.reduce((a, b) => a + b, 0) / gaps.length).toBeGreaterThan(14);
    expect(io.playedMs()).toBe(200);
  });

  it('speaks µ-law at 8 kHz when the format says so, resampling both ways', async () => {
    const ast = await peer();
    const io = await open({ format: 'ulaw', remote: { address: '127.0.0.1', port: ast.port } });
    const frames = collect(io);
    const tone = sine(500, 8000, 8000 * 0.4, 8000);
    for (let i = 0; i < 20; i++) ast.socket.send(rtp(0, i, i * 160, encodeMulaw(tone.subarray(i * 160, (i + 1) * 160))), io.localPort, '127.0.0.1');
    await until(() => frames.length >= 19);
    const mid = frames[10];
    expect(mid.sampleRate).toBe(16000);
    expect(toneAmplitude(mid.samples, 500, 16000)).toBeGreaterThan(6000);
    io.write({ samples: sine(500, 16000, 320, 8000), sampleRate: 16000 });
    await io.waitForPlayout();
    await io.close('bot_hangup');
    const out = ast.got.map((g) => parseRtp(g.bytes));
    expect(out.every((p) => p.payloadType === 0 && p.payload.length === 160)).toBe(true);
    expect(out.some((p) => toneAmplitude(decodeMulaw(p.payload), 500, 8000) > 3000)).toBe(true);
  });

  it('learns where Asterisk is from its first packet when not told, and frees the port once closed', async () => {
    const ast = await peer();
    const closed: unknown[] = [];
    const used = pool.used;
    const io = await open({ onClose: (...args) => closed.push(args) });
    expect(pool.used).toBe(used + 1);
    const frames = collect(io);
    ast.socket.send(rtp(118, 1, 0, be16(new Int16Array(320).fill(7))), io.localPort, '127.0.0.1');
    await until(() => frames.length === 1 && ast.got.length > 2);
    expect(io.remoteAddress).toEqual({ address: '127.0.0.1', port: ast.port });
    await io.close('transfer', { transferTarget: 'sales' });
    await io.close('bot_hangup');
    expect(closed).toEqual([['transfer', { transferTarget: 'sales' }, true]]);
    expect(pool.used).toBe(used);
    expect(io.write({ samples: new Int16Array(320), sampleRate: 16000 })).toBeUndefined();
  });

  it('tells the call when the far end is gone or silent, and passes keypad digits on', async () => {
    const ast = await peer();
    const io = await open({ remote: { address: '127.0.0.1', port: ast.port } });
    const events: string[] = [];
    io.on('dtmf', (d) => events.push(`dtmf ${d}`));
    io.on('hangup', (r) => events.push(`hangup ${r}`));
    io.dtmf('5');
    io.dtmf('E');
    io.remoteHangup('caller_hangup');
    io.dtmf('6');
    expect(events).toEqual(['dtmf 5', 'hangup caller_hangup']);

    const counters = createRtpCounters();
    const quiet = await open({ remote: { address: '127.0.0.1', port: ast.port }, idleTimeoutMs: 150, counters });
    const gone = new Promise((r) => quiet.on('hangup', r));
    expect(await gone).toBe('transport_error');
    expect(counters.timeouts).toBe(1);
  });
});
