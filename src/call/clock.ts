/**
 * The time source of a call. Everything that waits in a session (the pacer,
 * turn-taking deadlines, the memory IO's caller script) goes through one Clock,
 * so a test or `palabre simulate` can swap real time for a fast clock and the
 * whole call keeps its timing.
 */
import { performance } from 'node:perf_hooks';
import { PalabreError } from '../errors.js';

export type TimerHandle = number | NodeJS.Timeout;

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Declares real work in flight (an engine call, a worker round trip): a fast
   * clock does not skip ahead while any is pending. Returns the same promise.
   */
  track<T>(work: Promise<T>): Promise<T>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  track: (work) => work,
};

/** Resolves after `ms` on `clock`; rejects with `aborted` when the signal fires first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new PalabreError('aborted', 'wait was cancelled', { cause: signal.reason }));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(new PalabreError('aborted', 'wait was cancelled', { cause: signal?.reason }));
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `work`, rejected with engine_failed after `ms` and with aborted when `signal` fires, leaving no timer either way. */
export function bounded<T>(clock: Clock, work: Promise<T>, ms: number, what: string, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      done();
      reject(new PalabreError('aborted', `${what} was cancelled`, { cause: signal.reason }));
    };
    const timer = clock.setTimeout(() => {
      done();
      reject(new PalabreError('engine_failed', `${what} did not answer within ${ms} ms`));
    }, ms);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        done();
        resolve(v);
      },
      (e: unknown) => {
        done();
        reject(e);
      },
    );
  });
}

interface Entry {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * Real time with the idle stretches cut out. Time runs at real speed while
 * tracked work is pending, so engine latencies stay true; when nothing is
 * pending and the event loop has settled, the clock jumps straight to the next
 * timer. A minute of call where the engines work for two seconds takes about
 * two seconds. Work that is awaited without track() is invisible to it: the
 * clock may jump past it, as if it had taken no time.
 */
export class FastClock implements Clock {
  private readonly origin = performance.now();
  private skipped = 0;
  private holds = 0;
  private nextId = 1;
  /** Sorted by (due, id): timers are few (a call has a handful), so insertion sort is enough. */
  private timers: Entry[] = [];
  private realTimer: NodeJS.Timeout | undefined;
  private realTimerDue = Infinity;
  private idleCheck: NodeJS.Immediate | undefined;
  private firing = false;

  now(): number {
    return performance.now() - this.origin + this.skipped;
  }

  /** Timers armed and not yet fired or cleared (a finished call must leave none). */
  get pending(): number {
    return this.timers.length;
  }

  /** Milliseconds of idle time skipped so far. */
  get skippedMs(): number {
    return this.skipped;
  }

  setTimeout(fn: () => void, ms: number): number {
    const entry: Entry = { id: this.nextId++, due: this.now() + Math.max(0, ms), fn };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].due > entry.due) i--;
    this.timers.splice(i, 0, entry);
    this.schedule();
    return entry.id;
  }

  clearTimeout(handle: TimerHandle): void {
    const i = this.timers.findIndex((t) => t.id === handle);
    if (i >= 0) this.timers.splice(i, 1);
    this.schedule();
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.holds++;
    const release = (): void => {
      this.holds--;
      this.schedule();
    };
    work.then(release, release);
    this.schedule();
    return work;
  }

  private schedule(): void {
    if (this.firing) return;
    if (this.timers.length === 0) {
      this.cancelReal();
      this.cancelIdle();
      return;
    }
    // Real time always runs: a timer that falls due while work is pending fires on time.
    const due = this.timers[0].due;
    if (due !== this.realTimerDue) {
      this.cancelReal();
      this.realTimerDue = due;
      this.realTimer = setTimeout(this.fire, Math.max(0, due - this.now()));
    }
    if (this.holds === 0 && this.idleCheck === undefined) {
      // A turn of the loop lets every promise chain already under way settle first (microtasks run before it).
      this.idleCheck = setImmediate(this.skip);
    } else if (this.holds > 0) {
      this.cancelIdle();
    }
  }

  private readonly skip = (): void => {
    this.idleCheck = undefined;
    if (this.holds > 0 || this.timers.length === 0) return this.schedule();
    const gap = this.timers[0].due - this.now();
    if (gap > 0) this.skipped += gap;
    this.fire();
  };

  private readonly fire = (): void => {
    this.cancelReal();
    this.firing = true;
    try {
      const now = this.now();
      while (this.timers.length > 0 && this.timers[0].due <= now) {
        const entry = this.timers.shift() as Entry;
        entry.fn();
      }
    } finally {
      this.firing = false;
      this.schedule();
    }
  };

  private cancelReal(): void {
    if (this.realTimer !== undefined) clearTimeout(this.realTimer);
    this.realTimer = undefined;
    this.realTimerDue = Infinity;
  }

  private cancelIdle(): void {
    if (this.idleCheck !== undefined) clearImmediate(this.idleCheck);
    this.idleCheck = undefined;
  }
}

export function createFastClock(): FastClock {
  return new FastClock();
}
