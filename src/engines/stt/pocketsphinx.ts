/**
 * PocketSphinx English speech-to-text (Debian's libpocketsphinx.so.3 through
 * koffi). Decoding runs in a pool of worker threads, one decoder each, so a
 * long clip never blocks the event loop; per-request grammars (JSGF) and hint
 * lists constrain the search and are removed again after the request.
 *
 * A batch request is decoded as one whole utterance, so the decoder
 * normalises the cepstral mean over the whole clip: a cancel is honoured
 * before decoding starts and the caller is released at once afterwards, but
 * the C search itself runs to its end (bounded by maxAudioSeconds).
 */
import { assertRate, PIPELINE_RATE, type AudioChunk } from '../../audio/frame.js';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { hintWords, parseJsgf } from './jsgf.js';
import type { SearchSpec } from './pocketsphinx-ffi.js';
import { DecoderPool, DecoderWorker, type PoolStats } from './pocketsphinx-pool.js';
import { toSttResult } from './pocketsphinx-result.js';
import { PocketSphinxStream } from './pocketsphinx-stream.js';
import type { Stt, SttOptions, SttResult, SttStream } from './types.js';

export interface PocketSphinxOptions {
  /** Shared library, found by the dynamic loader. Config `engines.stt.pocketsphinx.library`. */
  library: string;
  /** Acoustic model directory. */
  hmm: string;
  /** Pronunciation dictionary. */
  dict: string;
  /** Language model. */
  lm: string;
  /** Decoders (threads) kept at most, about 100 MB each; started on demand, the first at creation. */
  poolSize: number;
  /** Requests allowed to wait for a decoder; more are refused at once with engine_unavailable. */
  maxQueue: number;
  /** Longest wait for a free decoder before engine_unavailable. */
  queueTimeoutMs: number;
  /** Longest audio accepted, batch or stream (payload_too_large beyond). */
  maxAudioSeconds: number;
  /** How often a stream reports a partial hypothesis (when it changed), in ms of audio. */
  partialIntervalMs: number;
  /**
   * Where a stream's final result comes from. 'rescore' (default): a second,
   * whole-utterance pass over the stream's audio, identical to a batch request
   * and far better on telephone audio, at the cost of decoding twice (the
   * final arrives about 0.2 × the utterance length after finish()). 'live':
   * the streaming pass itself, at once.
   */
  streamFinal: 'rescore' | 'live';
  /** A pause this long between words starts a new segment. */
  segmentPauseMs: number;
  /** Where the C library logs; /dev/null keeps stderr clean. */
  logFile: string;
  /** Extra decoder arguments, passed as is (pruning beams, `-maxhmmpf`…). */
  args: readonly string[];
  logger: Logger;
}

export const POCKETSPHINX_DEFAULTS: Omit<PocketSphinxOptions, 'logger'> = {
  library: 'libpocketsphinx.so.3',
  hmm: '/usr/share/pocketsphinx/model/en-us/en-us',
  dict: '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict',
  lm: '/usr/share/pocketsphinx/model/en-us/en-us.lm.bin',
  poolSize: 2,
  maxQueue: 32,
  queueTimeoutMs: 30_000,
  maxAudioSeconds: 600,
  partialIntervalMs: 200,
  streamFinal: 'rescore',
  segmentPauseMs: 500,
  logFile: '/dev/null',
  // Measured on 20 Asterisk prompts: RTF 0.31 → 0.30 at the same 61.8 % WER. A cap of 5000 with -maxwpf 5
  // reached 0.23 there but lost words on spelled addresses ("john at gmail dot com" → "john and male").
  args: ['-maxhmmpf', '10000'],
};

const MAX_HINTS = 1000;

function checkRequest(options: SttOptions): void {
  if (options.language && !/^en(-|$)/i.test(options.language)) {
    throw new PalabreError('bad_request', `pocketsphinx recognises English only (en), not "${options.language}"; configure the sherpa engine with a model for that language`);
  }
  if (options.task === 'translate') throw new PalabreError('bad_request', 'pocketsphinx cannot translate; use task "transcribe"');
}

function searchFor(options: SttOptions): SearchSpec {
  if (options.grammar !== undefined && options.grammar.trim() !== '') {
    const g = parseJsgf(options.grammar);
    return { kind: 'grammar', text: g.text, words: g.words };
  }
  if (options.hints && options.hints.length > 0) {
    if (options.hints.length > MAX_HINTS) throw new PalabreError('bad_request', `at most ${MAX_HINTS} hints are accepted, got ${options.hints.length}`);
    const phrases = options.hints.map(hintWords).filter((p) => p.length > 0);
    if (phrases.length > 0) return { kind: 'hints', phrases };
  }
  return { kind: 'lm' };
}

/** Rejects as soon as the signal fires (calling onAbort), otherwise settles with the job. */
function raceAbort<T>(job: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return job;
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort();
      reject(new PalabreError('aborted', 'transcription was cancelled', { cause: signal.reason }));
    };
    signal.addEventListener('abort', abort, { once: true });
    job.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

export class PocketSphinxStt implements Stt {
  readonly name = 'pocketsphinx';
  readonly sampleRate = PIPELINE_RATE;
  readonly languages = ['en'] as const;
  readonly streaming = true;
  private nextId = 1;

  constructor(
    private readonly pool: DecoderPool,
    readonly options: PocketSphinxOptions,
  ) {}

  stats(): PoolStats {
    return this.pool.stats();
  }

  private warnSkipped(skipped: string[]): void {
    if (skipped.length > 0) {
      this.options.logger.warn({ skipped }, 'pocketsphinx ignored hint phrases with words missing from its dictionary');
    }
  }

  private checkLength(samples: number): void {
    if (samples > this.options.maxAudioSeconds * PIPELINE_RATE) {
      throw new PalabreError('payload_too_large', `audio is ${(samples / PIPELINE_RATE).toFixed(1)} s long; pocketsphinx accepts at most ${this.options.maxAudioSeconds} s`);
    }
  }

  async transcribe(audio: AudioChunk, options: SttOptions = {}): Promise<SttResult> {
    assertRate(audio, this.sampleRate, 'PocketSphinx');
    checkRequest(options);
    const search = searchFor(options);
    this.checkLength(audio.samples.length);
    throwIfAborted(options.signal, 'transcription');
    const worker = await this.pool.acquire(options.signal);
    const id = this.nextId++;
    // The copy is handed over (transferred) to the decoder thread; the caller keeps its own samples.
    const job = worker.decode({ type: 'decode', id, samples: audio.samples.slice(), search });
    job.then(
      () => this.pool.release(worker),
      () => this.pool.release(worker),
    );
    const raw = await raceAbort(job, options.signal, () => worker.cancel(id));
    this.warnSkipped(raw.skipped);
    return toSttResult(raw, audio.samples.length / PIPELINE_RATE, { segmentPause: this.options.segmentPauseMs / 1000 });
  }

  stream(options: SttOptions = {}): SttStream {
    checkRequest(options);
    const search = searchFor(options);
    throwIfAborted(options.signal, 'speech stream');
    return new PocketSphinxStream(this.pool, this.nextId++, search, {
      partialEverySamples: Math.max(1, Math.round((this.options.partialIntervalMs * PIPELINE_RATE) / 1000)),
      maxBufferedSamples: Math.min(30, this.options.maxAudioSeconds) * PIPELINE_RATE,
      maxSamples: this.options.maxAudioSeconds * PIPELINE_RATE,
      segmentPause: this.options.segmentPauseMs / 1000,
      rescore: this.options.streamFinal === 'rescore',
      signal: options.signal,
      onSkipped: (skipped) => this.warnSkipped(skipped),
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Loads the library and the first decoder; fails with engine_unavailable naming what is missing. */
export async function createPocketSphinx(options: Partial<PocketSphinxOptions> = {}): Promise<PocketSphinxStt> {
  const opts: PocketSphinxOptions = { ...POCKETSPHINX_DEFAULTS, logger: silentLogger, ...options };
  if (!Number.isInteger(opts.poolSize) || opts.poolSize < 1) throw new PalabreError('config_invalid', `pocketsphinx poolSize must be a whole number ≥ 1, got ${opts.poolSize}`);
  const paths = { library: opts.library, hmm: opts.hmm, dict: opts.dict, lm: opts.lm, logFile: opts.logFile, args: opts.args };
  const logger = opts.logger.child({ engine: 'pocketsphinx' });
  const pool = new DecoderPool(() => DecoderWorker.spawn(paths), { size: opts.poolSize, maxQueue: opts.maxQueue, queueTimeoutMs: opts.queueTimeoutMs }, logger);
  try {
    await pool.warm();
  } catch (err) {
    await pool.close();
    throw err;
  }
  return new PocketSphinxStt(pool, { ...opts, logger });
}
