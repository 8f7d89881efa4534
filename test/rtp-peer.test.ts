/**
 * The emulated Asterisk's RTP peer in the form the call benchmark drives it
 * (test/support/rtp-peer.ts with keepReceived off): packets are checked and
 * counted, each handed to onPacket with its silence read from the bytes, and
 * nothing is kept; clips queued as payloads encoded once go out as a proper
 * stream. A plain UDP socket plays palabre.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpPeer, type RtpPeerFormat } from './support/rtp-peer.js';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const o of open.splice(0)) o.close();
});

async function palabreSide(): Promise<{ socket: Socket; port: number; received: Buffer[] }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  open.push(socket);
  const received: Buffer[] = [];
  socket.on('message', (b) => received.push(b));
  return { socket, port: socket.address().port, received };
}

function packet(sequence: number, timestamp: number, payload: Uint8Array, payloadType: number): Buffer {
  const b = Buffer.alloc(12 + payload.length);
  b[0] = 0x80;
  b[1] = payloadType;
  b.writeUInt16BE(sequence, 2);
  b.writeUInt32BE(timestamp, 4);
  b.writeUInt32BE(0x1234, 8);
  b.set(payload, 12);
  return b;
}

async function until(check: () => boolean): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > 5000) throw new Error('not met within 5 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('RtpPeer without keeping packets (the call benchmark)', () => {
  it.each([
    ['slin16', 118, 640, 0x00],
    ['ulaw', 0, 160, 0xff],
  ] as Array<[RtpPeerFormat, number, number, number]>)('%s: counts, reports each packet with its silence, and counts violations without keeping them all', async (format, pt, bytes, zero) => {
    const peer = await RtpPeer.open({ format, keepReceived: false });
    open.push(peer);
    const palabre = await palabreSide();
    peer.setRemote('127.0.0.1', palabre.port);
    const seen: boolean[] = [];
    peer.onPacket = (_at, silent) => seen.push(silent);
    const silence = new Uint8Array(bytes).fill(zero);
    const voice = new Uint8Array(bytes).fill(zero);
    voice[7] = 0x12;
    const step = format === 'ulaw' ? 160 : 320;
    for (let i = 0; i < 5; i++) palabre.socket.send(packet(100 + i, 1000 + i * step, i === 2 ? voice : silence, pt), peer.address.port, '127.0.0.1');
    await until(() => seen.length === 5);
    expect(seen).toEqual([true, true, false, true, true]);
    expect(peer.packetsReceived).toBe(5);
    expect(peer.voiced).toBe(1);
    expect(peer.violationCount).toBe(0);
    expect(peer.received).toEqual([]);
    expect(peer.receivedAudio().length).toBe(0);

    // Every packet a sequence jump: all counted, the first 20 kept as text.
    for (let i = 0; i < 30; i++) palabre.socket.send(packet(1000 + i * 2, 1000 + (5 + i) * step, silence, pt), peer.address.port, '127.0.0.1');
    await until(() => seen.length === 35);
    expect(peer.violationCount).toBe(30);
    expect(peer.violations).toHaveLength(20);
    expect(peer.violations[0]).toMatch(/^sequence 104 → 1000$/);
  });

  it('sends clips queued as encoded payloads as one continuous stream, silence around them', async () => {
    const peer = await RtpPeer.open({ format: 'slin16', keepReceived: false });
    open.push(peer);
    const palabre = await palabreSide();
    peer.setRemote('127.0.0.1', palabre.port);
    const frame = new Int16Array(320).fill(1000);
    const payload = peer.encodePayload(frame);
    expect(payload.readInt16BE(0)).toBe(1000);
    peer.start();
    const said = peer.sayPayloads([payload, payload, payload]);
    await said;
    await until(() => palabre.received.length >= 6);
    peer.stop();
    const packets = palabre.received;
    const voiced = packets.filter((p) => p.readInt16BE(12) === 1000);
    expect(voiced).toHaveLength(3);
    for (let i = 1; i < packets.length; i++) {
      expect((packets[i].readUInt16BE(2) - packets[i - 1].readUInt16BE(2)) & 0xffff).toBe(1);
      expect((packets[i].readUInt32BE(4) - packets[i - 1].readUInt32BE(4)) >>> 0).toBe(320);
      expect(packets[i].readUInt32BE(8)).toBe(packets[0].readUInt32BE(8));
    }
    expect(packets.every((p) => p.length === 12 + 640 && (p[1] & 0x7f) === 118)).toBe(true);
  });
});
