import { describe, expect, it } from 'vitest';
import { buildRtp, parseRtp, RtpPacketError } from './packet.js';

/** A header written byte by byte from RFC 3550 §5.1, independent of buildRtp. */
function handHeader(): Buffer {
  return Buffer.from([
    0x80, 0xf6, // V=2, no P/X/CC; M=1, PT=118
    0xff, 0xfe, // sequence 65534
    0x00, 0x01, 0x86, 0xa0, // timestamp 100000
    0xde, 0xad, 0xbe, 0xef, // SSRC
  ]);
}

function problem(bytes: Uint8Array): string {
  try {
    parseRtp(bytes);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(RtpPacketError);
    return `${(err as RtpPacketError).problem}: ${(err as Error).message}`;
  }
}

describe('RTP packets', () => {
  it('reads the fixed header as RFC 3550 lays it out', () => {
    const p = parseRtp(Buffer.concat([handHeader(), Buffer.from([1, 2, 3, 4])]));
    expect(p).toMatchObject({ marker: true, payloadType: 118, sequence: 65534, timestamp: 100000, ssrc: 0xdeadbeef, csrc: [], padding: 0 });
    expect([...p.payload]).toEqual([1, 2, 3, 4]);
  });

  it('round-trips CSRCs, a header extension and padding', () => {
    const payload = Uint8Array.from({ length: 640 }, (_, i) => i & 0xff);
    const bytes = buildRtp({ payloadType: 96, sequence: 70000, timestamp: 2 ** 32 + 5, ssrc: 0x01020304, marker: false, payload, csrc: [7, 0xffffffff], extension: { profile: 0xbede, data: new Uint8Array([9, 9, 9, 9, 8, 8, 8, 8]) }, padding: 3 });
    expect(bytes.length).toBe(12 + 8 + 4 + 8 + 640 + 3);
    expect(bytes[0]).toBe(0x80 | 0x20 | 0x10 | 2);
    const p = parseRtp(bytes);
    expect(p).toMatchObject({ payloadType: 96, sequence: 70000 & 0xffff, timestamp: 5, ssrc: 0x01020304, csrc: [7, 0xffffffff], padding: 3, marker: false });
    expect(p.extension?.profile).toBe(0xbede);
    expect([...(p.extension?.data ?? [])]).toEqual([9, 9, 9, 9, 8, 8, 8, 8]);
    expect(Buffer.from(p.payload).equals(Buffer.from(payload))).toBe(true);
  });

  it('refuses datagrams that lie about their size, by name', () => {
    const header = handHeader();
    expect(problem(header.subarray(0, 11))).toMatch(/^short: RTP datagram of 11 bytes/);
    const v1 = Buffer.concat([header, Buffer.from([0, 0])]);
    v1[0] = 0x40;
    expect(problem(v1)).toMatch(/^version: RTP version 1, expected 2/);
    const csrc = Buffer.concat([header, Buffer.from([0, 0, 0, 1])]);
    csrc[0] = 0x80 | 3;
    expect(problem(csrc)).toMatch(/^csrc: RTP header announces 3 CSRC/);
    const ext = Buffer.concat([header, Buffer.from([0xbe, 0xde, 0x00, 0x04, 1, 2])]);
    ext[0] = 0x90;
    expect(problem(ext)).toMatch(/^extension: RTP header extension of 4 words/);
    const pad = Buffer.concat([header, Buffer.from([1, 2, 200])]);
    pad[0] = 0xa0;
    expect(problem(pad)).toMatch(/^padding: RTP padding count 200/);
    const padZero = Buffer.concat([header, Buffer.from([1, 2, 0])]);
    padZero[0] = 0xa0;
    expect(problem(padZero)).toMatch(/^padding/);
    expect(problem(header)).toMatch(/^empty: RTP packet without payload/);
    const rtcp = Buffer.from([0x81, 200, 0, 6, ...new Array(24).fill(0)]);
    expect(problem(rtcp)).toMatch(/^rtcp: RTCP packet \(type 200\)/);
  });

  it('refuses to build what RTP cannot carry', () => {
    const base = { sequence: 1, timestamp: 1, ssrc: 1, payload: new Uint8Array(4) };
    expect(() => buildRtp({ ...base, payloadType: 128 })).toThrow(/payload type must be 0–127/);
    expect(() => buildRtp({ ...base, payloadType: 0, csrc: new Array(16).fill(1) })).toThrow(/at most 15 CSRCs/);
    expect(() => buildRtp({ ...base, payloadType: 0, extension: { profile: 1, data: new Uint8Array(3) } })).toThrow(/whole 32-bit words/);
  });
});
