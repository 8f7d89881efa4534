/**
 * A noise suppressor must never cost a call its audio. This wrapper passes the
 * original audio through whenever the engine fails, logs and counts it, and
 * keeps the output on the engine's timeline: the pass-through is delayed by
 * the same `delayMs`, so a consumer that compensates the delay stays aligned
 * whichever path a frame took.
 *
 * Decisions:
 * - After an engine error the inner stream is closed and, after a pause of
 *   `retryAfterFrames` frames, re-created. Keeping the old stream would feed
 *   later frames to state the exception may have left half-updated (its delay
 *   line could be short or long); re-creating gives a known state. The pause
 *   keeps a persistently broken engine from being rebuilt (and logged) 50
 *   times a second. While a fresh stream fills its own delay line, its first
 *   `delayMs` of output (zeros) are replaced by the delayed original.
 * - Caller bugs are not engine faults and are not swallowed: a frame at the
 *   wrong rate throws `rate_mismatch`, use after close() throws, and a rate the
 *   engine refuses at createStream() throws — hiding those would turn a wiring
 *   mistake into a silently unprocessed call.
 */
import { assertRate, type Frame } from '../../audio/frame.js';
import { PalabreError, isPalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { SampleFifo } from './fifo.js';
import type { DenoiseStats, DenoiseStream, Denoiser } from './types.js';

export interface FailsafeOptions {
  logger: Logger;
  /** Counters to add to; several denoisers (or a metrics exporter) may share one. Default: a fresh object. */
  stats?: DenoiseStats;
  /** Frames passed through untouched after an error before the engine is tried again. Default 50 (1 s of 20 ms frames). */
  retryAfterFrames?: number;
}

/** Errors that say the caller asked for something wrong, which no fallback should hide. */
const CALLER_ERRORS: ReadonlySet<string> = new Set(['rate_mismatch', 'bad_audio', 'bad_request']);

export function createDenoiseStats(): DenoiseStats {
  return { processed: 0, errors: 0, fallbacks: 0, totalProcessingMs: 0 };
}

/** What is wrong with an engine's output, or undefined when it is usable. */
function badOutput(out: Frame | undefined, input: Frame): string | undefined {
  if (!out || !(out.samples instanceof Int16Array)) {
    const s = (out as { samples?: ArrayLike<number> } | undefined)?.samples;
    if (s && Array.from(s).some((v) => Number.isNaN(v))) return 'output contains NaN';
    return 'output is not PCM16 (Int16Array) audio';
  }
  if (out.sampleRate !== input.sampleRate) return `output is at ${out.sampleRate} Hz, input at ${input.sampleRate} Hz`;
  if (out.samples.length !== input.samples.length) return `output has ${out.samples.length} samples for ${input.samples.length} in`;
  return undefined;
}

class FailsafeStream implements DenoiseStream {
  private inner: DenoiseStream | undefined;
  private readonly delayLine = new SampleFifo();
  private readonly delay: number;
  /** Frames to pass through before re-creating the inner stream. */
  private cooldown = 0;
  /** Output samples of a freshly created inner stream still covering its own prefill. */
  private warmup = 0;
  private closed = false;

  constructor(
    private readonly owner: FailsafeDenoiser,
    readonly sampleRate: number,
    inner: DenoiseStream | undefined,
  ) {
    this.inner = inner;
    this.cooldown = inner ? 0 : owner.retryAfterFrames;
    this.delay = Math.round((owner.delayMs * sampleRate) / 1000);
    this.delayLine.pushZeros(this.delay);
  }

  process(frame: Frame): Frame {
    if (this.closed) throw new PalabreError('bad_request', `${this.owner.name} denoise stream used after close()`);
    assertRate(frame, this.sampleRate, `${this.owner.name} denoiser`);
    const { stats } = this.owner;
    stats.processed++;
    this.delayLine.push(frame.samples);
    const original = this.delayLine.pop(frame.samples.length);

    if (!this.inner && this.cooldown > 0) {
      this.cooldown--;
      stats.fallbacks++;
      return { samples: original, sampleRate: this.sampleRate };
    }
    const started = performance.now();
    let out: Frame | undefined;
    let failure: unknown;
    try {
      if (!this.inner) {
        this.inner = this.owner.inner.createStream(this.sampleRate);
        this.warmup = this.delay;
      }
      out = this.inner.process(frame);
      const problem = badOutput(out, frame);
      if (problem) failure = new PalabreError('engine_failed', `${this.owner.name} denoiser returned bad audio: ${problem}`);
    } catch (err) {
      failure = err;
    } finally {
      stats.totalProcessingMs += performance.now() - started;
    }
    if (failure !== undefined || !out) return this.fallBack(failure, original);
    if (this.warmup > 0) {
      const n = Math.min(this.warmup, out.samples.length);
      const samples = out.samples.slice();
      samples.set(original.subarray(0, n));
      this.warmup -= n;
      return { samples, sampleRate: this.sampleRate };
    }
    return out;
  }

  close(): void {
    this.closed = true;
    this.dropInner();
  }

  private fallBack(err: unknown, original: Int16Array): Frame {
    const { stats, logger, retryAfterFrames } = this.owner;
    stats.errors++;
    stats.fallbacks++;
    logger.warn(
      { err, code: isPalabreError(err) ? err.code : undefined, engine: this.owner.name, sampleRate: this.sampleRate, errors: stats.errors, retryAfterFrames },
      'denoiser failed on a frame: passing the original audio through',
    );
    this.dropInner();
    this.cooldown = retryAfterFrames;
    return { samples: original, sampleRate: this.sampleRate };
  }

  private dropInner(): void {
    const inner = this.inner;
    this.inner = undefined;
    try {
      inner?.close();
    } catch (err) {
      this.owner.logger.warn({ err, engine: this.owner.name }, 'denoise stream failed to close');
    }
  }
}

export class FailsafeDenoiser implements Denoiser {
  readonly stats: DenoiseStats;
  readonly logger: Logger;
  readonly retryAfterFrames: number;

  constructor(
    readonly inner: Denoiser,
    options: FailsafeOptions,
  ) {
    this.logger = options.logger;
    this.stats = options.stats ?? createDenoiseStats();
    this.retryAfterFrames = Math.max(0, Math.floor(options.retryAfterFrames ?? 50));
  }

  get name(): string {
    return this.inner.name;
  }

  get delayMs(): number {
    return this.inner.delayMs;
  }

  createStream(sampleRate: number): DenoiseStream {
    let inner: DenoiseStream | undefined;
    try {
      inner = this.inner.createStream(sampleRate);
    } catch (err) {
      // A rate the engine refuses is the caller's to fix; anything else is the engine failing.
      if (isPalabreError(err) && CALLER_ERRORS.has(err.code)) throw err;
      this.stats.errors++;
      this.logger.warn({ err, engine: this.name, sampleRate }, 'denoiser could not open a stream: passing audio through until it can');
    }
    return new FailsafeStream(this, sampleRate, inner);
  }
}

export function withFailsafe(inner: Denoiser, options: FailsafeOptions): FailsafeDenoiser {
  return new FailsafeDenoiser(inner, options);
}
