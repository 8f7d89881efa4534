import { Worker, type MessagePort } from 'node:worker_threads';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { Channel } from './channel.js';
import { Limiter } from './limiter.js';

/**
 * Runs a WASM speech engine in a worker thread: its synthesis is synchronous and takes
 * 5–100 ms per sentence, which on the main thread would stall every call's 20 ms pacer.
 * Chunks are posted as the engine produces them, so the caller can start playing before
 * the sentence is done; a shared flag lets the main thread stop a synthesis mid-way,
 * since the worker cannot read messages while the engine runs.
 */

/** What the worker receives: where the engine's module is, and the cancel flag. */
export interface WorkerEnv {
  moduleUrl: string;
  /** Int32Array over a SharedArrayBuffer: slot 0 holds the id of the job to stop. */
  cancel: Int32Array;
}

export type FromWorker<Info, Chunk> =
  | { type: 'ready'; info: Info }
  | { type: 'fatal'; message: string }
  | { type: 'chunk'; id: number; chunk: Chunk }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; message: string; badInput?: boolean };

export interface ToWorker<Job> {
  id: number;
  job: Job;
}

/** Module loading inside the worker, written in the bootstrap source so no transpiler rewrites it. */
export interface WorkerLoader {
  importModule(url: string): Promise<unknown>;
  require(id: string): unknown;
}

/**
 * The worker's entry point. It is sent to the worker as source text, so it must not
 * reference anything outside its own body (imports, module constants), and loads
 * modules only through `loader` (test runners rewrite `import()` in transpiled code).
 */
export type WorkerMain = (port: MessagePort, env: WorkerEnv, loader: WorkerLoader) => void;

export interface WorkerHostOptions {
  /** Requests allowed to wait for the worker; more are refused with engine_unavailable. */
  maxQueue: number;
  /** How long the engine may take to load before it counts as unavailable. */
  startTimeoutMs: number;
}

interface JobState<Chunk> {
  channel: Channel<Chunk>;
  release: () => void;
}

export class WorkerHost<Info, Job, Chunk> {
  private worker: Worker | undefined;
  private starting: Promise<Worker> | undefined;
  private readonly jobs = new Map<number, JobState<Chunk>>();
  private readonly cancel = new Int32Array(new SharedArrayBuffer(4));
  private readonly limiter: Limiter;
  private nextId = 0;
  private closed = false;
  private lastInfo: Info | undefined;
  /** Times the worker was (re)started; a crash shows up as a restart. */
  starts = 0;

  constructor(
    readonly name: string,
    private readonly main: WorkerMain,
    private readonly moduleUrl: string,
    private readonly options: WorkerHostOptions,
  ) {
    this.limiter = new Limiter(1, options.maxQueue, name);
  }

  get info(): Info {
    if (this.lastInfo === undefined) throw new PalabreError('engine_failed', `${this.name} has not started`);
    return this.lastInfo;
  }

  get queued(): number {
    return this.limiter.queued;
  }

  /** Starts the worker and waits until the engine inside reports it is ready. */
  async start(): Promise<Info> {
    await this.ensureWorker();
    return this.info;
  }

  /** Runs one job; chunks are yielded as the worker posts them. */
  async *run(job: Job, signal?: AbortSignal): AsyncGenerator<Chunk, void, undefined> {
    throwIfAborted(signal, `${this.name} synthesis`);
    const release = await this.limiter.acquire(signal);
    let channel: Channel<Chunk>;
    try {
      if (this.closed) throw new PalabreError('engine_unavailable', `${this.name} is closed`);
      const worker = await this.ensureWorker();
      throwIfAborted(signal, `${this.name} synthesis`);
      const id = ++this.nextId;
      channel = new Channel<Chunk>(() => Atomics.store(this.cancel, 0, id), signal, `${this.name} synthesis`);
      this.jobs.set(id, { channel, release });
      worker.ref();
      const msg: ToWorker<Job> = { id, job };
      worker.postMessage(msg);
    } catch (e) {
      release();
      throw e;
    }
    yield* channel;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new PalabreError('engine_unavailable', `${this.name} was closed`);
    this.limiter.rejectAll(err);
    this.failAll(err);
    const w = this.worker ?? (await this.starting?.catch(() => undefined));
    this.worker = undefined;
    await w?.terminate();
  }

  private ensureWorker(): Promise<Worker> {
    if (this.worker) return Promise.resolve(this.worker);
    if (!this.starting) {
      this.starting = this.spawn().finally(() => {
        this.starting = undefined;
      });
    }
    return this.starting;
  }

  private spawn(): Promise<Worker> {
    this.starts++;
    // `__name` covers transpilers that wrap named functions with a helper the worker lacks.
    const source = `'use strict';
var __name = (f) => f;
const { parentPort, workerData } = require('node:worker_threads');
const loader = { importModule: (url) => import(url), require };
(${this.main.toString()})(parentPort, workerData, loader);`;
    const env: WorkerEnv = { moduleUrl: this.moduleUrl, cancel: this.cancel };
    const worker = new Worker(source, { eval: true, workerData: env, stdout: true, stderr: true });
    // The engines print nothing useful; keeping their output off our stdout keeps logs parseable.
    worker.stdout.resume();
    worker.stderr.resume();
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        fail(new PalabreError('engine_unavailable', `${this.name} did not start within ${this.options.startTimeoutMs} ms`));
      }, this.options.startTimeoutMs);
      const fail = (err: PalabreError): void => {
        clearTimeout(timer);
        void worker.terminate();
        reject(err);
      };
      worker.on('message', (msg: FromWorker<Info, Chunk>) => {
        if (msg.type === 'ready') {
          clearTimeout(timer);
          ready = true;
          this.lastInfo = msg.info;
          this.worker = worker;
          worker.unref();
          resolve(worker);
        } else if (msg.type === 'fatal') {
          fail(new PalabreError('engine_unavailable', `${this.name} failed to load: ${msg.message}`));
        } else {
          this.onJobMessage(msg);
        }
      });
      worker.on('error', (err) => {
        if (!ready) fail(new PalabreError('engine_unavailable', `${this.name} failed to load: ${err.message}`, { cause: err }));
        else this.onCrash(worker, err);
      });
      worker.on('exit', (code) => {
        if (!ready) fail(new PalabreError('engine_unavailable', `${this.name} worker exited with code ${code} while loading`));
        else this.onCrash(worker, new Error(`worker exited with code ${code}`));
      });
    });
  }

  private onJobMessage(msg: Exclude<FromWorker<Info, Chunk>, { type: 'ready' } | { type: 'fatal' }>): void {
    const state = this.jobs.get(msg.id);
    if (!state) return;
    if (msg.type === 'chunk') {
      state.channel.push(msg.chunk);
      return;
    }
    this.jobs.delete(msg.id);
    if (msg.type === 'done') state.channel.end();
    else state.channel.fail(new PalabreError(msg.badInput ? 'bad_request' : 'engine_failed', `${this.name}: ${msg.message}`));
    state.release();
    if (this.jobs.size === 0) this.worker?.unref();
  }

  private onCrash(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    if (!this.closed) this.failAll(new PalabreError('engine_failed', `${this.name} stopped unexpectedly: ${err.message}`, { cause: err }));
  }

  private failAll(err: PalabreError): void {
    for (const [id, state] of this.jobs) {
      this.jobs.delete(id);
      state.channel.fail(err);
      state.release();
    }
  }
}
