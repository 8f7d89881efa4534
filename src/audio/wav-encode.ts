/** WAV writer: PCM16 channels in, RIFF/WAVE bytes out in the chosen sample encoding. */
import { PalabreError } from '../errors.js';
import type { AudioChunk } from './frame.js';
import { encodeG711 } from './g711.js';
import { WAVE_FORMAT } from './wav-decode.js';

export type WavOutputEncoding = 'pcm16' | 'mulaw' | 'alaw' | 'float32' | 'pcm24' | 'pcm32' | 'pcm8';

export interface WavEncodeOptions {
  /** Sample encoding in the file; pcm16 by default. */
  encoding?: WavOutputEncoding;
}

export type MultiChannelAudio = { channels: Int16Array[]; sampleRate: number };

interface Layout {
  format: number;
  bits: number;
  /** Non-PCM formats carry cbSize and a fact chunk, as the RIFF spec asks. */
  extended: boolean;
}

const LAYOUT: Record<WavOutputEncoding, Layout> = {
  pcm8: { format: WAVE_FORMAT.pcm, bits: 8, extended: false },
  pcm16: { format: WAVE_FORMAT.pcm, bits: 16, extended: false },
  pcm24: { format: WAVE_FORMAT.pcm, bits: 24, extended: false },
  pcm32: { format: WAVE_FORMAT.pcm, bits: 32, extended: false },
  float32: { format: WAVE_FORMAT.float, bits: 32, extended: true },
  alaw: { format: WAVE_FORMAT.alaw, bits: 8, extended: true },
  mulaw: { format: WAVE_FORMAT.mulaw, bits: 8, extended: true },
};

export const WAV_OUTPUT_ENCODINGS = Object.keys(LAYOUT) as WavOutputEncoding[];

export function checkWavEncoding(encoding: string): WavOutputEncoding {
  if (!(encoding in LAYOUT)) {
    throw new PalabreError('bad_request', `unknown WAV encoding "${encoding}"; use one of ${WAV_OUTPUT_ENCODINGS.join(', ')}`);
  }
  return encoding as WavOutputEncoding;
}

export function bytesPerSample(encoding: WavOutputEncoding): number {
  return LAYOUT[encoding].bits / 8;
}

/**
 * RIFF header up to and including the data chunk's size field. `frames` fills the fact chunk;
 * `dataBytes` the data and RIFF sizes (pass 0xFFFFFFFF for "unknown, read to end of file").
 */
export function wavHeader(encoding: WavOutputEncoding, sampleRate: number, channels: number, dataBytes: number, frames: number): Uint8Array {
  const { format, bits, extended } = LAYOUT[encoding];
  const fmtSize = extended ? 18 : 16;
  const factSize = extended ? 12 : 0;
  const headerBytes = 12 + 8 + fmtSize + factSize + 8;
  const out = new Uint8Array(headerBytes);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  const unknown = dataBytes >= 0xffffffff;
  const padded = dataBytes + (dataBytes & 1);
  ascii(0, 'RIFF');
  v.setUint32(4, unknown ? 0xffffffff : Math.min(0xffffffff, headerBytes - 8 + padded), true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, format, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, (sampleRate * channels * bits) / 8, true);
  v.setUint16(32, (channels * bits) / 8, true);
  v.setUint16(34, bits, true);
  let at = 36;
  if (extended) {
    v.setUint16(at, 0, true);
    at += 2;
    ascii(at, 'fact');
    v.setUint32(at + 4, 4, true);
    v.setUint32(at + 8, unknown ? 0xffffffff : frames, true);
    at += 12;
  }
  ascii(at, 'data');
  v.setUint32(at + 4, unknown ? 0xffffffff : dataBytes, true);
  return out;
}

/** Offsets of the size fields that a streaming writer patches. */
export function headerSizeFields(encoding: WavOutputEncoding): { riff: number; data: number; fact?: number } {
  const extended = LAYOUT[encoding].extended;
  return extended ? { riff: 4, fact: 46, data: 54 } : { riff: 4, data: 40 };
}

/** Interleaves channels and packs them into `encoding` bytes. */
export function packSamples(channels: Int16Array[], encoding: WavOutputEncoding): Uint8Array {
  const k = channels.length;
  const frames = channels[0]?.length ?? 0;
  for (const ch of channels) {
    if (ch.length !== frames) throw new PalabreError('bad_request', `WAV channels must have equal lengths; got ${channels.map((c) => c.length).join(' and ')} samples`);
  }
  let interleaved: Int16Array;
  if (k === 1) interleaved = channels[0];
  else {
    interleaved = new Int16Array(frames * k);
    for (let i = 0; i < frames; i++) for (let c = 0; c < k; c++) interleaved[i * k + c] = channels[c][i];
  }
  if (encoding === 'alaw' || encoding === 'mulaw') return encodeG711(encoding === 'alaw' ? 'alaw' : 'ulaw', interleaved);
  const width = LAYOUT[encoding].bits / 8;
  const out = new Uint8Array(interleaved.length * width);
  const v = new DataView(out.buffer);
  const n = interleaved.length;
  switch (encoding) {
    case 'pcm8':
      for (let i = 0; i < n; i++) out[i] = Math.min(255, Math.round(interleaved[i] / 256) + 128);
      break;
    case 'pcm16':
      for (let i = 0; i < n; i++) v.setInt16(i * 2, interleaved[i], true);
      break;
    case 'pcm24':
      for (let i = 0; i < n; i++) {
        const s = interleaved[i];
        out[i * 3] = 0;
        out[i * 3 + 1] = s & 0xff;
        out[i * 3 + 2] = (s >> 8) & 0xff;
      }
      break;
    case 'pcm32':
      for (let i = 0; i < n; i++) v.setInt32(i * 4, interleaved[i] * 65536, true);
      break;
    case 'float32':
      for (let i = 0; i < n; i++) v.setFloat32(i * 4, interleaved[i] / 32768, true);
      break;
  }
  return out;
}

function channelsOf(audio: AudioChunk | MultiChannelAudio): Int16Array[] {
  if ('channels' in audio) {
    if (audio.channels.length === 0) throw new PalabreError('bad_request', 'cannot write a WAV file with 0 channels');
    return audio.channels;
  }
  return [audio.samples];
}

export function checkWavRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xffffffff / 32) {
    throw new PalabreError('bad_request', `cannot write a WAV file at ${sampleRate} Hz; the rate must be a positive whole number`);
  }
}

/** Builds a complete WAV file in memory. */
export function encodeWav(audio: AudioChunk | MultiChannelAudio, options: WavEncodeOptions = {}): Uint8Array {
  const encoding = checkWavEncoding(options.encoding ?? 'pcm16');
  checkWavRate(audio.sampleRate);
  const channels = channelsOf(audio);
  const body = packSamples(channels, encoding);
  if (body.length > 0xffffffff - 64) throw new PalabreError('payload_too_large', `${body.length} bytes of audio do not fit in a WAV file (4 GiB limit)`);
  const header = wavHeader(encoding, audio.sampleRate, channels.length, body.length, channels[0].length);
  const out = new Uint8Array(header.length + body.length + (body.length & 1));
  out.set(header);
  out.set(body, header.length);
  return out;
}
