/**
 * WAV reader: RIFF/WAVE with PCM 8/16/24/32-bit, float 32/64, A-law, µ-law and
 * WAVE_FORMAT_EXTENSIBLE, any rate and channel count, down-mixed to mono PCM16.
 * Header faults are reported by name rather than guessed around, except the
 * unknown-length sentinels that streaming writers put in the data size.
 */
import { PalabreError } from '../errors.js';
import { decodeG711 } from './g711.js';
import { decodeSlinLe } from './slin.js';

export type WavEncoding = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64' | 'alaw' | 'mulaw';

export interface DecodedWav {
  sampleRate: number;
  channels: number;
  /** Bits per sample in the file (the container size for WAVE_FORMAT_EXTENSIBLE). */
  bitsPerSample: number;
  encoding: WavEncoding;
  /** Mono PCM16: the channels averaged. */
  samples: Int16Array;
  /** One PCM16 array per channel; for mono files this is `[samples]`. */
  channelData: Int16Array[];
}

export const WAVE_FORMAT = { pcm: 1, float: 3, alaw: 6, mulaw: 7, mpeg: 0x50, mp3: 0x55, extensible: 0xfffe } as const;

/** Data sizes that streaming writers leave when they cannot seek back: ffmpeg 0xFFFFFFFF, sox 0x7FFFF000, some 0. */
export const UNKNOWN_DATA_SIZES: readonly number[] = [0, 0xffffffff, 0x7ffff000];

/** Bytes 2..15 of every KSDATAFORMAT_SUBTYPE_* GUID whose first two bytes are a WAVE format code. */
const SUBTYPE_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

interface Fmt {
  format: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

function bad(message: string, details?: Record<string, unknown>): PalabreError {
  return new PalabreError('bad_audio', message, { details });
}

function fourcc(buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at], buf[at + 1], buf[at + 2], buf[at + 3]);
}

function looksLikeChunkId(buf: Uint8Array, at: number): boolean {
  if (at + 8 > buf.length) return false;
  for (let i = 0; i < 4; i++) {
    const c = buf[at + i];
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function formatName(code: number): string {
  const names: Record<number, string> = { 0x02: 'MS ADPCM', 0x11: 'IMA ADPCM', 0x31: 'GSM 6.10', [WAVE_FORMAT.mpeg]: 'MPEG', [WAVE_FORMAT.mp3]: 'MP3' };
  return names[code] ? `${names[code]} (0x${code.toString(16)})` : `0x${code.toString(16).padStart(4, '0')}`;
}

function parseFmt(buf: Uint8Array, view: DataView, at: number, size: number): Fmt {
  if (size < 16) throw bad(`WAV fmt chunk is ${size} bytes; at least 16 are needed`);
  if (at + 16 > buf.length) throw bad(`WAV fmt chunk is cut off: the file ends ${buf.length - at} bytes into it`);
  let format = view.getUint16(at, true);
  const fmt: Fmt = {
    format,
    channels: view.getUint16(at + 2, true),
    sampleRate: view.getUint32(at + 4, true),
    blockAlign: view.getUint16(at + 12, true),
    bitsPerSample: view.getUint16(at + 14, true),
  };
  if (format === WAVE_FORMAT.extensible) {
    if (size < 40 || at + 40 > buf.length) throw bad(`WAV fmt chunk says WAVE_FORMAT_EXTENSIBLE but is ${Math.min(size, buf.length - at)} bytes, not 40`);
    const validBits = view.getUint16(at + 18, true);
    for (let i = 0; i < SUBTYPE_TAIL.length; i++) {
      if (buf[at + 26 + i] !== SUBTYPE_TAIL[i]) throw bad('WAV_FORMAT_EXTENSIBLE sub-format is not a WAVE format GUID (only PCM, float, A-law and µ-law are read)');
    }
    format = view.getUint16(at + 24, true);
    if (validBits > fmt.bitsPerSample) throw bad(`WAV says ${validBits} valid bits in ${fmt.bitsPerSample}-bit samples`);
    fmt.format = format;
  }
  return fmt;
}

function encodingOf(fmt: Fmt): WavEncoding {
  const { format, bitsPerSample: bits } = fmt;
  if (format === WAVE_FORMAT.pcm) {
    if (bits === 8 || bits === 16 || bits === 24 || bits === 32) return `pcm${bits}` as WavEncoding;
    throw bad(`WAV PCM with ${bits} bits per sample is not supported (8, 16, 24 or 32)`);
  }
  if (format === WAVE_FORMAT.float) {
    if (bits === 32 || bits === 64) return `float${bits}` as WavEncoding;
    throw bad(`WAV float with ${bits} bits per sample is not supported (32 or 64)`);
  }
  if (format === WAVE_FORMAT.alaw || format === WAVE_FORMAT.mulaw) {
    if (bits !== 8) throw bad(`WAV ${format === WAVE_FORMAT.alaw ? 'A-law' : 'µ-law'} must have 8 bits per sample, not ${bits}`);
    return format === WAVE_FORMAT.alaw ? 'alaw' : 'mulaw';
  }
  throw new PalabreError('unsupported_media', `WAV format ${formatName(format)} is not supported; send PCM, float, A-law or µ-law WAV, or the original compressed file`, {
    details: { format },
  });
}

function checkFmt(fmt: Fmt): void {
  if (fmt.channels === 0) throw bad('WAV header says 0 channels');
  if (fmt.sampleRate === 0) throw bad('WAV header says a sample rate of 0 Hz');
  const want = fmt.channels * Math.ceil(fmt.bitsPerSample / 8);
  if (fmt.blockAlign !== want) {
    throw bad(`WAV block align is ${fmt.blockAlign} bytes but ${fmt.channels} channel(s) of ${fmt.bitsPerSample} bits need ${want}`, {
      blockAlign: fmt.blockAlign,
      channels: fmt.channels,
      bitsPerSample: fmt.bitsPerSample,
    });
  }
}

const clamp16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/** Reads sample `i` of a channel as PCM16; wider formats round to nearest, as sox does without dither. */
function channelReader(encoding: WavEncoding, view: DataView): (byteAt: number) => number {
  switch (encoding) {
    case 'pcm8':
      return (p) => (view.getUint8(p) - 128) << 8;
    case 'pcm16':
      return (p) => view.getInt16(p, true);
    case 'pcm24':
      return (p) => clamp16(Math.floor((((view.getUint8(p + 2) << 24) >> 8) | (view.getUint8(p + 1) << 8) | view.getUint8(p)) / 256 + 0.5));
    case 'pcm32':
      return (p) => clamp16(Math.floor(view.getInt32(p, true) / 65536 + 0.5));
    case 'float32':
      return (p) => clamp16(Math.round(view.getFloat32(p, true) * 32768));
    case 'float64':
      return (p) => clamp16(Math.round(view.getFloat64(p, true) * 32768));
    default:
      throw new Error(`no reader for ${encoding}`);
  }
}

function decodeChannels(data: Uint8Array, fmt: Fmt, encoding: WavEncoding): Int16Array[] {
  const { channels, blockAlign } = fmt;
  const frames = Math.floor(data.length / blockAlign);
  const out = Array.from({ length: channels }, () => new Int16Array(frames));
  if (encoding === 'alaw' || encoding === 'mulaw') {
    const law = encoding === 'alaw' ? 'alaw' : 'ulaw';
    if (channels === 1) return [decodeG711(law, data.subarray(0, frames))];
    const decoded = decodeG711(law, data.subarray(0, frames * channels));
    for (let i = 0; i < frames; i++) for (let c = 0; c < channels; c++) out[c][i] = decoded[i * channels + c];
    return out;
  }
  if (encoding === 'pcm16' && channels === 1) {
    // The common case: one copy, whatever the alignment of the input.
    return [decodeSlinLe(data.subarray(0, frames * 2))];
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const read = channelReader(encoding, view);
  const width = blockAlign / channels;
  for (let i = 0, p = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++, p += width) out[c][i] = read(p);
  }
  return out;
}

function mixDown(channelData: Int16Array[]): Int16Array {
  if (channelData.length === 1) return channelData[0];
  const n = channelData[0].length;
  const k = channelData.length;
  const mono = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += channelData[c][i];
    mono[i] = Math.round(sum / k);
  }
  return mono;
}

/** Parses a WAV file held in memory. Throws PalabreError('bad_audio' or 'unsupported_media') naming the fault. */
export function decodeWav(buf: Uint8Array): DecodedWav {
  if (buf.length < 12) throw bad(`WAV file is ${buf.length} bytes; even the RIFF header needs 12`);
  const riff = fourcc(buf, 0);
  if (riff === 'RF64' || riff === 'RIFX') throw new PalabreError('unsupported_media', `${riff} WAV files are not supported; convert to a plain RIFF WAV`);
  if (riff !== 'RIFF') throw bad('not a WAV file: it does not start with "RIFF"');
  if (fourcc(buf, 8) !== 'WAVE') throw bad(`RIFF file of type "${fourcc(buf, 8)}", not "WAVE"`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

  let fmt: Fmt | undefined;
  let data: Uint8Array | undefined;
  let at = 12;
  while (at + 8 <= buf.length && !(fmt && data)) {
    const id = fourcc(buf, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      fmt = parseFmt(buf, view, body, size);
    } else if (id === 'data') {
      const present = buf.length - body;
      if (size <= present && !(size === 0 && present > 0 && !looksLikeChunkId(buf, body))) {
        data = buf.subarray(body, body + size);
      } else if (UNKNOWN_DATA_SIZES.includes(size)) {
        // Written to a pipe: the writer could not go back to fill in the size, so the data runs to the end.
        data = buf.subarray(body);
        break;
      } else {
        throw bad(`WAV header says ${size} bytes of data but only ${present} are present`, { declared: size, present });
      }
    } else if (size > buf.length - body && !(fmt && data)) {
      throw bad(`WAV "${id}" chunk says ${size} bytes but only ${buf.length - body} remain in the file`);
    }
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    at = body + size + (size & 1);
  }
  if (!fmt) throw bad(data ? 'WAV file has a data chunk but no fmt chunk before its end' : 'WAV file has no fmt chunk');
  if (!data) throw bad('WAV file has no data chunk');
  const encoding = encodingOf(fmt);
  checkFmt(fmt);
  const channelData = decodeChannels(data, fmt, encoding);
  return {
    sampleRate: fmt.sampleRate,
    channels: fmt.channels,
    bitsPerSample: fmt.bitsPerSample,
    encoding,
    samples: mixDown(channelData),
    channelData,
  };
}

/** True when the bytes start like a RIFF/WAVE file. */
export function isWav(buf: Uint8Array): boolean {
  return buf.length >= 12 && fourcc(buf, 0) === 'RIFF' && fourcc(buf, 8) === 'WAVE';
}
