/**
 * Turns request bytes into checked pipeline audio: sniffed (never trusting the
 * declared MIME type for files), decoded, refused with a named reason when
 * empty, too short or silent, then resampled to the rate an engine wants.
 */
import { decodeAudio } from '../audio/decode.js';
import { type AudioChunk, durationMs, rmsDbfs } from '../audio/frame.js';
import { type ResamplerFactory, resampleWith } from '../audio/resample.js';
import { decodeSlin } from '../audio/slin.js';
import { PalabreError } from '../errors.js';

export interface InputLimits {
  ffmpegPath: string;
  minAudioMs: number;
  silenceDbfs: number;
}

/**
 * A raw PCM body described by its content type: `audio/L16;rate=N` is
 * big-endian (RFC 2586/3551); `audio/pcm;rate=N` or `audio/x-raw;rate=N`
 * is little-endian, as most clients send it.
 */
export function parseRawPcmType(contentType: string | undefined): { sampleRate: number; endianness: 'le' | 'be' } | null {
  if (!contentType) return null;
  const [type, ...params] = contentType.split(';').map((s) => s.trim());
  const lower = type.toLowerCase();
  if (lower !== 'audio/l16' && lower !== 'audio/pcm' && lower !== 'audio/x-raw') return null;
  const map = new Map(params.map((p) => p.split('=').map((s) => s.trim().toLowerCase()) as [string, string]));
  const rate = Number(map.get('rate'));
  if (!Number.isInteger(rate) || rate < 4000 || rate > 192000) {
    throw new PalabreError('bad_request', `content type ${contentType} needs a rate parameter between 4000 and 192000, e.g. audio/L16;rate=16000`);
  }
  const channels = Number(map.get('channels') ?? '1');
  if (channels !== 1) throw new PalabreError('unsupported_media', `raw PCM must be mono; got channels=${map.get('channels')}`);
  const endianness = map.get('endianness') === 'little' || (lower !== 'audio/l16' && map.get('endianness') !== 'big') ? 'le' : 'be';
  return { sampleRate: rate, endianness };
}

export async function decodeInput(bytes: Uint8Array, options: { contentType?: string; ffmpegPath: string; signal?: AbortSignal }): Promise<AudioChunk> {
  if (bytes.length === 0) throw new PalabreError('bad_audio', 'the audio is empty (0 bytes)');
  const raw = parseRawPcmType(options.contentType);
  if (raw) return { samples: decodeSlin(bytes, raw.endianness), sampleRate: raw.sampleRate };
  return decodeAudio(bytes, { ffmpegPath: options.ffmpegPath, signal: options.signal });
}

export function checkAudible(chunk: AudioChunk, limits: Pick<InputLimits, 'minAudioMs' | 'silenceDbfs'>): void {
  const ms = durationMs(chunk);
  if (chunk.samples.length === 0) throw new PalabreError('bad_audio', 'the audio holds no samples');
  if (ms < limits.minAudioMs) {
    throw new PalabreError('audio_too_short', `the audio lasts ${ms.toFixed(0)} ms; at least ${limits.minAudioMs} ms are needed`);
  }
  const level = rmsDbfs(chunk.samples);
  if (level < limits.silenceDbfs) {
    throw new PalabreError('audio_silent', `the audio is silent (level ${Number.isFinite(level) ? level.toFixed(1) + ' dBFS' : 'digital silence'}, below ${limits.silenceDbfs} dBFS)`);
  }
}

export function toRate(factory: ResamplerFactory, chunk: AudioChunk, rate: number): AudioChunk {
  // Time-aligned one-shot conversion, so word timings refer to the original audio.
  return resampleWith(factory, chunk, rate);
}

/** Strict base64: Buffer.from silently skips garbage, which would turn a bad payload into noise. */
export function decodeBase64(value: string, field: string): Buffer {
  const clean = value.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (clean.length === 0) throw new PalabreError('bad_audio', `${field} is empty`);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) throw new PalabreError('bad_request', `${field} is not valid base64`);
  return Buffer.from(clean, 'base64');
}
