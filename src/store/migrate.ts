/** Applying and listing the store's migrations (start-up, `palabre db migrate`, `palabre db status`). */
import { type Kysely, Migrator } from 'kysely';
import { PalabreError } from '../errors.js';
import { migrationProvider } from './migrations/index.js';
import { isTransient } from './queue.js';
import type { Database } from './schema.js';

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: migrationProvider, migrationTableName: 'palabre_migration', migrationLockTableName: 'palabre_migration_lock' });
}

/** Applies what is pending; returns the names applied. Throws, naming the migration, when one fails. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const { error, results } = await migrator(db).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error) {
    if (!failed) throw unreachable(error);
    const message = error instanceof Error ? error.message : String(error);
    throw new PalabreError('internal', `store migration ${failed.migrationName} failed: ${message}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export interface MigrationState {
  name: string;
  /** When it was applied; undefined while pending. */
  executedAt?: Date;
}

export async function migrationStatus(db: Kysely<Database>): Promise<MigrationState[]> {
  const list = await migrator(db)
    .getMigrations()
    .catch((err: unknown) => {
      throw unreachable(err);
    });
  return list.map((m) => ({ name: m.name, ...(m.executedAt ? { executedAt: m.executedAt } : {}) }));
}

/** A clear error for a database that cannot be reached (or refused the migration bookkeeping). */
export function unreachable(err: unknown): PalabreError {
  const message = err instanceof Error ? err.message || (err as NodeJS.ErrnoException).code || err.name : String(err);
  if (isTransient(err)) return new PalabreError('engine_unavailable', `cannot reach the store database: ${message} (check store.url / PALABRE_STORE_URL, or set store.enabled=false)`, { cause: err });
  return new PalabreError('internal', `the store database answered with an error: ${message}`, { cause: err });
}
