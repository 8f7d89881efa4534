/**
 * RNNoise (0.1, @echogarden/rnnoise-wasm) behind a stream that takes and
 * returns audio at the caller's rate: RNNoise itself only knows 480-sample
 * frames at 48 kHz, so each stream resamples up, frames, denoises, resamples
 * down and delays its output by a fixed amount so that every call returns
 * exactly as many samples as it was given.
 */
import { assertRate, type Frame } from '../../audio/frame.js';
import { loadResampler, type Resampler, type ResamplerFactory } from '../../audio/resample.js';
import { PalabreError } from '../../errors.js';
import { SampleFifo } from './fifo.js';
import type { DenoiseStream, Denoiser } from './types.js';

const RATE = 48_000;
const FRAME = 480;
/** RNNoise's overlap-add hands back frame n-1 while analysing frame n. */
const ENGINE_DELAY_MS = (FRAME * 1000) / RATE;
export const MIN_RATE = 8_000;
export const MAX_RATE = 192_000;

interface RnnoiseModule {
  _rnnoise_create(model: number): number;
  _rnnoise_destroy(state: number): void;
  _rnnoise_process_frame(state: number, out: number, input: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** Re-created when the WASM memory grows: read it after every allocation. */
  HEAPF32: Float32Array;
}

let loading: Promise<RnnoiseModule> | undefined;

function loadModule(): Promise<RnnoiseModule> {
  loading ??= (async () => {
    try {
      const init = (await import('@echogarden/rnnoise-wasm')).default;
      return (await init()) as RnnoiseModule;
    } catch (err) {
      loading = undefined;
      throw new PalabreError('engine_unavailable', `RNNoise: cannot load @echogarden/rnnoise-wasm: ${(err as Error).message}`, { cause: err });
    }
  })();
  return loading;
}

export interface RnnoiseOptions {
  /** Speex quality of the resampling to 48 kHz and back, 0–10 (config `audio.resampleQuality`). Default 5. */
  quality?: number;
}

/**
 * Most samples, in ms, the resample-frame-resample chain can hold back at
 * `rate`: the up-sampler's and down-sampler's filter latency (measured on
 * fresh resamplers, whose alignStart turns latency into missing output) plus
 * up to one RNNoise frame waiting to fill.
 */
function chainShortfallMs(factory: ResamplerFactory, rate: number, quality: number): number {
  if (rate === RATE) return ENGINE_DELAY_MS;
  const probe = new Int16Array(Math.round(rate / 10));
  const up = factory.create(rate, RATE, { quality, alignStart: true });
  const down = factory.create(RATE, rate, { quality, alignStart: true });
  try {
    const upLagMs = ((probe.length * RATE) / rate - up.process(probe).length) * (1000 / RATE);
    const big = new Int16Array(RATE / 10);
    const downLagMs = ((big.length * rate) / RATE - down.process(big).length) * (1000 / rate);
    // One extra output sample each way for rounding of the fractional rate ratio.
    return upLagMs + ENGINE_DELAY_MS + downLagMs + 2000 / rate;
  } finally {
    up.close();
    down.close();
  }
}

class RnnoiseStream implements DenoiseStream {
  private state: number;
  private readonly up: Resampler;
  private readonly down: Resampler;
  private readonly frame = new Float32Array(FRAME);
  private fill = 0;
  private readonly out: SampleFifo;

  constructor(
    private readonly owner: RnnoiseDenoiser,
    readonly sampleRate: number,
    prefill: number,
  ) {
    const { mod, factory, quality } = owner;
    this.up = factory.create(sampleRate, RATE, { quality, alignStart: true });
    this.down = factory.create(RATE, sampleRate, { quality, alignStart: true });
    this.state = mod._rnnoise_create(0);
    if (this.state === 0) {
      this.up.close();
      this.down.close();
      throw new PalabreError('engine_failed', 'RNNoise: rnnoise_create failed (out of WASM memory?)');
    }
    owner.track(this, this.state);
    this.out = new SampleFifo(prefill + Math.round(sampleRate / 10));
    this.out.pushZeros(prefill);
  }

  process(frame: Frame): Frame {
    if (this.state === 0) throw new PalabreError('bad_request', 'RNNoise stream used after close()');
    assertRate(frame, this.sampleRate, 'RNNoise stream');
    const hi = this.up.process(frame.samples);
    const cleaned = new Int16Array(Math.floor((this.fill + hi.length) / FRAME) * FRAME);
    let made = 0;
    const { mod, inPtr, outPtr } = this.owner;
    for (let i = 0; i < hi.length; ) {
      const n = Math.min(FRAME - this.fill, hi.length - i);
      for (let k = 0; k < n; k++) this.frame[this.fill + k] = hi[i + k];
      this.fill += n;
      i += n;
      if (this.fill < FRAME) break;
      this.fill = 0;
      mod.HEAPF32.set(this.frame, inPtr >> 2);
      mod._rnnoise_process_frame(this.state, outPtr, inPtr);
      const res = mod.HEAPF32.subarray(outPtr >> 2, (outPtr >> 2) + FRAME);
      for (let k = 0; k < FRAME; k++) {
        const v = Math.round(res[k]);
        cleaned[made++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
    }
    if (made > 0) this.out.push(this.down.process(cleaned));
    const n = frame.samples.length;
    if (this.out.length < n) {
      // Cannot happen while the prefill covers chainShortfallMs; failing beats a silent misalignment.
      throw new PalabreError('engine_failed', `RNNoise stream ran dry: ${this.out.length} samples ready, ${n} needed at ${this.sampleRate} Hz`);
    }
    return { samples: this.out.pop(n), sampleRate: this.sampleRate };
  }

  close(): void {
    if (this.state === 0) return;
    this.owner.release(this, this.state);
    this.state = 0;
    this.up.close();
    this.down.close();
  }
}

export class RnnoiseDenoiser implements Denoiser {
  readonly name = 'rnnoise';
  /** Streams created and not yet closed (or collected). */
  live = 0;
  /** Scratch frames shared by every stream: process() is synchronous, so no two streams use them at once. */
  readonly inPtr: number;
  readonly outPtr: number;
  private readonly prefillMs: number;
  private readonly registry = new FinalizationRegistry<number>((state) => {
    // A stream dropped without close(): still give its 18 KB of WASM memory back.
    this.mod._rnnoise_destroy(state);
    this.live--;
  });

  constructor(
    readonly mod: RnnoiseModule,
    readonly factory: ResamplerFactory,
    readonly quality: number,
  ) {
    this.inPtr = mod._malloc(FRAME * 4);
    this.outPtr = mod._malloc(FRAME * 4);
    if (!this.inPtr || !this.outPtr) throw new PalabreError('engine_unavailable', 'RNNoise: cannot allocate its frame buffers');
    // The slowest rate needs the longest prefill; one delay for every rate keeps `delayMs` a single number.
    this.prefillMs = Math.ceil(chainShortfallMs(factory, MIN_RATE, quality));
    this.delayMs = this.prefillMs + ENGINE_DELAY_MS;
  }

  readonly delayMs: number;

  /**
   * Address of a fresh small allocation in the RNNoise heap: it climbs while
   * memory leaks and stays put while freed blocks are reused, which makes
   * leaks testable.
   */
  heapMark(): number {
    const p = this.mod._malloc(16);
    this.mod._free(p);
    return p;
  }

  createStream(sampleRate: number): RnnoiseStream {
    if (!Number.isInteger(sampleRate) || sampleRate < MIN_RATE || sampleRate > MAX_RATE) {
      throw new PalabreError('bad_audio', `RNNoise streams take ${MIN_RATE}–${MAX_RATE} Hz audio, not ${sampleRate} Hz`, { details: { sampleRate } });
    }
    const stream = new RnnoiseStream(this, sampleRate, Math.round((this.prefillMs * sampleRate) / 1000));
    this.live++;
    return stream;
  }

  /** @internal */
  track(stream: RnnoiseStream, state: number): void {
    this.registry.register(stream, state, stream);
  }

  /** @internal */
  release(stream: RnnoiseStream, state: number): void {
    this.registry.unregister(stream);
    this.mod._rnnoise_destroy(state);
    this.live--;
  }
}

/** Loads the RNNoise WASM (once per process) and the resampler; fails with `engine_unavailable` naming what is missing. */
export async function createRnnoise(options: RnnoiseOptions = {}): Promise<RnnoiseDenoiser> {
  const quality = options.quality ?? 5;
  if (!Number.isInteger(quality) || quality < 0 || quality > 10) {
    throw new PalabreError('bad_request', `RNNoise resample quality must be a whole number from 0 to 10, got ${quality}`);
  }
  const [mod, factory] = await Promise.all([loadModule(), loadResampler()]);
  return new RnnoiseDenoiser(mod, factory, quality);
}
