/**
 * Streaming recognition on one pooled PocketSphinx decoder: frames go to the
 * decoder thread as they arrive, partial hypotheses come back while the
 * caller speaks, and finish() ends the utterance with the same result a batch
 * call on the same audio gives.
 */
import { assertRate, PIPELINE_RATE, type Frame } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { EventQueue } from './event-queue.js';
import type { SearchSpec } from './pocketsphinx-ffi.js';
import type { DecoderPool, DecoderWorker } from './pocketsphinx-pool.js';
import { cleanHypothesis, toSttResult } from './pocketsphinx-result.js';
import type { SttEvent, SttResult, SttStream } from './types.js';

export interface StreamSettings {
  partialEverySamples: number;
  /** Audio held while waiting for a free decoder; more fails the stream. */
  maxBufferedSamples: number;
  /** Longest stream accepted. */
  maxSamples: number;
  segmentPause: number;
  /** Final from a whole-utterance pass over the stream's audio (same as batch) rather than the live pass. */
  rescore: boolean;
  signal?: AbortSignal;
  onSkipped?: (skipped: string[]) => void;
}

/** Partials a consumer that never reads can pile up before the oldest are dropped. */
const MAX_QUEUED_EVENTS = 256;

type State = 'starting' | 'running' | 'finishing' | 'done' | 'closed';

export class PocketSphinxStream implements SttStream {
  private state: State = 'starting';
  private worker?: DecoderWorker;
  private released = false;
  private buffered: Int16Array[] = [];
  private bufferedSamples = 0;
  private received = 0;
  private readonly queue = new EventQueue(MAX_QUEUED_EVENTS);
  private failure?: PalabreError;
  private finishing?: Promise<SttResult>;
  private readonly ready: Promise<DecoderWorker | undefined>;
  private readonly onAbort = (): void => {
    this.fail(new PalabreError('aborted', 'speech stream was cancelled', { cause: this.settings.signal?.reason }));
    this.close();
  };

  constructor(
    private readonly pool: DecoderPool,
    private readonly id: number,
    search: SearchSpec,
    private readonly settings: StreamSettings,
  ) {
    settings.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.ready = this.start(search);
    // Failures are delivered through events() and finish(); this only keeps the rejection handled.
    this.ready.catch(() => undefined);
  }

  /** Read through a method: close() can change the state while start() awaits. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private async start(search: SearchSpec): Promise<DecoderWorker | undefined> {
    let worker: DecoderWorker;
    try {
      worker = await this.pool.acquire(this.settings.signal);
    } catch (err) {
      this.fail(err);
      throw err;
    }
    this.worker = worker;
    if (this.isClosed()) {
      this.release();
      return undefined;
    }
    worker.listen(this.id, {
      partial: (text) => {
        const clean = cleanHypothesis(text);
        if (clean !== '') this.emit({ type: 'partial', text: clean });
      },
      error: (err) => this.fail(err),
    });
    try {
      const reply = await worker.request({ type: 'start', id: this.id, search, partialEverySamples: this.settings.partialEverySamples, rescore: this.settings.rescore });
      if (reply.type === 'started' && reply.skipped.length > 0) this.settings.onSkipped?.(reply.skipped);
    } catch (err) {
      this.fail(err);
      this.release();
      throw err;
    }
    if (this.isClosed()) return undefined;
    if (this.state === 'starting') this.state = 'running';
    for (const chunk of this.buffered) worker.push(this.id, chunk);
    this.buffered = [];
    this.bufferedSamples = 0;
    return worker;
  }

  push(frame: Frame): void {
    if (this.state === 'finishing' || this.state === 'done' || this.state === 'closed') {
      throw new PalabreError('bad_request', `cannot push audio to a speech stream after ${this.state === 'closed' ? 'close()' : 'finish()'}`);
    }
    assertRate(frame, PIPELINE_RATE, 'PocketSphinx stream');
    if (this.failure) return;
    this.received += frame.samples.length;
    if (this.received > this.settings.maxSamples) {
      this.fail(new PalabreError('payload_too_large', `speech stream is longer than ${this.settings.maxSamples / PIPELINE_RATE} s`));
      return;
    }
    // A copy, because the buffer is handed over to the decoder thread.
    const copy = frame.samples.slice();
    if (this.state === 'running' && this.worker) {
      this.worker.push(this.id, copy);
      return;
    }
    this.bufferedSamples += copy.length;
    if (this.bufferedSamples > this.settings.maxBufferedSamples) {
      this.fail(new PalabreError('engine_unavailable', `no PocketSphinx decoder became free before ${this.settings.maxBufferedSamples / PIPELINE_RATE} s of audio had been buffered`));
      return;
    }
    this.buffered.push(copy);
  }

  private emit(event: SttEvent): void {
    this.queue.push(event);
  }

  private fail(err: unknown): void {
    if (this.failure || this.queue.done) return;
    this.failure = err instanceof PalabreError ? err : new PalabreError('engine_failed', `speech stream failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    this.queue.fail(this.failure);
  }

  private end(): void {
    this.queue.end();
    this.settings.signal?.removeEventListener('abort', this.onAbort);
  }

  private release(): void {
    if (this.released || !this.worker) return;
    this.released = true;
    this.worker.listen(this.id, undefined);
    this.pool.release(this.worker);
  }

  events(): AsyncIterable<SttEvent> {
    return this.queue.read();
  }

  finish(): Promise<SttResult> {
    if (this.finishing) return this.finishing;
    if (this.state === 'closed') return Promise.reject(new PalabreError('bad_request', 'cannot finish a speech stream after close()'));
    this.state = 'finishing';
    this.finishing = (async () => {
      try {
        if (this.failure) throw this.failure;
        const worker = await this.ready;
        if (!worker) throw new PalabreError('bad_request', 'speech stream was closed');
        if (this.failure) throw this.failure;
        const reply = await worker.request({ type: 'end', id: this.id });
        if (reply.type !== 'result') throw new PalabreError('engine_failed', `PocketSphinx answered ${reply.type} to the end of a stream`);
        const result = toSttResult(reply.raw, this.received / PIPELINE_RATE, { segmentPause: this.settings.segmentPause });
        this.state = 'done';
        this.emit({ type: 'final', result });
        return result;
      } catch (err) {
        this.fail(err);
        throw this.failure ?? err;
      } finally {
        this.release();
        this.end();
      }
    })();
    return this.finishing;
  }

  close(): void {
    if (this.state === 'done' || this.state === 'closed') return;
    const wasFinishing = this.state === 'finishing';
    this.state = 'closed';
    if (!wasFinishing) {
      const worker = this.worker;
      if (worker && !this.released) {
        worker.request({ type: 'cancel', id: this.id }).then(
          () => this.release(),
          () => this.release(),
        );
      }
      this.end();
    }
  }
}
