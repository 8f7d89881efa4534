/**
 * The one write queue of the store, shared by every call. Callers only push
 * (O(1), never waits); a single loop takes up to `batchMax` writes every
 * `batchMs` (at once when a batch is full) and writes them in one
 * transaction. The queue is bounded: when the database is slow or down the
 * writes beyond `queueMax` are dropped. A batch the database cannot take
 * (connection refused, lost, timed out) is retried with backoff a bounded
 * number of times, then dropped; a batch it refuses (a bad value) is retried
 * write by write so only the bad ones are lost. Every loss is counted and
 * logged, once per burst.
 */
import type { Logger } from '../log.js';
import type { WriterStats } from './types.js';

export interface QueueOptions {
  queueMax: number;
  batchMs: number;
  batchMax: number;
  /** Attempts after the first for a batch that failed for want of a database. */
  retries: number;
  /** First wait before a retry; doubles each time up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = { queueMax: 20_000, batchMs: 200, batchMax: 500, retries: 5, backoffMs: 100, maxBackoffMs: 2000 };

export type DropReason = 'overflow' | 'failed' | 'rejected' | 'closed';

export interface QueueHooks<T> {
  /** Writes a batch in one transaction; throws to fail it whole. */
  write(batch: T[]): Promise<void>;
  /** After a batch committed (for per-item latency and per-table counts). */
  written?(batch: T[], ms: number): void;
  /** Items given up, whether refused at push (overflow, closed) or after being queued (failed, rejected). */
  dropped?(items: T[], reason: DropReason): void;
  depth?(n: number): void;
  /** Time from push to commit of each written item, ms (the store benchmark's write latency). */
  latency?(ms: number): void;
}

/** True for failures where the same batch may succeed later (no database, connection lost, overload, deadlock). */
export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return /^(08|53|57|58)/.test(code) || code === '40001' || code === '40P01';
}

interface Entry<T> {
  item: T;
  at: number;
}

export class WriteQueue<T> {
  private readonly items: Array<Entry<T>> = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  /** close() was called: a failing database gets no more retries, so shutdown is not held up. */
  private closing = false;
  private enqueued = 0;
  private settled = 0;
  private waiters: Array<{ target: number; resolve: () => void }> = [];
  private burst: { reason: DropReason; count: number } | undefined;
  private readonly counters: WriterStats = { queued: 0, maxQueued: 0, written: 0, dropped: 0, failedBatches: 0, lastBatchMs: 0 };

  constructor(
    private readonly options: QueueOptions,
    private readonly hooks: QueueHooks<T>,
    private readonly logger: Logger,
  ) {}

  /** Queues a write; false when it was dropped at once (queue full, store closed). */
  push(item: T): boolean {
    if (this.closed) {
      this.drop([item], 'closed', 'the store is closed');
      return false;
    }
    if (this.items.length + this.inFlight >= this.options.queueMax) {
      this.drop([item], 'overflow', `the write queue is full (${this.options.queueMax})`);
      return false;
    }
    this.items.push({ item, at: performance.now() });
    this.enqueued++;
    const depth = this.items.length + this.inFlight;
    if (depth > this.counters.maxQueued) this.counters.maxQueued = depth;
    this.hooks.depth?.(depth);
    this.schedule();
    return true;
  }

  stats(): WriterStats {
    return { ...this.counters, queued: this.items.length + this.inFlight };
  }

  /** Resolves once everything pushed before the call is written or dropped. */
  flush(): Promise<void> {
    const target = this.enqueued;
    if (this.settled >= target) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ target, resolve });
      if (!this.running) this.startNow();
    });
  }

  /** Writes what is queued (without retries: a database that fails now loses the rest, counted), then refuses new writes. */
  async close(): Promise<void> {
    this.closing = true;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.endBurst();
  }

  private schedule(): void {
    if (this.running) return;
    if (this.items.length >= this.options.batchMax) this.startNow();
    else this.timer ??= setTimeout(() => void this.run(), this.options.batchMs);
  }

  private startNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.running) return;
    this.running = true;
    try {
      // Keep going while full batches wait, or while someone waits on flush().
      while (this.items.length > 0) {
        const batch = this.items.splice(0, this.options.batchMax);
        this.inFlight = batch.length;
        await this.writeBatch(batch);
        this.inFlight = 0;
        this.settle(batch.length);
        this.hooks.depth?.(this.items.length);
        if (this.items.length < this.options.batchMax && this.waiters.length === 0) break;
      }
    } finally {
      this.inFlight = 0;
      this.running = false;
    }
    if (this.items.length > 0) this.schedule();
  }

  private settle(n: number): void {
    this.settled += n;
    if (this.waiters.length === 0) return;
    const done = this.waiters.filter((w) => this.settled >= w.target);
    this.waiters = this.waiters.filter((w) => this.settled < w.target);
    for (const w of done) w.resolve();
  }

  private async writeBatch(batch: Array<Entry<T>>): Promise<void> {
    const items = batch.map((e) => e.item);
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        await this.hooks.write(items);
        this.committed(batch, started);
        return;
      } catch (err) {
        this.counters.failedBatches++;
        if (!isTransient(err)) return this.oneByOne(batch, err);
        if (attempt >= this.options.retries || this.closing) return this.drop(items, 'failed', `the database kept failing: ${(err as Error).message}`);
        const wait = Math.min(this.options.backoffMs * 2 ** attempt, this.options.maxBackoffMs);
        if (attempt === 0) this.logger.warn({ err: (err as Error).message, batch: items.length, retryInMs: wait }, 'a store write failed; retrying');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** The database refused the batch (a value it cannot take): find the bad writes, keep the rest. */
  private async oneByOne(batch: Array<Entry<T>>, batchErr: unknown): Promise<void> {
    this.logger.warn({ err: (batchErr as Error).message, batch: batch.length }, 'the database refused a batch of store writes; writing them one by one');
    for (const entry of batch) {
      const started = performance.now();
      try {
        await this.hooks.write([entry.item]);
        this.committed([entry], started);
      } catch (err) {
        this.drop([entry.item], isTransient(err) ? 'failed' : 'rejected', (err as Error).message);
      }
    }
  }

  private committed(batch: Array<Entry<T>>, started: number): void {
    const ms = performance.now() - started;
    this.counters.written += batch.length;
    this.counters.lastBatchMs = ms;
    this.hooks.written?.(
      batch.map((e) => e.item),
      ms,
    );
    if (this.hooks.latency) {
      const now = performance.now();
      for (const e of batch) this.hooks.latency(now - e.at);
    }
    this.endBurst();
  }

  private drop(items: T[], reason: DropReason, why: string): void {
    this.counters.dropped += items.length;
    this.hooks.dropped?.(items, reason);
    if (this.burst && this.burst.reason === reason) {
      this.burst.count += items.length;
      return;
    }
    this.endBurst();
    this.burst = { reason, count: items.length };
    this.logger.error({ reason, dropped: this.counters.dropped }, `store writes dropped: ${why}`);
  }

  private endBurst(): void {
    if (!this.burst) return;
    this.logger.error({ reason: this.burst.reason, count: this.burst.count, droppedTotal: this.counters.dropped }, `${this.burst.count} store writes were dropped (${this.burst.reason})`);
    this.burst = undefined;
  }
}
