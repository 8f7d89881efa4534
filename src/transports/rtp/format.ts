/**
 * The media formats palabre carries over RTP, as Asterisk's externalMedia
 * `format` names them: signed linear (L16, big-endian as RFC 3551 requires)
 * at 16 or 8 kHz, and G.711. Asterisk does not negotiate: the format is
 * what palabre asked for, and the payload type is learned from its first
 * packet; the static numbers here are only used before that.
 */
import { decodeG711, encodeG711 } from '../../audio/g711.js';
import { decodeSlinBe, encodeSlinBe } from '../../audio/slin.js';
import { PalabreError } from '../../errors.js';

export const RTP_FORMATS = ['slin16', 'slin', 'ulaw', 'alaw'] as const;
export type RtpFormatName = (typeof RTP_FORMATS)[number];

export interface RtpFormat {
  readonly name: RtpFormatName;
  readonly clockRate: number;
  /** Asterisk's static payload type for the format (rtp_engine.c), used until the first inbound packet says otherwise. */
  readonly defaultPayloadType: number;
  /** Payload bytes → samples; throws RtpPayloadError when the bytes cannot be samples of this format. */
  decode(payload: Uint8Array): Int16Array;
  encode(samples: Int16Array): Uint8Array;
}

export class RtpPayloadError extends PalabreError {
  readonly problem = 'payload_length';
}

const linear = (name: 'slin16' | 'slin', clockRate: number, defaultPayloadType: number): RtpFormat => ({
  name,
  clockRate,
  defaultPayloadType,
  decode(payload) {
    if (payload.length % 2 !== 0) throw new RtpPayloadError('bad_audio', `${name} RTP payload of ${payload.length} bytes: L16 takes 2 bytes per sample`);
    return decodeSlinBe(payload);
  },
  encode: (samples) => encodeSlinBe(samples),
});

const g711 = (law: 'ulaw' | 'alaw', defaultPayloadType: number): RtpFormat => ({
  name: law,
  clockRate: 8000,
  defaultPayloadType,
  decode: (payload) => decodeG711(law, payload),
  encode: (samples) => encodeG711(law, samples),
});

const FORMATS: Record<RtpFormatName, RtpFormat> = {
  slin16: linear('slin16', 16_000, 118),
  slin: linear('slin', 8_000, 10),
  ulaw: g711('ulaw', 0),
  alaw: g711('alaw', 8),
};

export function rtpFormat(name: string): RtpFormat {
  const format = (FORMATS as Record<string, RtpFormat | undefined>)[name];
  if (!format) throw new PalabreError('bad_request', `unknown RTP format "${name}"; palabre speaks ${RTP_FORMATS.join(', ')}`);
  return format;
}
