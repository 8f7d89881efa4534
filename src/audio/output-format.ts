/** Turns synthesised audio into the bytes an HTTP client asked for. */
import { PalabreError } from '../errors.js';
import type { AudioChunk } from './frame.js';
import { encodeG711 } from './g711.js';
import { loadResampler, resampleWith, type ResamplerFactory } from './resample.js';
import { encodeSlinLe } from './slin.js';
import { encodeWav } from './wav-encode.js';

export type OutputFormat = 'wav' | 'pcm' | 'ulaw' | 'alaw';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['wav', 'pcm', 'ulaw', 'alaw'];

export interface EncodedAudio {
  bytes: Uint8Array;
  contentType: string;
  sampleRate: number;
  durationSec: number;
}

/**
 * Content types: WAV is self-describing; raw PCM is little-endian s16 (`audio/pcm`, as the
 * upload side reads it; `audio/L16` would mean big-endian); G.711 at 8 kHz uses the classic
 * audio/basic and audio/x-alaw-basic, other rates the RTP names with a rate parameter.
 */
function contentTypeOf(format: OutputFormat, rate: number): string {
  switch (format) {
    case 'wav':
      return 'audio/wav';
    case 'pcm':
      return `audio/pcm;rate=${rate};channels=1`;
    case 'ulaw':
      return rate === 8000 ? 'audio/basic' : `audio/PCMU;rate=${rate}`;
    case 'alaw':
      return rate === 8000 ? 'audio/x-alaw-basic' : `audio/PCMA;rate=${rate}`;
  }
}

export async function encodeAudioAs(chunk: AudioChunk, format: OutputFormat, sampleRate: number, factory?: ResamplerFactory): Promise<EncodedAudio> {
  if (!OUTPUT_FORMATS.includes(format)) {
    throw new PalabreError('bad_request', `unknown audio output format "${format}"; use one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1000 || sampleRate > 384_000) {
    throw new PalabreError('bad_request', `output sample rate must be a whole number of Hz between 1000 and 384000, got ${sampleRate}`);
  }
  const audio = chunk.sampleRate === sampleRate ? chunk : resampleWith(factory ?? (await loadResampler()), chunk, sampleRate);
  let bytes: Uint8Array;
  if (format === 'wav') bytes = encodeWav(audio);
  else if (format === 'pcm') bytes = encodeSlinLe(audio.samples);
  else bytes = encodeG711(format, audio.samples);
  return { bytes, contentType: contentTypeOf(format, sampleRate), sampleRate, durationSec: audio.samples.length / sampleRate };
}
