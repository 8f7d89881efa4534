import { PalabreError } from '../errors.js';

/** Mono PCM16 audio with its sample rate. A frame is 20 ms at the pipeline rate; a chunk is any length. */
export interface AudioChunk {
  readonly samples: Int16Array;
  readonly sampleRate: number;
}
export type Frame = AudioChunk;

/** Every call runs its audio pipeline at this rate, in frames of FRAME_MS. */
export const PIPELINE_RATE = 16_000;
export const FRAME_MS = 20;

/** Rates the resampler, codecs and transports accept. */
export const SUPPORTED_RATES = [8_000, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000] as const;

export function samplesPerFrame(sampleRate: number, ms: number = FRAME_MS): number {
  return Math.round((sampleRate * ms) / 1000);
}

export function durationMs(chunk: AudioChunk): number {
  return (chunk.samples.length * 1000) / chunk.sampleRate;
}

/**
 * A silent rate mismatch is the most common bug in this field: every boundary
 * that assumes a rate calls this and fails loudly, naming where.
 */
export function assertRate(chunk: AudioChunk, expected: number, where: string): void {
  if (chunk.sampleRate !== expected) {
    throw new PalabreError('rate_mismatch', `${where} expects ${expected} Hz audio but got ${chunk.sampleRate} Hz`, {
      details: { expected, got: chunk.sampleRate, where },
    });
  }
}

export function assertFrame(frame: Frame, expectedRate: number, where: string): void {
  assertRate(frame, expectedRate, where);
  const want = samplesPerFrame(expectedRate);
  if (frame.samples.length !== want) {
    throw new PalabreError('bad_audio', `${where} expects ${FRAME_MS} ms frames of ${want} samples but got ${frame.samples.length}`, {
      details: { expected: want, got: frame.samples.length, where },
    });
  }
}

export function silence(sampleRate: number, ms: number = FRAME_MS): Frame {
  return { samples: new Int16Array(samplesPerFrame(sampleRate, ms)), sampleRate };
}

export function concatChunks(chunks: readonly AudioChunk[], sampleRate?: number): AudioChunk {
  const rate = sampleRate ?? chunks[0]?.sampleRate ?? PIPELINE_RATE;
  let total = 0;
  for (const c of chunks) {
    assertRate(c, rate, 'concatChunks');
    total += c.samples.length;
  }
  const out = new Int16Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c.samples, offset);
    offset += c.samples.length;
  }
  return { samples: out, sampleRate: rate };
}

/** Root-mean-square level in dBFS (full scale = 32768); -Infinity for digital silence. */
export function rmsDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  const rms = Math.sqrt(sum / samples.length);
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / 32768);
}
