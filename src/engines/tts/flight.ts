import { PalabreError, throwIfAborted } from '../../errors.js';

/**
 * One synthesis shared by every request for the same phrase while it runs. The producer
 * appends chunks as they are made; each follower reads them from the start at its own
 * pace, so a request that arrives late still gets the whole phrase, and nobody waits
 * for the end before hearing the beginning. The synthesis is stopped only when every
 * follower has left; one caller's abort does not cut the others off.
 */
export class Flight {
  readonly chunks: Uint8Array[] = [];
  readonly controller = new AbortController();
  done = false;
  failure: { error: unknown } | undefined;
  private followers = 0;
  private readonly waiters = new Set<() => void>();

  /** False once the synthesis was stopped or failed: a new request must start its own. */
  get joinable(): boolean {
    return !this.controller.signal.aborted && !this.failure;
  }

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.notify();
  }

  finish(failure?: unknown): void {
    this.done = true;
    if (failure !== undefined) this.failure = { error: failure };
    this.notify();
  }

  async *follow(signal: AbortSignal | undefined): AsyncGenerator<Uint8Array, void, undefined> {
    this.followers++;
    let next = 0;
    try {
      for (;;) {
        throwIfAborted(signal, 'speech synthesis');
        if (next < this.chunks.length) {
          yield this.chunks[next++];
          continue;
        }
        if (this.failure) throw this.failure.error;
        if (this.done) return;
        await this.changed(signal);
      }
    } finally {
      this.followers--;
      if (this.followers === 0 && !this.done) this.controller.abort(new PalabreError('aborted', 'every listener of this phrase left'));
    }
  }

  private changed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(wake);
        reject(new PalabreError('aborted', 'speech synthesis was cancelled', { cause: signal?.reason }));
      };
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private notify(): void {
    const woken = [...this.waiters];
    this.waiters.clear();
    for (const w of woken) w();
  }
}
