/**
 * `/clean-audio`: one chunk of call audio in, the same chunk denoised out, in
 * the encoding it came in. Fail-safe by contract: an engine failure returns
 * the original audio with `fallback: true`; only bad input is an error.
 */
import { decodeG711, encodeG711 } from '../audio/g711.js';
import { decodeSlinLe, encodeSlinLe } from '../audio/slin.js';
import type { Engines } from '../engines/registry.js';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { decodeBase64 } from './input.js';
import { denoiseChunk } from './preprocess.js';

export type CleanEncoding = 'pcm16' | 'mulaw' | 'alaw';

export interface CleanRequest {
  payloadBase64: string;
  sampleRate: number;
  encoding: CleanEncoding;
}

export interface CleanResponse {
  audio_payload: string;
  sample_rate: number;
  encoding: CleanEncoding;
  processing_time_ms: number;
  duration_ms: number;
  denoised: boolean;
  fallback: boolean;
  error?: string;
}

/** Request-level counters (the engine keeps frame-level ones). */
export interface CleanStats {
  processed: number;
  errors: number;
  fallbacks: number;
  totalProcessingMs: number;
}

function decode(bytes: Uint8Array, encoding: CleanEncoding): Int16Array {
  if (encoding === 'pcm16') return decodeSlinLe(bytes);
  return decodeG711(encoding === 'mulaw' ? 'ulaw' : 'alaw', bytes);
}

function encode(samples: Int16Array, encoding: CleanEncoding): Uint8Array {
  if (encoding === 'pcm16') return encodeSlinLe(samples);
  return encodeG711(encoding === 'mulaw' ? 'ulaw' : 'alaw', samples);
}

export function createCleaner(engines: Pick<Engines, 'denoiser' | 'denoiseStats' | 'statuses'>, logger: Logger) {
  const stats: CleanStats = { processed: 0, errors: 0, fallbacks: 0, totalProcessingMs: 0 };

  function clean(req: CleanRequest): CleanResponse {
    const started = performance.now();
    const bytes = decodeBase64(req.payloadBase64, 'audio_payload');
    if ((req.encoding === 'mulaw' || req.encoding === 'alaw') && req.sampleRate !== 8000) {
      throw new PalabreError('bad_request', `${req.encoding} audio is 8000 Hz; got sample_rate ${req.sampleRate}`);
    }
    const samples = decode(bytes, req.encoding);
    const durationMs = (samples.length * 1000) / req.sampleRate;
    let out = samples;
    let fallback = false;
    let error: string | undefined;
    const fallbacksBefore = engines.denoiseStats.fallbacks;
    if (!engines.denoiser) {
      fallback = true;
      error = `no noise suppressor is loaded: ${engines.statuses.find((s) => s.kind === 'denoise')?.reason ?? 'disabled'}`;
    } else {
      try {
        out = denoiseChunk(engines.denoiser, { samples, sampleRate: req.sampleRate }).samples;
        if (engines.denoiseStats.fallbacks > fallbacksBefore) {
          fallback = true;
          error = 'the noise suppressor failed on part of the audio; that part is returned unchanged';
        }
      } catch (err) {
        if (err instanceof PalabreError && (err.code === 'rate_mismatch' || err.code === 'bad_audio' || err.code === 'bad_request')) throw err;
        logger.error({ err }, 'noise suppressor failed; returning the original audio');
        stats.errors++;
        out = samples;
        fallback = true;
        error = `the noise suppressor failed: ${(err as Error).message}`;
      }
    }
    const elapsed = performance.now() - started;
    stats.processed++;
    stats.totalProcessingMs += elapsed;
    if (fallback) stats.fallbacks++;
    return {
      audio_payload: Buffer.from(fallback && out === samples ? bytes : encode(out, req.encoding)).toString('base64'),
      sample_rate: req.sampleRate,
      encoding: req.encoding,
      processing_time_ms: Number(elapsed.toFixed(3)),
      duration_ms: Number(durationMs.toFixed(3)),
      denoised: !fallback,
      fallback,
      ...(error ? { error } : {}),
    };
  }

  return { clean, stats: (): CleanStats => ({ ...stats }) };
}
