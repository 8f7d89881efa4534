/**
 * The main thread's handle on the Silero VAD worker (silero-worker.ts): sends
 * packed batches with their buffers transferred, matches replies by id, and
 * survives the thread dying: the streams that were using it fail with the
 * reason (their calls end with an error), and a new thread serves the streams
 * started after.
 */
import type { Worker } from 'node:worker_threads';
import { PalabreError } from '../../errors.js';
import { siblingModule, spawnModuleWorker } from '../stt/worker-spawn.js';
import type { FromSileroWorker, SileroWorkerInit, ToSileroWorker } from './silero-protocol.js';
import type { SileroBatchInput, SileroBatchOutput, SileroRunner } from './silero-session.js';

/** After a failed start, batches fail at once with that error for this long instead of each starting a thread. */
const START_RETRY_MS = 1000;

interface Pending {
  resolve(out: SileroBatchOutput): void;
  reject(err: PalabreError): void;
}

class Thread {
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<void>;
  started = false;
  dead?: PalabreError;
  private settle!: { resolve(): void; reject(err: PalabreError): void };

  constructor(readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Awaited by whoever needs the thread; a thread started ahead of need may fail unobserved.
    this.ready.catch(() => undefined);
  }

  markReady(): void {
    this.started = true;
    this.settle.resolve();
    this.idleCheck();
  }

  fail(err: PalabreError): void {
    this.dead = err;
    this.settle.reject(err);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /** A thread with nothing to do must not keep the process alive; one with work in flight must. */
  idleCheck(): void {
    if (this.pending.size === 0) this.worker.unref();
    else this.worker.ref();
  }
}

export class SileroThread implements SileroRunner {
  /** Threads started so far, the first included. */
  starts = 0;
  /** One per thread: a thread that dies takes its epoch with it. */
  epoch = 0;
  private readonly deaths = new Map<number, PalabreError>();
  private current?: Thread;
  private nextId = 1;
  private closed = false;
  private startFailure?: { at: number; error: PalabreError };

  /** The niceness the current thread runs at, once it is ready and could set it. */
  nice: number | undefined;

  private constructor(
    private readonly modelPath: string,
    private readonly wantedNice: number,
  ) {}

  /**
   * Starts the thread and waits until it has the model open; fails with `engine_unavailable`.
   * `nice` > 0 lowers the thread's priority (Linux) below the event loop's.
   */
  static async start(modelPath: string, options: { nice?: number } = {}): Promise<SileroThread> {
    const t = new SileroThread(modelPath, options.nice ?? 0);
    try {
      await t.thread().ready;
    } catch (err) {
      await t.close();
      throw err;
    }
    return t;
  }

  /** The thread running inference now, if any (diagnostics; tests terminate it to stand for a crash). */
  get worker(): Worker | undefined {
    return this.current?.worker;
  }

  async run(batch: SileroBatchInput, epoch: number): Promise<SileroBatchOutput> {
    const death = this.deaths.get(epoch);
    if (death) throw death;
    if (epoch !== this.epoch) throw new PalabreError('engine_failed', `Silero VAD batch for epoch ${epoch} while the worker is at ${this.epoch}`);
    const t = this.thread();
    await t.ready;
    if (t.dead) throw t.dead;
    const id = this.nextId++;
    return new Promise<SileroBatchOutput>((resolve, reject) => {
      const msg: ToSileroWorker = { type: 'run', id, ...batch };
      try {
        t.worker.postMessage(msg, [batch.input.buffer as ArrayBuffer, batch.state.buffer as ArrayBuffer]);
      } catch (err) {
        reject(new PalabreError('engine_failed', `cannot send a batch to the Silero VAD worker thread: ${(err as Error).message}`, { cause: err }));
        return;
      }
      t.pending.set(id, { resolve, reject });
      t.idleCheck();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const t = this.current;
    this.current = undefined;
    if (!t) return;
    t.fail(new PalabreError('engine_failed', 'the Silero VAD was closed while windows were still being analysed'));
    await t.worker.terminate();
  }

  /** The live thread, started if there is none. */
  private thread(): Thread {
    if (this.closed) throw new PalabreError('engine_failed', 'Silero VAD worker used after close()');
    if (this.current) return this.current;
    if (this.startFailure && performance.now() - this.startFailure.at < START_RETRY_MS) throw this.startFailure.error;
    const init: SileroWorkerInit = { modelPath: this.modelPath, nice: this.wantedNice };
    const t = new Thread(spawnModuleWorker(siblingModule(import.meta.url, 'silero-worker'), { workerData: init }));
    this.starts++;
    this.current = t;
    t.worker.on('message', (msg: FromSileroWorker) => this.onMessage(t, msg));
    t.worker.on('error', (err: Error) => this.died(t, `crashed: ${err.message}`));
    t.worker.on('exit', (code: number) => this.died(t, `exited (code ${code})`));
    return t;
  }

  private onMessage(t: Thread, msg: FromSileroWorker): void {
    if (msg.type === 'ready') {
      this.nice = msg.nice;
      t.markReady();
    } else if (msg.type === 'fatal') {
      this.died(t, msg.message, new PalabreError(msg.code, msg.message));
    } else {
      const p = t.pending.get(msg.id);
      if (!p) return;
      t.pending.delete(msg.id);
      t.idleCheck();
      if (msg.type === 'result') p.resolve({ probabilities: msg.probabilities, state: msg.state });
      else p.reject(new PalabreError('engine_failed', `Silero VAD inference failed: ${msg.message}`));
    }
  }

  private died(t: Thread, why: string, error?: PalabreError): void {
    if (t.dead) return;
    const started = t.started;
    const err =
      error ??
      (started
        ? new PalabreError('engine_failed', `the Silero VAD worker thread ${why}; the windows it was analysing are lost`)
        : new PalabreError('engine_unavailable', `the Silero VAD worker thread failed to start: it ${why}`));
    t.fail(err);
    void t.worker.terminate();
    if (this.current !== t) return;
    this.current = undefined;
    this.deaths.set(this.epoch, err);
    this.epoch++;
    if (this.closed) return;
    if (!started) {
      this.startFailure = { at: performance.now(), error: err };
      return;
    }
    // Start the replacement now rather than on the first window of a new call.
    this.thread();
  }
}
