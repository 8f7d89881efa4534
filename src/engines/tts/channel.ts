import { PalabreError } from '../../errors.js';

/**
 * Turns a producer that pushes (a worker's messages, a process's stdout) into an
 * async iterator the consumer pulls from. An abort fails the pending read at once,
 * drops what is buffered and tells the producer to stop; so does the consumer leaving
 * its loop early (return()).
 *
 * The buffer is not bounded: producers here are bounded by the text length limit and
 * run much faster than real time, so holding a whole answer costs at most a few MB.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private finished = false;
  private failure: { error: unknown } | undefined;
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private cancelled = false;

  constructor(
    /** Called once when the consumer no longer wants data (abort or early return). */
    private readonly onCancel: () => void,
    private readonly signal?: AbortSignal,
    private readonly what = 'speech synthesis',
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  push(item: T): void {
    if (this.finished || this.cancelled) return;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.detach();
    const w = this.waiter;
    if (w && this.items.length === 0) {
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = { error };
    this.detach();
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.finished || this.cancelled) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.cancel();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private readonly onAbort = (): void => {
    this.items.length = 0;
    this.fail(new PalabreError('aborted', `${this.what} was cancelled`, { cause: this.signal?.reason }));
    this.cancel();
  };

  private cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.onCancel();
  }

  private detach(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}
