/**
 * The events of one speech stream for a single reader: pushed as they come,
 * read with `for await`, ended normally or with an error. A reader that
 * falls behind loses the oldest partials first, never a final.
 */
import { PalabreError } from '../../errors.js';
import type { SttEvent } from './types.js';

export class EventQueue {
  private readonly queue: SttEvent[] = [];
  private wake?: () => void;
  private failure?: PalabreError;
  private ended = false;
  private reading = false;

  constructor(private readonly maxQueued = 256) {}

  get done(): boolean {
    return this.ended || this.failure !== undefined;
  }

  push(event: SttEvent): void {
    if (this.ended) return;
    this.queue.push(event);
    if (this.queue.length > this.maxQueued) {
      const i = this.queue.findIndex((e) => e.type === 'partial');
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.wake?.();
  }

  fail(err: PalabreError): void {
    if (this.failure || this.ended) return;
    this.failure = err;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *read(): AsyncIterable<SttEvent> {
    if (this.reading) throw new PalabreError('bad_request', 'events() of a speech stream can be read only once');
    this.reading = true;
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.failure) throw this.failure;
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
