import { PalabreError } from '../../errors.js';

/**
 * Bounded concurrency with a bounded waiting line: a WASM engine runs one synthesis at
 * a time, a process pool a few; requests beyond the line are refused rather than left
 * to pile up, and a waiter whose signal fires leaves the line at once.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: Array<{ grant: () => void; fail: (e: unknown) => void }> = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
    private readonly what: string,
  ) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves with a release function once a slot is free; call it exactly once. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new PalabreError('aborted', `${this.what} was cancelled`, { cause: signal.reason }));
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.maxWaiting) {
      return Promise.reject(
        new PalabreError('engine_unavailable', `${this.what} is busy: ${this.running} running and ${this.waiting.length} waiting (limit ${this.maxWaiting})`, {
          details: { running: this.running, waiting: this.waiting.length },
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
        },
        fail: reject,
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new PalabreError('aborted', `${this.what} was cancelled while waiting for its turn`, { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** Refuses everyone still waiting (engine closing). */
  rejectAll(error: unknown): void {
    for (const w of this.waiting.splice(0)) w.fail(error);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.grant();
      else this.running--;
    };
  }
}
