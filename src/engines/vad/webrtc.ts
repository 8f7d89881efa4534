/**
 * WebRTC VAD (libfvad compiled to WASM): 1–2 µs a frame and under 1 KB a
 * call, but it calls almost everything speech once there is background noise.
 */
import { PIPELINE_RATE, assertRate, type Frame } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { Segmenter, resolveVadOptions } from './segmenter.js';
import type { Vad, VadEvent, VadFrameResult, VadOptions, VadStream } from './types.js';

export const WEBRTC_RATES = [8_000, 16_000, 32_000, 48_000] as const;
export const WEBRTC_FRAME_MS = [10, 20, 30] as const;

export interface WebrtcVadOptions {
  /** Aggressiveness, 0 (calls more things speech) to 3 (fewest false alarms). Default 3. */
  mode?: number;
  /** 8000, 16000, 32000 or 48000. Default: the pipeline rate. */
  sampleRate?: number;
  /** Analysis frame, 10, 20 or 30 ms; input of any length is buffered into these. Default 20. */
  frameMs?: number;
}

interface FvadModule {
  _fvad_new(): number;
  _fvad_free(inst: number): void;
  _fvad_reset(inst: number): void;
  _fvad_set_mode(inst: number, mode: number): number;
  _fvad_set_sample_rate(inst: number, rate: number): number;
  _fvad_process(inst: number, frame: number, length: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** Re-created when the WASM memory grows: read it after every allocation. */
  HEAP16: Int16Array;
  HEAPU8: Uint8Array;
}

let loading: Promise<FvadModule> | undefined;

function loadFvad(): Promise<FvadModule> {
  loading ??= (async () => {
    try {
      const init = (await import('@echogarden/fvad-wasm')).default;
      return (await init()) as FvadModule;
    } catch (err) {
      loading = undefined;
      throw new PalabreError('engine_unavailable', `WebRTC VAD: cannot load @echogarden/fvad-wasm: ${(err as Error).message}`, { cause: err });
    }
  })();
  return loading;
}

class WebrtcStream implements VadStream {
  private inst: number;
  private buf: number;
  private readonly frame: Int16Array;
  private fill = 0;
  private frames = 0;
  private lastProbability = 0;
  private readonly segmenter: Segmenter;

  constructor(
    private readonly owner: WebrtcVad,
    private readonly mod: FvadModule,
    options: VadOptions,
  ) {
    this.segmenter = new Segmenter(options);
    this.frame = new Int16Array((owner.sampleRate * owner.frameMs) / 1000);
    this.inst = mod._fvad_new();
    if (this.inst === 0) throw new PalabreError('engine_failed', 'WebRTC VAD: fvad_new failed (out of WASM memory?)');
    this.buf = mod._malloc(this.frame.length * 2);
    owner.track(this, this.inst, this.buf);
    if (mod._fvad_set_mode(this.inst, owner.mode) !== 0 || mod._fvad_set_sample_rate(this.inst, owner.sampleRate) !== 0 || this.buf === 0) {
      this.close();
      throw new PalabreError('engine_failed', `WebRTC VAD: cannot set mode ${owner.mode} at ${owner.sampleRate} Hz`);
    }
  }

  async process(frame: Frame): Promise<VadFrameResult> {
    return this.processSync(frame);
  }

  /** The engine is synchronous; this spares callers that can use it a promise per frame. */
  processSync(frame: Frame): VadFrameResult {
    if (this.inst === 0 || this.owner.closed) throw new PalabreError('bad_request', 'WebRTC VAD stream used after close()');
    assertRate(frame, this.owner.sampleRate, 'WebRTC VAD');
    const events: VadEvent[] = [];
    const samples = frame.samples;
    const size = this.frame.length;
    const frameMs = this.owner.frameMs;
    for (let i = 0; i < samples.length; ) {
      const n = Math.min(size - this.fill, samples.length - i);
      this.frame.set(samples.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill < size) break;
      this.fill = 0;
      this.mod.HEAP16.set(this.frame, this.buf >> 1);
      const r = this.mod._fvad_process(this.inst, this.buf, size);
      if (r < 0) throw new PalabreError('engine_failed', `WebRTC VAD rejected a ${size}-sample frame at ${this.owner.sampleRate} Hz`);
      this.lastProbability = r;
      for (const e of this.segmenter.push(r, this.frames * frameMs, frameMs)) events.push(e);
      this.frames++;
    }
    return { probability: this.lastProbability, speaking: this.segmenter.speaking, events };
  }

  reset(): void {
    if (this.inst !== 0) this.mod._fvad_reset(this.inst);
    // fvad_reset also forgets mode and rate.
    if (this.inst !== 0) {
      this.mod._fvad_set_mode(this.inst, this.owner.mode);
      this.mod._fvad_set_sample_rate(this.inst, this.owner.sampleRate);
    }
    this.fill = 0;
    this.frames = 0;
    this.lastProbability = 0;
    this.segmenter.reset();
  }

  close(): void {
    if (this.inst === 0) return;
    this.owner.untrack(this);
    if (this.buf !== 0) this.mod._free(this.buf);
    this.mod._fvad_free(this.inst);
    this.buf = 0;
    this.inst = 0;
  }
}

export class WebrtcVad implements Vad {
  readonly name = 'webrtc';
  closed = false;
  private readonly registry = new FinalizationRegistry<{ inst: number; buf: number }>(({ inst, buf }) => {
    // A stream dropped without close(): still give its WASM memory back.
    if (buf !== 0) this.mod._free(buf);
    this.mod._fvad_free(inst);
  });

  constructor(
    private readonly mod: FvadModule,
    readonly sampleRate: number,
    readonly mode: number,
    readonly frameMs: number,
  ) {}

  createStream(options?: Partial<VadOptions>): WebrtcStream {
    if (this.closed) throw new PalabreError('bad_request', 'WebRTC VAD used after close()');
    return new WebrtcStream(this, this.mod, resolveVadOptions(options));
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Address of a fresh small allocation: it climbs while memory leaks and
   * stays put while freed blocks are reused, which makes leaks testable.
   */
  heapMark(): number {
    const p = this.mod._malloc(16);
    this.mod._free(p);
    return p;
  }

  /** @internal */
  track(stream: WebrtcStream, inst: number, buf: number): void {
    this.registry.register(stream, { inst, buf }, stream);
  }

  /** @internal */
  untrack(stream: WebrtcStream): void {
    this.registry.unregister(stream);
  }
}

export type { WebrtcStream };

export async function createWebrtcVad(options: WebrtcVadOptions = {}): Promise<WebrtcVad> {
  const mode = options.mode ?? 3;
  const rate = options.sampleRate ?? PIPELINE_RATE;
  const frameMs = options.frameMs ?? 20;
  if (!Number.isInteger(mode) || mode < 0 || mode > 3) throw new PalabreError('bad_request', `WebRTC VAD mode must be 0, 1, 2 or 3, got ${mode}`);
  if (!(WEBRTC_RATES as readonly number[]).includes(rate)) {
    throw new PalabreError('bad_request', `WebRTC VAD runs at ${WEBRTC_RATES.join(', ')} Hz, not ${rate} Hz; resample first`);
  }
  if (!(WEBRTC_FRAME_MS as readonly number[]).includes(frameMs)) {
    throw new PalabreError('bad_request', `WebRTC VAD frames are 10, 20 or 30 ms, not ${frameMs} ms`);
  }
  return new WebrtcVad(await loadFvad(), rate, mode, frameMs);
}
