/**
 * Opens the store: embedded PGlite (a data directory, no server) when no URL
 * is given, PostgreSQL otherwise. Both speak Kysely's PostgreSQL dialect and
 * run the same SQL: node-postgres for PostgreSQL, a worker thread for PGlite
 * (pglite-worker.ts) so the database never runs on the audio loop's thread.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { acquireDirLock, type DirLock } from './lock.js';
import type { StoreMetrics } from './metrics.js';
import { PgliteWorker, pgliteWorkerDialect } from './pglite-worker.js';
import type { Database } from './schema.js';
import { createStore } from './store.js';
import type { Store, StoreKind } from './types.js';
import type { WriterOptions } from './writer.js';

export interface OpenStoreOptions {
  /** PostgreSQL URL (postgres:// or postgresql://), `memory://` for an in-memory PGlite, empty for PGlite in `${dataDir}/db`. */
  url?: string;
  dataDir: string;
  logger: Logger;
  /** Bounds of the write queue. */
  writer?: Partial<WriterOptions>;
  metrics?: StoreMetrics;
  /** node-postgres pool size for PostgreSQL (PGlite has one connection). */
  poolSize?: number;
  /** How long a PostgreSQL connection attempt may take before it fails. */
  connectTimeoutMs?: number;
  /** This process among the servers sharing a PostgreSQL database (see CreateStoreArgs.instanceId); PGlite has only one. */
  instanceId?: string;
}

const INT8_OID = 20;

/**
 * bigint ids and counts come back as numbers, not strings, on both databases
 * (ids stay far below 2^53); the PGlite worker does the same.
 */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** What the URL says to open, or a clear error naming the problem. */
export function storeTarget(url: string | undefined, dataDir: string): { kind: StoreKind; location: string } {
  const u = (url ?? '').trim();
  if (u === '') return { kind: 'pglite', location: join(dataDir, 'db') };
  if (u === 'memory://') return { kind: 'pglite', location: 'memory://' };
  if (/^postgres(ql)?:\/\//i.test(u)) return { kind: 'postgres', location: u };
  throw new PalabreError('config_invalid', `store.url must be empty (embedded PGlite), memory:// or a postgres:// URL, not "${u.replace(/:\/\/[^@/]*@/, '://***@')}"`);
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const target = storeTarget(options.url, options.dataDir);
  const logger = options.logger.child({ module: 'store' });
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: target.location,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      types,
    });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', (err) => logger.warn({ err: err.message }, 'a PostgreSQL connection of the store failed'));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return createStore({ kind: 'postgres', db, logger, writer: options.writer, metrics: options.metrics, instanceId: options.instanceId, onClose: async () => {} });
  }

  let lock: DirLock | undefined;
  let dataDir: string | undefined;
  if (target.location !== 'memory://') {
    dataDir = target.location;
    mkdirSync(dataDir, { recursive: true });
    // Two processes on one PGlite directory would corrupt it: refuse the second one.
    lock = acquireDirLock(`${dataDir}.lock`, 'the embedded database');
  }
  const worker = new PgliteWorker(dataDir ?? 'memory://');
  try {
    await worker.ready;
  } catch (err) {
    await worker.close().catch(() => undefined);
    lock?.release();
    throw new PalabreError('internal', `could not open the embedded database in ${dataDir ?? 'memory'}: ${(err as Error).message}`, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: pgliteWorkerDialect(worker) });
  return createStore({
    kind: 'pglite',
    db,
    logger,
    writer: options.writer,
    metrics: options.metrics,
    // Destroying Kysely closed the database and stopped the worker.
    onClose: async () => lock?.release(),
  });
}
