/**
 * RTP packets (RFC 3550 §5.1): a 12-byte fixed header, 0–15 CSRCs, an
 * optional header extension, the payload, and optional padding whose length
 * is the last byte. Parsing never trusts a length field past the datagram:
 * every way a packet can lie about its size has a named reason, which the
 * transport counts.
 */
import { PalabreError } from '../../errors.js';

export const RTP_VERSION = 2;
export const RTP_HEADER_BYTES = 12;

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  /** 16-bit sequence number. */
  sequence: number;
  /** 32-bit media timestamp, in the payload's clock rate. */
  timestamp: number;
  ssrc: number;
  csrc: number[];
  /** Header extension (RFC 3550 §5.3.1): the profile word and its data, when the X bit is set. */
  extension?: { profile: number; data: Uint8Array };
  /** The media, without padding. A view into the datagram: copy before keeping it. */
  payload: Uint8Array;
  /** Padding bytes removed from the end (0 without the P bit). */
  padding: number;
}

export type RtpProblem = 'short' | 'version' | 'csrc' | 'extension' | 'padding' | 'rtcp' | 'empty';

export class RtpPacketError extends PalabreError {
  constructor(
    readonly problem: RtpProblem,
    message: string,
  ) {
    super('bad_request', message);
  }
}

/** RTCP packet types (SR, RR, SDES, BYE, APP) land where marker+PT would be 200–204 when muxed on the RTP port. */
function isRtcp(secondByte: number): boolean {
  return secondByte >= 200 && secondByte <= 204;
}

export function parseRtp(datagram: Uint8Array): RtpPacket {
  const n = datagram.length;
  if (n < RTP_HEADER_BYTES) throw new RtpPacketError('short', `RTP datagram of ${n} bytes is shorter than the ${RTP_HEADER_BYTES}-byte header`);
  const b0 = datagram[0];
  const version = b0 >> 6;
  if (version !== RTP_VERSION) throw new RtpPacketError('version', `RTP version ${version}, expected ${RTP_VERSION} (first byte 0x${b0.toString(16).padStart(2, '0')})`);
  if (isRtcp(datagram[1])) throw new RtpPacketError('rtcp', `RTCP packet (type ${datagram[1]}) on the RTP port`);
  const view = new DataView(datagram.buffer, datagram.byteOffset, n);
  const hasPadding = (b0 & 0x20) !== 0;
  const hasExtension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let pos = RTP_HEADER_BYTES;
  if (pos + csrcCount * 4 > n) throw new RtpPacketError('csrc', `RTP header announces ${csrcCount} CSRC(s) (${csrcCount * 4} bytes) but only ${n - pos} bytes follow`);
  const csrc: number[] = [];
  for (let i = 0; i < csrcCount; i++, pos += 4) csrc.push(view.getUint32(pos));
  let extension: RtpPacket['extension'];
  if (hasExtension) {
    if (pos + 4 > n) throw new RtpPacketError('extension', `RTP header extension bit set but only ${n - pos} bytes follow the CSRCs (4 needed)`);
    const profile = view.getUint16(pos);
    const words = view.getUint16(pos + 2);
    pos += 4;
    if (pos + words * 4 > n) throw new RtpPacketError('extension', `RTP header extension of ${words} words (${words * 4} bytes) but only ${n - pos} bytes follow`);
    extension = { profile, data: datagram.subarray(pos, pos + words * 4) };
    pos += words * 4;
  }
  let padding = 0;
  if (hasPadding) {
    padding = datagram[n - 1];
    if (padding === 0 || pos + padding > n) throw new RtpPacketError('padding', `RTP padding count ${padding} does not fit the ${n - pos} bytes after the header`);
  }
  const payload = datagram.subarray(pos, n - padding);
  if (payload.length === 0) throw new RtpPacketError('empty', 'RTP packet without payload');
  return {
    marker: (datagram[1] & 0x80) !== 0,
    payloadType: datagram[1] & 0x7f,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    csrc,
    extension,
    payload,
    padding,
  };
}

export interface RtpPacketInit {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
  marker?: boolean;
  csrc?: readonly number[];
  extension?: { profile: number; data: Uint8Array };
  /** Pad the packet with this many bytes (1–255). */
  padding?: number;
}

/** One RTP datagram, ready for a single socket send. */
export function buildRtp(p: RtpPacketInit): Buffer {
  const csrc = p.csrc ?? [];
  const padding = p.padding ?? 0;
  if (!Number.isInteger(p.payloadType) || p.payloadType < 0 || p.payloadType > 127) throw new PalabreError('bad_request', `RTP payload type must be 0–127, got ${p.payloadType}`);
  if (csrc.length > 15) throw new PalabreError('bad_request', `RTP carries at most 15 CSRCs, got ${csrc.length}`);
  if (padding < 0 || padding > 255) throw new PalabreError('bad_request', `RTP padding must be 0–255 bytes, got ${padding}`);
  if (p.extension && p.extension.data.length % 4 !== 0) throw new PalabreError('bad_request', `RTP header extension data must be whole 32-bit words, got ${p.extension.data.length} bytes`);
  const extBytes = p.extension ? 4 + p.extension.data.length : 0;
  const size = RTP_HEADER_BYTES + csrc.length * 4 + extBytes + p.payload.length + padding;
  const out = Buffer.alloc(size);
  out[0] = (RTP_VERSION << 6) | (padding > 0 ? 0x20 : 0) | (p.extension ? 0x10 : 0) | csrc.length;
  out[1] = (p.marker ? 0x80 : 0) | p.payloadType;
  out.writeUInt16BE(p.sequence & 0xffff, 2);
  out.writeUInt32BE(p.timestamp >>> 0, 4);
  out.writeUInt32BE(p.ssrc >>> 0, 8);
  let pos = RTP_HEADER_BYTES;
  for (const c of csrc) {
    out.writeUInt32BE(c >>> 0, pos);
    pos += 4;
  }
  if (p.extension) {
    out.writeUInt16BE(p.extension.profile & 0xffff, pos);
    out.writeUInt16BE(p.extension.data.length / 4, pos + 2);
    out.set(p.extension.data, pos + 4);
    pos += extBytes;
  }
  out.set(p.payload, pos);
  if (padding > 0) out[size - 1] = padding;
  return out;
}
