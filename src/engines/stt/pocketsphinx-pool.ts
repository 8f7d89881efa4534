/**
 * A bounded pool of PocketSphinx decoder threads. Each decoder holds about
 * 100 MB of models, so the pool grows on demand up to `size` and requests
 * beyond that wait in a bounded queue with a timeout and an AbortSignal.
 */
import type { Worker } from 'node:worker_threads';
import { PalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PocketSphinxPaths, RawDecode } from './pocketsphinx-ffi.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './pocketsphinx-protocol.js';
import { siblingModule, spawnModuleWorker } from './worker-spawn.js';

export function fromWire(error: WireError): PalabreError {
  return new PalabreError(error.code, error.message, { details: error.details });
}

type Reply = Extract<FromWorker, { type: 'result' | 'started' | 'cancelled' }>;

interface Pending {
  resolve(reply: Reply): void;
  reject(err: PalabreError): void;
}

export interface StreamListener {
  partial(text: string): void;
  error(err: PalabreError): void;
}

/** One decoder thread: request/reply by job id, partial results routed to a listener. */
export class DecoderWorker {
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<number, StreamListener>();
  private readonly cancelCell: Int32Array;
  private deadError?: PalabreError;

  private constructor(
    private readonly worker: Worker,
    cancel: SharedArrayBuffer,
  ) {
    this.cancelCell = new Int32Array(cancel);
  }

  static spawn(paths: PocketSphinxPaths): Promise<DecoderWorker> {
    const cancel = new SharedArrayBuffer(4);
    const init: WorkerInit = { paths, cancel };
    const worker = spawnModuleWorker(siblingModule(import.meta.url, 'pocketsphinx-worker'), { workerData: init });
    const dw = new DecoderWorker(worker, cancel);
    return new Promise((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        if (!settled) {
          settled = true;
          if (msg.type === 'ready') resolve(dw);
          else if (msg.type === 'fatal') {
            reject(fromWire(msg.error));
            void worker.terminate();
          }
          return;
        }
        dw.onMessage(msg);
      });
      worker.on('error', (err) => {
        const e = new PalabreError('engine_failed', `PocketSphinx decoder thread failed: ${err.message}`, { cause: err });
        if (!settled) {
          settled = true;
          reject(e);
        }
        dw.die(e);
      });
      worker.on('exit', (code) => {
        const e = new PalabreError('engine_failed', `PocketSphinx decoder thread exited (code ${code})`);
        if (!settled) {
          settled = true;
          reject(e);
        }
        dw.die(e);
      });
    });
  }

  get alive(): boolean {
    return this.deadError === undefined;
  }

  private die(err: PalabreError): void {
    if (this.deadError) return;
    this.deadError = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const l of this.listeners.values()) l.error(err);
    this.listeners.clear();
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type === 'partial') {
      this.listeners.get(msg.id)?.partial(msg.text);
      return;
    }
    if (msg.type === 'ready' || msg.type === 'fatal') return;
    const p = this.pending.get(msg.id);
    if (!p) {
      // An error with nobody waiting comes from a fire-and-forget push.
      if (msg.type === 'error') this.listeners.get(msg.id)?.error(fromWire(msg.error));
      return;
    }
    this.pending.delete(msg.id);
    if (msg.type === 'error') p.reject(fromWire(msg.error));
    else p.resolve(msg);
  }

  /** Sends a job and waits for its answer. */
  request(msg: Exclude<ToWorker, { type: 'push' }>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.deadError) return Promise.reject(this.deadError);
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      this.worker.postMessage(msg, transfer);
    });
  }

  async decode(msg: Extract<ToWorker, { type: 'decode' }>): Promise<RawDecode> {
    const reply = await this.request(msg, [msg.samples.buffer as ArrayBuffer]);
    if (reply.type !== 'result') throw new PalabreError('engine_failed', `PocketSphinx answered ${reply.type} to a decode`);
    return reply.raw;
  }

  /** Fire and forget: errors come back on the stream's next request. */
  push(id: number, samples: Int16Array): void {
    if (this.deadError) throw this.deadError;
    const msg: ToWorker = { type: 'push', id, samples };
    this.worker.postMessage(msg, [samples.buffer as ArrayBuffer]);
  }

  /** Routes a stream's partial results and asynchronous errors; undefined stops routing. */
  listen(id: number, listener: StreamListener | undefined): void {
    if (listener) this.listeners.set(id, listener);
    else this.listeners.delete(id);
  }

  /** Asks a running decode to stop at its next chunk boundary. */
  cancel(id: number): void {
    Atomics.store(this.cancelCell, 0, id);
  }

  async terminate(): Promise<void> {
    this.die(new PalabreError('engine_unavailable', 'PocketSphinx engine was closed'));
    await this.worker.terminate();
  }
}

export interface PoolOptions {
  size: number;
  maxQueue: number;
  queueTimeoutMs: number;
}

interface Waiter {
  resolve(w: DecoderWorker): void;
  reject(err: unknown): void;
  cleanup(): void;
}

export interface PoolStats {
  size: number;
  started: number;
  busy: number;
  waiting: number;
}

export class DecoderPool {
  private readonly idle: DecoderWorker[] = [];
  private readonly all = new Set<DecoderWorker>();
  private starting = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;

  constructor(
    private readonly spawn: () => Promise<DecoderWorker>,
    private readonly options: PoolOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts the first decoder, so that a broken installation fails at start-up rather than on the first call. */
  async warm(): Promise<void> {
    const w = await this.grow();
    this.idle.push(w);
  }

  stats(): PoolStats {
    return { size: this.options.size, started: this.all.size, busy: this.all.size - this.idle.length, waiting: this.waiters.length };
  }

  private async grow(): Promise<DecoderWorker> {
    this.starting++;
    try {
      const w = await this.spawn();
      if (this.closed) {
        await w.terminate();
        throw new PalabreError('engine_unavailable', 'PocketSphinx engine was closed');
      }
      this.all.add(w);
      return w;
    } finally {
      this.starting--;
    }
  }

  acquire(signal?: AbortSignal): Promise<DecoderWorker> {
    if (this.closed) return Promise.reject(new PalabreError('engine_unavailable', 'PocketSphinx engine was closed'));
    if (signal?.aborted) return Promise.reject(new PalabreError('aborted', 'transcription was cancelled while waiting for a decoder', { cause: signal.reason }));
    for (let w = this.idle.pop(); w; w = this.idle.pop()) {
      if (w.alive) return Promise.resolve(w);
      this.all.delete(w);
    }
    if (this.all.size + this.starting < this.options.size) return this.grow();
    if (this.waiters.length >= this.options.maxQueue) {
      return Promise.reject(
        new PalabreError('engine_unavailable', `PocketSphinx is busy: all ${this.options.size} decoders are in use and ${this.waiters.length} requests are already waiting`),
      );
    }
    return new Promise<DecoderWorker>((resolve, reject) => {
      const onAbort = (): void => {
        this.removeWaiter(waiter);
        reject(new PalabreError('aborted', 'transcription was cancelled while waiting for a decoder', { cause: signal?.reason }));
      };
      const timer = setTimeout(() => {
        this.removeWaiter(waiter);
        reject(new PalabreError('engine_unavailable', `no PocketSphinx decoder became free within ${this.options.queueTimeoutMs} ms`));
      }, this.options.queueTimeoutMs);
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private removeWaiter(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    waiter.cleanup();
  }

  release(w: DecoderWorker): void {
    if (!w.alive) {
      this.all.delete(w);
      void w.terminate();
      // A dead decoder frees its slot: start a replacement for whoever is waiting.
      const waiter = this.waiters.shift();
      if (waiter) {
        waiter.cleanup();
        this.grow().then(waiter.resolve, waiter.reject);
      }
      return;
    }
    if (this.closed) {
      void w.terminate();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.cleanup();
      waiter.resolve(w);
    } else this.idle.push(w);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      waiter.cleanup();
      waiter.reject(new PalabreError('engine_unavailable', 'PocketSphinx engine was closed'));
    }
    this.idle.length = 0;
    const workers = [...this.all];
    this.all.clear();
    await Promise.allSettled(workers.map((w) => w.terminate()));
    this.logger.debug({ decoders: workers.length }, 'pocketsphinx pool closed');
  }
}
