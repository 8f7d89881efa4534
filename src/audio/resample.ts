import { PalabreError } from '../errors.js';
import type { AudioChunk } from './frame.js';
import type { SpeexModule } from './speex-module.js';

export interface ResamplerOptions {
  /** Speex quality, 0 (fastest) to 10 (best); 5 by default. */
  quality?: number;
  /**
   * Drop the filter's start-up delay so output sample 0 lines up with input sample 0, and make
   * flush() end the stream at exactly round(inputSamples · toRate / fromRate) samples.
   * Off by default for streams: then every 20 ms frame in gives one 20 ms frame out (for the
   * usual telephone and wideband rates) at the cost of a constant delay of a few samples,
   * which flush() gives back as a tail.
   */
  alignStart?: boolean;
}

export interface Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** Resamples one chunk of a stream; filter state carries over to the next call. */
  process(input: Int16Array): Int16Array;
  /** Ends the stream: returns what the filter still holds and resets it for a new stream. */
  flush(): Int16Array;
  /** Frees the WASM state; calling anything afterwards is an error. Idempotent. */
  close(): void;
}

export interface ResamplerFactory {
  create(fromRate: number, toRate: number, options?: ResamplerOptions): Resampler;
  /** Resamplers created and not yet closed (or collected). */
  readonly live: number;
  /** Current size of the WASM heap in bytes, to prove close() releases what create() took. */
  heapBytes(): number;
}

const MIN_RATE = 1_000;
const MAX_RATE = 384_000;
const DEFAULT_QUALITY = 5;
/** Input is fed to speex in blocks of this many samples so the scratch buffers stay small whatever the chunk size. */
const BLOCK = 4096;

function checkRate(rate: number, which: string): void {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new PalabreError('bad_audio', `resampler ${which} rate must be a whole number of Hz between ${MIN_RATE} and ${MAX_RATE}, got ${rate}`, {
      details: { [which]: rate },
    });
  }
}

function checkQuality(quality: number): void {
  if (!Number.isInteger(quality) || quality < 0 || quality > 10) {
    throw new PalabreError('bad_request', `resampler quality must be a whole number from 0 to 10, got ${quality}`);
  }
}

class PassThrough implements Resampler {
  private closed = false;
  constructor(readonly fromRate: number, readonly toRate: number) {}
  process(input: Int16Array): Int16Array {
    if (this.closed) throw closedError(this);
    return input.slice();
  }
  flush(): Int16Array {
    if (this.closed) throw closedError(this);
    return new Int16Array(0);
  }
  close(): void {
    this.closed = true;
  }
}

function closedError(r: Resampler): PalabreError {
  return new PalabreError('engine_failed', `resampler ${r.fromRate}→${r.toRate} Hz used after close()`);
}

/** Growable output accumulator, so one process() call returns one array whatever the block count. */
class OutBuffer {
  buf: Int16Array;
  len = 0;
  constructor(capacity: number) {
    this.buf = new Int16Array(Math.max(16, capacity));
  }
  append(src: Int16Array): void {
    if (this.len + src.length > this.buf.length) {
      const next = new Int16Array(Math.max(this.buf.length * 2, this.len + src.length));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(src, this.len);
    this.len += src.length;
  }
  take(): Int16Array {
    return this.len === this.buf.length ? this.buf : this.buf.slice(0, this.len);
  }
}

class SpeexFactory implements ResamplerFactory {
  live = 0;
  private inPtr = 0;
  private inCap = 0;
  private outPtr = 0;
  private outCap = 0;
  /** Two uint32 in/out lengths followed by the init error code. */
  private readonly argsPtr: number;
  private readonly registry = new FinalizationRegistry<number>((state) => {
    // A resampler dropped without close(): still give its memory back.
    this.mod._speex_resampler_destroy(state);
    this.live--;
  });

  constructor(private readonly mod: SpeexModule) {
    this.argsPtr = mod._malloc(12);
  }

  heapBytes(): number {
    return this.mod.HEAPU8.length;
  }

  create(fromRate: number, toRate: number, options: ResamplerOptions = {}): Resampler {
    checkRate(fromRate, 'input');
    checkRate(toRate, 'output');
    const quality = options.quality ?? DEFAULT_QUALITY;
    checkQuality(quality);
    if (fromRate === toRate) return new PassThrough(fromRate, toRate);
    const errPtr = this.argsPtr + 8;
    const state = this.mod._speex_resampler_init(1, fromRate, toRate, quality, errPtr);
    if (state === 0) {
      const code = this.mod.HEAP32[errPtr >> 2];
      throw new PalabreError('bad_audio', `speex cannot resample ${fromRate}→${toRate} Hz: ${this.errorText(code)}`, {
        details: { fromRate, toRate, code },
      });
    }
    const resampler = new SpeexResampler(this, state, fromRate, toRate, options.alignStart ?? false);
    this.registry.register(resampler, state, resampler);
    this.live++;
    return resampler;
  }

  /** @internal */
  destroy(owner: SpeexResampler, state: number): void {
    this.registry.unregister(owner);
    this.mod._speex_resampler_destroy(state);
    this.live--;
  }

  /** @internal */
  skipZeros(state: number): void {
    this.mod._speex_resampler_skip_zeros(state);
  }

  /** @internal */
  reset(state: number, alignStart: boolean): void {
    this.mod._speex_resampler_reset_mem(state);
    if (alignStart) this.mod._speex_resampler_skip_zeros(state);
  }

  /** @internal */
  outputLatency(state: number): number {
    return this.mod._speex_resampler_get_output_latency(state);
  }

  /** @internal Resamples `input` into `out`; returns samples written. */
  run(state: number, input: Int16Array, ratio: number, out: OutBuffer): number {
    const before = out.len;
    for (let start = 0; start < input.length; start += BLOCK) {
      const block = input.subarray(start, Math.min(input.length, start + BLOCK));
      this.ensure(block.length, Math.ceil(block.length * ratio) + 64);
      const mod = this.mod;
      mod.HEAP16.set(block, this.inPtr >> 1);
      let consumed = 0;
      while (consumed < block.length) {
        const u32 = mod.HEAPU32;
        u32[this.argsPtr >> 2] = block.length - consumed;
        u32[(this.argsPtr >> 2) + 1] = this.outCap;
        const code = mod._speex_resampler_process_int(state, 0, this.inPtr + consumed * 2, this.argsPtr, this.outPtr, this.argsPtr + 4);
        if (code !== 0) throw new PalabreError('engine_failed', `speex resampler failed: ${this.errorText(code)}`);
        const used = mod.HEAPU32[this.argsPtr >> 2];
        const made = mod.HEAPU32[(this.argsPtr >> 2) + 1];
        if (made > 0) out.append(mod.HEAP16.subarray(this.outPtr >> 1, (this.outPtr >> 1) + made));
        if (used === 0 && made === 0) throw new PalabreError('engine_failed', 'speex resampler made no progress');
        consumed += used;
      }
    }
    return out.len - before;
  }

  /** @internal One speex call on a short input: the common 20 ms frame case, with a single copy out. */
  runOnce(state: number, input: Int16Array, ratio: number): { out: Int16Array; used: number } {
    this.ensure(input.length, Math.ceil(input.length * ratio) + 64);
    const mod = this.mod;
    mod.HEAP16.set(input, this.inPtr >> 1);
    const u32 = mod.HEAPU32;
    u32[this.argsPtr >> 2] = input.length;
    u32[(this.argsPtr >> 2) + 1] = this.outCap;
    const code = mod._speex_resampler_process_int(state, 0, this.inPtr, this.argsPtr, this.outPtr, this.argsPtr + 4);
    if (code !== 0) throw new PalabreError('engine_failed', `speex resampler failed: ${this.errorText(code)}`);
    const used = mod.HEAPU32[this.argsPtr >> 2];
    const made = mod.HEAPU32[(this.argsPtr >> 2) + 1];
    return { out: mod.HEAP16.slice(this.outPtr >> 1, (this.outPtr >> 1) + made), used };
  }

  private ensure(inSamples: number, outSamples: number): void {
    if (inSamples > this.inCap) {
      if (this.inPtr) this.mod._free(this.inPtr);
      this.inCap = Math.max(inSamples, BLOCK);
      this.inPtr = this.mod._malloc(this.inCap * 2);
    }
    if (outSamples > this.outCap) {
      if (this.outPtr) this.mod._free(this.outPtr);
      this.outCap = outSamples;
      this.outPtr = this.mod._malloc(this.outCap * 2);
    }
    if (!this.inPtr || !this.outPtr) throw new PalabreError('engine_failed', 'speex resampler: WASM memory allocation failed');
  }

  private errorText(code: number): string {
    const ptr = this.mod._speex_resampler_strerror(code);
    const heap = this.mod.HEAPU8;
    let end = ptr;
    while (end < heap.length && heap[end] !== 0) end++;
    return `${Buffer.from(heap.subarray(ptr, end)).toString('latin1')} (code ${code})`;
  }
}

class SpeexResampler implements Resampler {
  private state: number;
  private readonly ratio: number;
  private totalIn = 0;
  private totalOut = 0;
  private readonly latency: number;

  constructor(
    private readonly factory: SpeexFactory,
    state: number,
    readonly fromRate: number,
    readonly toRate: number,
    private readonly alignStart: boolean,
  ) {
    this.state = state;
    this.ratio = toRate / fromRate;
    this.latency = factory.outputLatency(state);
    if (alignStart) factory.skipZeros(state);
  }

  process(input: Int16Array): Int16Array {
    if (this.state === 0) throw closedError(this);
    this.totalIn += input.length;
    let rest = input;
    let first: Int16Array | undefined;
    if (input.length <= BLOCK) {
      const once = this.factory.runOnce(this.state, input, this.ratio);
      this.totalOut += once.out.length;
      // The 20 ms frame case: one array out, and no accumulator allocated for nothing.
      if (once.used === input.length) return once.out;
      first = once.out;
      rest = input.subarray(once.used);
    }
    const out = new OutBuffer(Math.ceil(input.length * this.ratio) + 2);
    if (first) out.append(first);
    this.totalOut += this.factory.run(this.state, rest, this.ratio, out);
    return out.take();
  }

  flush(): Int16Array {
    if (this.state === 0) throw closedError(this);
    // Fixing the stream's total length makes one-shot and chunked runs agree sample for sample.
    const target = Math.round(this.totalIn * this.ratio) + (this.alignStart ? 0 : this.latency);
    const need = target - this.totalOut;
    const out = new OutBuffer(Math.max(need, 0));
    if (need > 0 && this.totalIn > 0) {
      const zeros = new Int16Array(Math.max(64, Math.ceil(need / this.ratio) + 64));
      for (let i = 0; i < 8 && out.len < need; i++) this.factory.run(this.state, zeros, this.ratio, out);
    }
    this.factory.reset(this.state, this.alignStart);
    this.totalIn = 0;
    this.totalOut = 0;
    const tail = out.take();
    return tail.length > need ? tail.slice(0, Math.max(need, 0)) : tail;
  }

  close(): void {
    if (this.state === 0) return;
    this.factory.destroy(this, this.state);
    this.state = 0;
  }
}

let loading: Promise<ResamplerFactory> | undefined;

/** Loads the speex WASM once per process; every later call returns the same factory. */
export function loadResampler(): Promise<ResamplerFactory> {
  loading ??= (async () => {
    let mod: SpeexModule;
    try {
      mod = await (await import('@echogarden/speex-resampler-wasm/simd')).default();
    } catch {
      // Runtimes without WASM SIMD still get the plain build.
      mod = await (await import('@echogarden/speex-resampler-wasm')).default();
    }
    return new SpeexFactory(mod);
  })().catch((err: unknown) => {
    loading = undefined;
    throw new PalabreError('engine_unavailable', `cannot load the speex resampler WASM: ${(err as Error).message}`, { cause: err });
  });
  return loading;
}

/** One-shot resampling of a whole chunk with a factory already loaded; returns the same chunk when rates match. */
export function resampleWith(factory: ResamplerFactory, chunk: AudioChunk, toRate: number, options: { quality?: number } = {}): AudioChunk {
  if (chunk.sampleRate === toRate) return chunk;
  const r = factory.create(chunk.sampleRate, toRate, { quality: options.quality, alignStart: true });
  try {
    const body = r.process(chunk.samples);
    const tail = r.flush();
    if (tail.length === 0) return { samples: body, sampleRate: toRate };
    const samples = new Int16Array(body.length + tail.length);
    samples.set(body);
    samples.set(tail, body.length);
    return { samples, sampleRate: toRate };
  } finally {
    r.close();
  }
}

/** One-shot resampling: output is time-aligned with the input and round(n · toRate / fromRate) samples long. */
export async function resample(chunk: AudioChunk, toRate: number, options: { quality?: number } = {}): Promise<AudioChunk> {
  return resampleWith(await loadResampler(), chunk, toRate, options);
}
