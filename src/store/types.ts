/**
 * The store's contract. Writes go through a bounded queue (CallWriter) so a
 * slow database never stalls a call; reads serve the operator API.
 * Implemented once with Kysely over PGlite (embedded) or PostgreSQL.
 */
import type { Kysely } from 'kysely';
import type { CallEvent, CallSummary } from '../call/events.js';
import type { CallMeta } from '../call/factory.js';
import type { CallOutcome, Database, Sentiment } from './schema.js';

export type StoreKind = 'pglite' | 'postgres';

/** What the write queue reports (exported on /metrics, printed by the store bench). */
export interface WriterStats {
  queued: number;
  /** Highest queue depth seen. */
  maxQueued: number;
  written: number;
  /** Writes given up after the queue overflowed or the database kept failing; each is logged too. */
  dropped: number;
  failedBatches: number;
  /** Latency of each batch, ms (for percentiles). */
  lastBatchMs: number;
}

/** The write side of one call: every method returns at once; the writer batches. */
export interface CallWriter {
  /** The row for a new call (outcome in_progress). */
  start(callId: string, meta: CallMeta, startedAt: Date): void;
  /** Each event as it happens: turns and transcript lines become `turns` rows, records become `records` rows, the rest `events` rows. */
  event(event: CallEvent): void;
  /** The end of the call: end time, reason, outcome, sentiment, latency figures. */
  end(summary: CallSummary, extra?: { outcome?: CallOutcome; sentiment?: { label: Sentiment; score: number }; usage?: unknown; cost?: number | null }): void;
}

export interface CallListFilter {
  from?: Date;
  to?: Date;
  flow?: string;
  outcome?: CallOutcome;
  transport?: string;
  /** Substring of the caller id. */
  caller?: string;
  /** Words searched in the transcript (caller and bot lines). */
  q?: string;
  limit: number;
  /** Opaque cursor from the previous page (or an offset, as the implementation chooses). */
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  /** Absent on the last page. */
  next?: string;
  total: number;
}

export interface Store {
  readonly kind: StoreKind;
  readonly db: Kysely<Database>;
  /** Applies pending migrations; returns the names applied. Run at start-up and by `palabre db migrate`. */
  migrate(): Promise<string[]>;
  /** Closes calls left open by a crash with end_reason 'interrupted'; returns how many. Run at start-up. */
  closeInterrupted(): Promise<number>;
  /** The write side for one call. */
  writer(callId: string): CallWriter;
  /** Waits until everything queued so far is written (or dropped). */
  flush(): Promise<void>;
  stats(): WriterStats;
  close(): Promise<void>;
}
