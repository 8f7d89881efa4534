/**
 * AudioSocket framing (Asterisk res_audiosocket): `kind u8 | length u16 BE |
 * payload`. The parser is streaming because TCP hands over arbitrary byte
 * runs: one frame may span several chunks and one chunk may hold many frames.
 */
import { encodeSlinLe } from '../../audio/slin.js';
import { PalabreError } from '../../errors.js';

export const KIND_HANGUP = 0x00;
export const KIND_UUID = 0x01;
export const KIND_DTMF = 0x03;
export const KIND_SLIN = 0x10;
export const KIND_ERROR = 0xff;
export const HEADER_BYTES = 3;

/** Audio kinds and their rates: 0x10 is slin 8 kHz, 0x11–0x18 the higher slin rates. */
export const AUDIO_KIND_RATES: ReadonlyMap<number, number> = new Map([
  [0x10, 8_000],
  [0x11, 12_000],
  [0x12, 16_000],
  [0x13, 24_000],
  [0x14, 32_000],
  [0x15, 44_100],
  [0x16, 48_000],
  [0x17, 96_000],
  [0x18, 192_000],
]);

export function audioKindForRate(rate: number): number {
  for (const [kind, r] of AUDIO_KIND_RATES) if (r === rate) return kind;
  throw new PalabreError('bad_request', `AudioSocket has no audio kind for ${rate} Hz; rates: ${[...AUDIO_KIND_RATES.values()].join(', ')}`);
}

export type AudioSocketFrame =
  | { type: 'hangup' }
  | { type: 'uuid'; uuid: string }
  | { type: 'dtmf'; digit: string }
  | { type: 'audio'; kind: number; sampleRate: number; payload: Buffer }
  | { type: 'error'; code: number | undefined };

/** Why the byte stream cannot be read further; the connection ends with this. */
export class FrameError extends PalabreError {
  constructor(
    readonly problem: 'malformed' | 'unknown_kind' | 'oversized' | 'truncated' | 'empty_audio',
    message: string,
  ) {
    super('bad_request', message);
  }
}

const DTMF_DIGITS = /^[0-9*#A-D]$/;

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new PalabreError('bad_request', `"${uuid}" is not a UUID`);
  return Buffer.from(hex, 'hex');
}

/** One frame as a single buffer, so it goes out in one socket write. */
export function encodeFrame(kind: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (payload.length > 0xffff) throw new PalabreError('bad_request', `AudioSocket payload of ${payload.length} bytes exceeds the 65535-byte frame limit`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out[0] = kind;
  out.writeUInt16BE(payload.length, 1);
  out.set(payload, HEADER_BYTES);
  return out;
}

export const HANGUP_FRAME: Buffer = encodeFrame(KIND_HANGUP);

/** An audio frame of `samples` in one buffer, the slin written straight after the header (no intermediate copy). */
export function encodeAudioFrame(kind: number, samples: Int16Array): Buffer {
  const bytes = samples.length * 2;
  if (bytes > 0xffff) throw new PalabreError('bad_request', `AudioSocket payload of ${bytes} bytes exceeds the 65535-byte frame limit`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + bytes);
  out[0] = kind;
  out.writeUInt16BE(bytes, 1);
  encodeSlinLe(samples, out.subarray(HEADER_BYTES));
  return out;
}

function decodeFrame(kind: number, payload: Buffer): AudioSocketFrame {
  const rate = AUDIO_KIND_RATES.get(kind);
  if (rate !== undefined) {
    if (payload.length === 0) throw new FrameError('empty_audio', `audio frame (kind 0x${kind.toString(16)}) with no payload`);
    if (payload.length % 2 !== 0) throw new FrameError('malformed', `audio frame of ${payload.length} bytes: slin takes 2 bytes per sample`);
    return { type: 'audio', kind, sampleRate: rate, payload };
  }
  switch (kind) {
    case KIND_HANGUP:
      return { type: 'hangup' };
    case KIND_UUID:
      if (payload.length !== 16) throw new FrameError('malformed', `UUID frame of ${payload.length} bytes; a UUID takes 16`);
      return { type: 'uuid', uuid: formatUuid(payload) };
    case KIND_DTMF: {
      const digit = payload.length === 1 ? String.fromCharCode(payload[0]) : '';
      if (!DTMF_DIGITS.test(digit)) throw new FrameError('malformed', `DTMF frame must carry one of 0-9 * # A-D but holds ${payload.length} byte(s) ${payload.toString('hex')}`);
      return { type: 'dtmf', digit };
    }
    case KIND_ERROR:
      return { type: 'error', code: payload.length > 0 ? payload[0] : undefined };
    default:
      throw new FrameError('unknown_kind', `unknown AudioSocket frame kind 0x${kind.toString(16).padStart(2, '0')} (length ${payload.length})`);
  }
}

export class FrameParser {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private failed = false;

  /** @param maxPayload largest accepted payload; anything longer is refused before it is buffered. */
  constructor(private readonly maxPayload = 8192) {}

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.bufferedBytes;
  }

  /** Every frame completed by `chunk`; throws FrameError on the first bad one (and on every push after it). */
  push(chunk: Buffer): AudioSocketFrame[] {
    const { frames, error } = this.read(chunk);
    if (error) throw error;
    return frames;
  }

  /** Like push, but the frames read before a bad one are returned along with the error. */
  read(chunk: Buffer): { frames: AudioSocketFrame[]; error?: FrameError } {
    if (this.failed) return { frames: [], error: new FrameError('malformed', 'the AudioSocket stream already failed') };
    if (chunk.length > 0) {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    const data = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered, this.bufferedBytes);
    const frames: AudioSocketFrame[] = [];
    let pos = 0;
    try {
      while (data.length - pos >= HEADER_BYTES) {
        const kind = data[pos];
        const length = data.readUInt16BE(pos + 1);
        if (length > this.maxPayload) {
          throw new FrameError('oversized', `frame kind 0x${kind.toString(16).padStart(2, '0')} announces ${length} bytes, over the ${this.maxPayload}-byte limit`);
        }
        if (data.length - pos < HEADER_BYTES + length) break;
        // A copy, so the caller never aliases a shared socket pool buffer.
        const payload = Buffer.from(data.subarray(pos + HEADER_BYTES, pos + HEADER_BYTES + length));
        pos += HEADER_BYTES + length;
        frames.push(decodeFrame(kind, payload));
      }
    } catch (err) {
      this.failed = true;
      this.buffered = [];
      this.bufferedBytes = 0;
      if (!(err instanceof FrameError)) throw err;
      return { frames, error: err };
    }
    const rest = data.subarray(pos);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return { frames };
  }

  /** At EOF: throws when a frame was cut short. */
  end(): void {
    if (this.failed || this.bufferedBytes === 0) return;
    throw new FrameError('truncated', `connection ended inside a frame: ${this.bufferedBytes} byte(s) of an incomplete frame`);
  }
}
