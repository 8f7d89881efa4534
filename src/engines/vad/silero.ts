/**
 * Silero VAD v5 on onnxruntime-node: the shared model, per-call light streams.
 */
import { PIPELINE_RATE, assertRate, type Frame } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { Segmenter, resolveVadOptions } from './segmenter.js';
import { STATE_SIZE, acquireSileroModel, geometryFor, releaseSileroModel, type SileroGeometry, type SileroModel } from './silero-model.js';
import { SileroThread } from './silero-thread.js';
import type { Vad, VadEvent, VadFrameResult, VadOptions, VadStream } from './types.js';

export interface SileroVadOptions {
  /** 16000 (512-sample windows) or 8000 (256-sample windows). Default: the pipeline rate. */
  sampleRate?: number;
  /**
   * Let windows of different streams that arrive in the same event-loop turn
   * share one ORT run (default true). Results are identical either way; false
   * exists to measure what batching saves.
   */
  batch?: boolean;
  /**
   * While other streams are live, how long a window may wait for their windows
   * to join its batch, in ms (default 4). A batch of 40 costs about two thirds
   * per window of a batch of 10; a lone stream never waits. It belongs to the
   * process-wide model, so the last VAD created with it sets it for all.
   */
  batchWaitMs?: number;
  /**
   * Run the ONNX session on a worker thread (default true), so inference does
   * not block the event loop; results are bit-identical to running it here.
   */
  worker?: boolean;
  /** Niceness of the worker thread (Linux; default 0): above 0, the event loop wins the cores when they are contended. */
  workerNice?: number;
}

export interface SileroFrameResult extends VadFrameResult {
  /** Probability of every window completed by this frame, oldest first (often none or one for 20 ms frames). */
  windowProbabilities: number[];
}

const SCALE = 1 / 32768;

class SileroStream implements VadStream {
  private state = new Float32Array(STATE_SIZE);
  private readonly context: Float32Array;
  private readonly pending: Float32Array;
  private fill = 0;
  private windows = 0;
  private lastProbability = 0;
  private readonly segmenter: Segmenter;
  /** Windows of one stream must run in order: each needs the state the previous one left. */
  private tail: Promise<unknown> = Promise.resolve();
  private generation = 0;
  private closed = false;
  /** Set when a window was lost: the recurrent state no longer matches the audio, so the stream stops until reset(). */
  private failure?: unknown;
  private epoch: number;
  private readonly windowMs: number;
  /** Window buffers whose inference is done, reused so that a call does not allocate one every 32 ms. */
  private readonly spare: Float32Array[] = [];

  constructor(
    private readonly owner: SileroVad,
    private readonly model: SileroModel,
    private readonly g: SileroGeometry,
    options: VadOptions,
    private readonly alone: boolean,
  ) {
    this.context = new Float32Array(g.context);
    this.pending = new Float32Array(g.window);
    this.segmenter = new Segmenter(options);
    this.windowMs = (g.window * 1000) / g.sampleRate;
    this.epoch = model.runner.epoch;
    // Only streams that batch are worth waiting for.
    if (!alone) model.streamOpened();
  }

  process(frame: Frame): Promise<SileroFrameResult> {
    if (this.closed || this.owner.closed) {
      return Promise.reject(new PalabreError('bad_request', 'Silero VAD stream used after close()'));
    }
    if (this.failure) return Promise.reject(this.failure);
    try {
      assertRate(frame, this.g.sampleRate, 'Silero VAD');
    } catch (err) {
      return Promise.reject(err);
    }
    // Cut windows now, synchronously, so that frames keep their order even when
    // the caller does not await each process() before the next.
    const inputs = this.cutWindows(frame.samples);
    const generation = this.generation;
    const run = this.tail.then(() => this.runWindows(inputs.windows, inputs.firstIndex, generation));
    this.tail = run.catch(() => undefined);
    return run;
  }

  reset(): void {
    this.generation++;
    // Nothing of the past is kept, so a stream whose engine died may start over on its successor.
    this.failure = undefined;
    this.epoch = this.model.runner.epoch;
    // A fresh array, so that a window still in flight writes into the old one.
    this.state = new Float32Array(STATE_SIZE);
    this.context.fill(0);
    this.fill = 0;
    this.windows = 0;
    this.lastProbability = 0;
    this.segmenter.reset();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    if (!this.alone) this.model.streamClosed();
  }

  private cutWindows(samples: Int16Array): { windows: Float32Array[]; firstIndex: number } {
    const { window, context } = this.g;
    const windows: Float32Array[] = [];
    const firstIndex = this.windows;
    for (let i = 0; i < samples.length; ) {
      const n = Math.min(window - this.fill, samples.length - i);
      for (let k = 0; k < n; k++) this.pending[this.fill + k] = samples[i + k] * SCALE;
      this.fill += n;
      i += n;
      if (this.fill === window) {
        const input = this.spare.pop() ?? new Float32Array(context + window);
        input.set(this.context, 0);
        input.set(this.pending, context);
        this.context.set(this.pending.subarray(window - context));
        windows.push(input);
        this.fill = 0;
        this.windows++;
      }
    }
    return { windows, firstIndex };
  }

  private async runWindows(windows: Float32Array[], firstIndex: number, generation: number): Promise<SileroFrameResult> {
    const events: VadEvent[] = [];
    const probabilities: number[] = [];
    for (let w = 0; w < windows.length; w++) {
      if (generation !== this.generation) break;
      if (this.failure) throw this.failure;
      const state = this.state;
      let p: number;
      try {
        p = await this.model.infer(this.g, windows[w], state, this.epoch, this.alone);
      } catch (err) {
        if (generation === this.generation) this.failure = err;
        throw err;
      }
      // The model copied the window into its batch: the buffer is free again.
      if (this.spare.length < 4) this.spare.push(windows[w]);
      if (generation !== this.generation) break;
      probabilities.push(p);
      this.lastProbability = p;
      for (const e of this.segmenter.push(p, (firstIndex + w) * this.windowMs, this.windowMs)) events.push(e);
    }
    return { probability: this.lastProbability, speaking: this.segmenter.speaking, events, windowProbabilities: probabilities };
  }
}

export class SileroVad implements Vad {
  readonly name = 'silero';
  closed = false;

  constructor(
    readonly sampleRate: number,
    private readonly model: SileroModel,
    private readonly batch: boolean,
  ) {}

  /** ORT runs and windows so far in this process (their ratio is the mean batch size). */
  get stats(): { windows: number; runs: number } {
    return { ...this.model.stats };
  }

  /** The worker thread's handle, when inference runs on one. */
  get thread(): SileroThread | undefined {
    return this.model.runner instanceof SileroThread ? this.model.runner : undefined;
  }

  createStream(options?: Partial<VadOptions>): SileroStream {
    if (this.closed) throw new PalabreError('bad_request', 'Silero VAD used after close()');
    return new SileroStream(this, this.model, geometryFor(this.sampleRate), resolveVadOptions(options), !this.batch);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await releaseSileroModel(this.model);
  }
}

export type { SileroStream };

export async function createSileroVad(options: SileroVadOptions = {}): Promise<SileroVad> {
  const rate = options.sampleRate ?? PIPELINE_RATE;
  geometryFor(rate);
  const model = await acquireSileroModel({ worker: options.worker ?? true, nice: options.workerNice });
  if (options.batchWaitMs !== undefined) model.batchWaitMs = options.batchWaitMs;
  return new SileroVad(rate, model, options.batch ?? true);
}
