/**
 * The Store over a Kysely database (PGlite or PostgreSQL, see db.ts): its
 * migrations, the start-up clean-up of calls a crash left open, and the
 * write queue.
 */
import { type Kysely, sql } from 'kysely';
import type { Logger } from '../log.js';
import type { StoreMetrics } from './metrics.js';
import { migrateToLatest } from './migrate.js';
import { DEFAULT_QUEUE_OPTIONS } from './queue.js';
import type { Database } from './schema.js';
import type { Store, StoreKind } from './types.js';
import { createWriter, type WriterOptions } from './writer.js';

export interface CreateStoreArgs {
  kind: StoreKind;
  db: Kysely<Database>;
  logger: Logger;
  writer?: Partial<WriterOptions>;
  metrics?: StoreMetrics;
  /**
   * This process among the servers sharing the database: stored with its calls,
   * and closeInterrupted() then closes only the calls of this instance (and those
   * stored before calls named theirs). Unset, it closes every open call, which is
   * right only when no other process can be writing (embedded PGlite).
   */
  instanceId?: string;
  /** Releases what the database needs after Kysely is destroyed (PGlite, its lock). */
  onClose: () => Promise<void>;
}

export function createStore(args: CreateStoreArgs): Store {
  const { kind, db, logger } = args;
  const writes = createWriter(db, { ...DEFAULT_QUEUE_OPTIONS, ...args.writer, serverId: args.instanceId }, logger, args.metrics);
  let closing: Promise<void> | undefined;
  return {
    kind,
    db,
    migrate: () => migrateToLatest(db),
    async closeInterrupted() {
      // The call's real end is unknown: the last row written for it is the best guess.
      const lastWrite = sql<Date>`greatest(
        calls.started_at,
        (select max(t.created_at) from turns t where t.call_id = calls.id),
        (select max(e.created_at) from events e where e.call_id = calls.id)
      )`;
      const instance = args.instanceId;
      const rows = await db
        .updateTable('calls')
        .set({
          ended_at: lastWrite,
          duration_ms: sql<number>`greatest(0, round(extract(epoch from (${lastWrite} - calls.started_at)) * 1000))::integer`,
          end_reason: 'interrupted',
          end_detail: 'the server stopped during the call',
          outcome: 'interrupted',
        })
        .where('ended_at', 'is', null)
        .$if(instance !== undefined, (q) => q.where((eb) => eb.or([eb('server_id', '=', instance as string), eb('server_id', 'is', null)])))
        .returning('id')
        .execute();
      if (rows.length > 0) logger.warn({ calls: rows.length, instance }, 'calls left open by an earlier stop were closed as interrupted');
      return rows.length;
    },
    writer: (callId) => writes.writer(callId),
    flush: () => writes.flush(),
    stats: () => writes.stats(),
    close() {
      closing ??= (async () => {
        await writes.close();
        await db.destroy();
        await args.onClose();
      })();
      return closing;
    },
  };
}
