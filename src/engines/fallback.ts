/**
 * Fallback chains: a cloud engine first, a local one when it fails (Deepgram
 * then PocketSphinx; ElevenLabs then espeak-ng). A circuit breaker per
 * engine, shared by every call, skips an engine that keeps failing for a
 * cool-down, so that a dead service costs one timeout, not one per call.
 * Cancellation (barge-in, hang-up) is never a failure and never falls back.
 */
import type { AudioChunk, Frame } from '../audio/frame.js';
import type { ResamplerFactory } from '../audio/resample.js';
import { PalabreError } from '../errors.js';
import type { Stt, SttEvent, SttOptions, SttResult, SttStream } from './stt/types.js';
import type { TimedAudioChunk, Tts, TtsOptions, TtsVoice } from './tts/types.js';

export interface BreakerOptions {
  /** Failures in a row that open the breaker. */
  failures: number;
  /** How long an open breaker skips its engine before one call may try it again. */
  cooldownMs: number;
  now?: () => number;
}

/** Closed (use the engine), open (skip it until the cool-down ends), then half-open (one try). */
export class CircuitBreaker {
  private failuresInRow = 0;
  private openUntil = 0;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** False while open; after the cool-down one attempt is let through (and re-opens it if it fails). */
  allows(): boolean {
    return this.now() >= this.openUntil;
  }

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.failuresInRow < this.options.failures) return 'closed';
    return this.allows() ? 'half-open' : 'open';
  }

  succeeded(): void {
    this.failuresInRow = 0;
    this.openUntil = 0;
  }

  failed(): void {
    this.failuresInRow++;
    if (this.failuresInRow >= this.options.failures) this.openUntil = this.now() + this.options.cooldownMs;
  }
}

/** One breaker per engine name, shared across calls. */
export class Breakers {
  private readonly map = new Map<string, CircuitBreaker>();

  constructor(private readonly options: BreakerOptions) {}

  of(engine: string): CircuitBreaker {
    let b = this.map.get(engine);
    if (!b) this.map.set(engine, (b = new CircuitBreaker(this.options)));
    return b;
  }

  states(): Record<string, CircuitBreaker['state']> {
    return Object.fromEntries([...this.map].map(([name, b]) => [name, b.state]));
  }
}

export interface FallbackInfo {
  kind: 'stt' | 'tts';
  from: string;
  to: string;
  reason: string;
}

export interface ChainHooks {
  /** An engine failed (or was skipped, its breaker open) and the next one takes over. */
  onFallback?(info: FallbackInfo): void;
}

/** A retry waits at most this long (a longer Retry-After hands over to the next engine instead). */
const MAX_RETRY_WAIT_MS = 1000;

/**
 * How long to wait before trying the same engine once more, or undefined when
 * that is not safe or not worth it: only for errors the engine marks retryable
 * (429, 5xx, a dropped connection) and only before any result was used.
 */
function retryDelay(err: unknown): number | undefined {
  if (!(err instanceof PalabreError) || err.details?.retryable !== true) return undefined;
  const after = err.details.retryAfterMs;
  const wait = typeof after === 'number' ? after : 250;
  return wait <= MAX_RETRY_WAIT_MS ? wait : undefined;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new PalabreError('aborted', 'cancelled while waiting to retry'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isCancellation(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (err instanceof PalabreError && err.code === 'aborted');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The engines to try, in order: those whose breaker is open go last (still tried when all else failed). */
function order<T extends { name: string }>(chain: readonly T[], breakers: Breakers): T[] {
  const open = chain.filter((e) => !breakers.of(e.name).allows());
  return [...chain.filter((e) => breakers.of(e.name).allows()), ...open];
}

function allFailed(kind: 'speech-to-text' | 'text-to-speech', failures: Array<[string, unknown]>): PalabreError {
  return new PalabreError('engine_failed', `every ${kind} engine failed: ${failures.map(([name, err]) => `${name}: ${messageOf(err)}`).join('; ')}`, {
    details: { engines: failures.map(([name]) => name) },
  });
}

/** Longest caller turn a fallback stream keeps to re-transcribe with the next engine. */
const MAX_KEPT_MS = 120_000;

export class FallbackStt implements Stt {
  readonly name: string;
  readonly sampleRate: number;
  readonly languages: readonly string[];
  readonly streaming: boolean;

  constructor(
    private readonly chain: readonly Stt[],
    private readonly breakers: Breakers,
    private readonly hooks: ChainHooks = {},
  ) {
    if (chain.length === 0) throw new PalabreError('config_invalid', 'a speech-to-text fallback chain needs at least one engine');
    const rates = new Set(chain.map((s) => s.sampleRate));
    if (rates.size > 1) throw new PalabreError('config_invalid', `the engines of a speech-to-text fallback chain must take the same rate; got ${chain.map((s) => `${s.name} ${s.sampleRate} Hz`).join(', ')}`);
    this.name = chain[0].name;
    this.sampleRate = chain[0].sampleRate;
    this.languages = chain[0].languages;
    this.streaming = chain.some((s) => s.streaming && s.stream !== undefined);
  }

  async transcribe(audio: AudioChunk, options: SttOptions = {}): Promise<SttResult> {
    return this.transcribeFrom(order(this.chain, this.breakers), audio, options, []);
  }

  private async transcribeFrom(engines: readonly Stt[], audio: AudioChunk, options: SttOptions, failures: Array<[string, unknown]>): Promise<SttResult> {
    for (let i = 0; i < engines.length; i++) {
      const engine = engines[i];
      const breaker = this.breakers.of(engine.name);
      try {
        let result: SttResult;
        try {
          result = await engine.transcribe(audio, options);
        } catch (err) {
          // A transcription is idempotent: one more try of a rate-limited or briefly failing engine is safe.
          const wait = isCancellation(err, options.signal) ? undefined : retryDelay(err);
          if (wait === undefined) throw err;
          await pause(wait, options.signal);
          result = await engine.transcribe(audio, options);
        }
        breaker.succeeded();
        return result;
      } catch (err) {
        if (isCancellation(err, options.signal)) throw err;
        breaker.failed();
        failures.push([engine.name, err]);
        if (i + 1 < engines.length) this.hooks.onFallback?.({ kind: 'stt', from: engine.name, to: engines[i + 1].name, reason: messageOf(err) });
      }
    }
    throw allFailed('speech-to-text', failures);
  }

  stream(options: SttOptions = {}): SttStream {
    const engines = order(this.chain, this.breakers);
    const first = engines.findIndex((s) => s.streaming && s.stream !== undefined);
    if (first < 0) throw new PalabreError('engine_unavailable', `no engine of the chain ${this.chain.map((s) => s.name).join(' > ')} can stream`);
    return new FallbackStream(engines[first], engines.filter((_, i) => i !== first), options, this.breakers, this.hooks, (rest, audio, failures) => this.transcribeFrom(rest, audio, options, failures));
  }

  async close(): Promise<void> {
    // The chain's engines belong to the registry, which closes them.
  }
}

/**
 * The first streaming engine of the chain, with the turn's audio kept: when
 * the stream fails, the rest of the chain transcribes the kept audio in one go.
 */
class FallbackStream implements SttStream {
  private readonly inner: SttStream | undefined;
  private failure: unknown;
  private readonly kept: Int16Array[] = [];
  private keptSamples = 0;
  private readonly maxKept: number;

  constructor(
    private readonly engine: Stt,
    private readonly rest: readonly Stt[],
    private readonly options: SttOptions,
    private readonly breakers: Breakers,
    private readonly hooks: ChainHooks,
    private readonly retry: (rest: readonly Stt[], audio: AudioChunk, failures: Array<[string, unknown]>) => Promise<SttResult>,
  ) {
    this.maxKept = (engine.sampleRate * MAX_KEPT_MS) / 1000;
    try {
      this.inner = engine.stream!(options);
    } catch (err) {
      this.failure = err;
    }
  }

  push(frame: Frame): void {
    if (this.keptSamples + frame.samples.length <= this.maxKept) {
      this.kept.push(frame.samples.slice());
      this.keptSamples += frame.samples.length;
    }
    if (this.failure !== undefined || !this.inner) return;
    try {
      this.inner.push(frame);
    } catch (err) {
      this.failure = err;
    }
  }

  async *events(): AsyncIterable<SttEvent> {
    if (!this.inner) return;
    try {
      for await (const e of this.inner.events()) {
        // The final comes from finish(), which may have fallen back.
        if (e.type !== 'final') yield e;
      }
    } catch (err) {
      this.failure ??= err;
    }
  }

  async finish(): Promise<SttResult> {
    const breaker = this.breakers.of(this.engine.name);
    if (this.failure === undefined && this.inner) {
      try {
        const result = await this.inner.finish();
        breaker.succeeded();
        return result;
      } catch (err) {
        this.failure = err;
      }
    }
    if (isCancellation(this.failure, this.options.signal)) throw this.failure;
    breaker.failed();
    const failures: Array<[string, unknown]> = [[this.engine.name, this.failure]];
    if (this.rest.length === 0) throw allFailed('speech-to-text', failures);
    this.hooks.onFallback?.({ kind: 'stt', from: this.engine.name, to: this.rest[0].name, reason: messageOf(this.failure) });
    const samples = new Int16Array(this.keptSamples);
    let at = 0;
    for (const k of this.kept) {
      samples.set(k, at);
      at += k.length;
    }
    return this.retry(this.rest, { samples, sampleRate: this.engine.sampleRate }, failures);
  }

  close(): void {
    this.inner?.close();
    this.kept.length = 0;
  }
}

export class FallbackTts implements Tts {
  readonly name: string;
  readonly sampleRate: number;
  readonly languages: readonly string[];

  constructor(
    private readonly chain: readonly Tts[],
    private readonly breakers: Breakers,
    /** Brings a fallback engine's audio to the first engine's rate, which is the chain's. */
    private readonly resampler: ResamplerFactory,
    private readonly hooks: ChainHooks = {},
  ) {
    if (chain.length === 0) throw new PalabreError('config_invalid', 'a text-to-speech fallback chain needs at least one engine');
    // The phrase cache keys on the name: one name per chain, so cached prompts survive a fallback.
    this.name = chain.map((t) => t.name).join('>');
    this.sampleRate = chain[0].sampleRate;
    this.languages = chain[0].languages;
  }

  voices(): readonly TtsVoice[] {
    return this.chain[0].voices();
  }

  /**
   * The first engine that yields audio speaks the whole text. An engine that
   * fails before its first chunk hands over to the next; one that fails after
   * has been heard, and its error stands (half a sentence in two voices would
   * be worse than a clear failure).
   */
  async *synthesize(text: string, options: TtsOptions = {}): AsyncIterable<AudioChunk> {
    const engines = order(this.chain, this.breakers);
    const failures: Array<[string, unknown]> = [];
    for (let i = 0; i < engines.length; i++) {
      const engine = engines[i];
      const breaker = this.breakers.of(engine.name);
      // A voice names one engine's voice; the others speak the language with their own default.
      const opts = engine === this.chain[0] ? options : { ...options, voice: undefined };
      let yielded = false;
      const convert = engine.sampleRate === this.sampleRate ? undefined : this.resampler.create(engine.sampleRate, this.sampleRate);
      // Before any audio, one more try of a rate-limited or briefly failing voice is safe (nothing was heard yet).
      const attempt = async function* (): AsyncGenerator<AudioChunk> {
        try {
          for await (const chunk of engine.synthesize(text, opts)) {
            yielded = true;
            yield chunk;
          }
        } catch (err) {
          const wait = yielded || isCancellation(err, options.signal) ? undefined : retryDelay(err);
          if (wait === undefined) throw err;
          await pause(wait, options.signal);
          yield* engine.synthesize(text, opts);
        }
      };
      try {
        for await (const chunk of attempt()) {
          yielded = true;
          if (!convert) {
            yield chunk;
            continue;
          }
          const samples = convert.process(chunk.samples);
          // Word timings are in ms from the start of the synthesis: a change of rate leaves them as they are.
          const words = (chunk as TimedAudioChunk).words;
          if (samples.length > 0 || words) yield { samples, sampleRate: this.sampleRate, ...(words ? { words } : {}) };
        }
        const tail = convert?.flush();
        if (tail && tail.length > 0) yield { samples: tail, sampleRate: this.sampleRate };
        breaker.succeeded();
        return;
      } catch (err) {
        if (isCancellation(err, options.signal)) throw err;
        breaker.failed();
        if (yielded) throw err;
        failures.push([engine.name, err]);
        if (i + 1 < engines.length) this.hooks.onFallback?.({ kind: 'tts', from: engine.name, to: engines[i + 1].name, reason: messageOf(err) });
      } finally {
        convert?.close();
      }
    }
    throw allFailed('text-to-speech', failures);
  }

  async close(): Promise<void> {
    // The chain's engines belong to the registry, which closes them.
  }
}
