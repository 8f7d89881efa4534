/**
 * The Silero v5 ONNX session itself: opened the same way, and run on the same
 * packed buffers, whether it lives on the main thread or in the VAD worker, so
 * both give the same bits.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PalabreError } from '../../errors.js';

type Ort = typeof import('onnxruntime-node');

/** One batch as the model wants it: `input` [B, ctx + window], `state` [2, B, 128]. */
export interface SileroBatchInput {
  sampleRate: number;
  batch: number;
  input: Float32Array;
  state: Float32Array;
}

export interface SileroBatchOutput {
  /** [B] speech probabilities. */
  probabilities: Float32Array;
  /** [2, B, 128] recurrent state after each window. */
  state: Float32Array;
}

/** Runs packed batches; the buffers handed to `run` may be taken over (transferred). */
export interface SileroRunner {
  /**
   * Changes when the engine under the runner died and was replaced. A stream
   * is bound to the epoch it started in: once that engine is gone, its batches
   * fail with the reason, while streams started later use the replacement.
   */
  readonly epoch: number;
  run(batch: SileroBatchInput, epoch: number): Promise<SileroBatchOutput>;
  close(): Promise<void>;
}

export class SileroSession implements SileroRunner {
  /** An in-thread session dies only with the process. */
  readonly epoch = 0;
  private readonly srTensors = new Map<number, Tensor>();

  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {}

  /** Fails with `engine_unavailable` naming what is missing. */
  static async open(modelPath: string): Promise<SileroSession> {
    let ort: Ort;
    try {
      ort = await import('onnxruntime-node');
    } catch (err) {
      throw new PalabreError('engine_unavailable', `Silero VAD needs onnxruntime-node, which failed to load: ${(err as Error).message}`, { cause: err });
    }
    try {
      // One intra-op thread: calls scale by batching and by process count, not by threads fighting over 2 cores.
      const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
      return new SileroSession(ort, session);
    } catch (err) {
      throw new PalabreError('engine_unavailable', `cannot open the Silero VAD model ${modelPath}: ${(err as Error).message}`, { cause: err });
    }
  }

  async run({ sampleRate, batch, input, state }: SileroBatchInput): Promise<SileroBatchOutput> {
    const out = await this.session.run({
      input: new this.ort.Tensor('float32', input, [batch, input.length / batch]),
      state: new this.ort.Tensor('float32', state, [2, batch, 128]),
      sr: this.srTensor(sampleRate),
    });
    return { probabilities: (out.output as Tensor).data as Float32Array, state: (out.stateN as Tensor).data as Float32Array };
  }

  async close(): Promise<void> {
    await this.session.release();
  }

  private srTensor(rate: number): Tensor {
    let t = this.srTensors.get(rate);
    if (!t) {
      t = new this.ort.Tensor('int64', BigInt64Array.from([BigInt(rate)]), []);
      this.srTensors.set(rate, t);
    }
    return t;
  }
}
