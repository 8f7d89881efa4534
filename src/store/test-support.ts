/**
 * Shared by the store tests and the store benchmark: the databases every
 * store test runs on. PGlite in memory and in a temporary data directory
 * always; PostgreSQL too when PALABRE_TEST_DATABASE_URL names a server
 * (`.ci/run` sets it) or the caller passes one. On PostgreSQL each caller gets a database of its own
 * with a random name, created through that URL and dropped afterwards, so
 * test files running at the same time never see each other's rows.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Logger, silentLogger } from '../log.js';
import { openStore, type OpenStoreOptions } from './db.js';
import type { Store } from './types.js';

export type TargetName = 'pglite-memory' | 'pglite-dir' | 'postgres';

export interface StoreTarget {
  name: TargetName;
  /** A fresh, empty database; `url`/`dataDir` to open it again (a restart), `dispose` removes it. */
  create(): Promise<TestDatabase>;
}

export interface TestDatabase {
  url: string;
  dataDir: string;
  open(options?: Partial<OpenStoreOptions>): Promise<Store>;
  dispose(): Promise<void>;
}

function withUrlDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A new PostgreSQL database with a random name on the server of `adminUrl`. */
export async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `palabre_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withUrlDatabase(adminUrl, name),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'palabre-store-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function database(url: string, dataDir: string, cleanup: () => Promise<void> | void, logger: Logger): TestDatabase {
  return {
    url,
    dataDir,
    open: (options = {}) => openStore({ url, dataDir, logger, ...options }),
    dispose: async () => {
      await cleanup();
    },
  };
}

/**
 * The PostgreSQL server the tests may use. Test infrastructure, not a setting
 * of palabre, so it is read here rather than through src/config.ts.
 */
// eslint-disable-next-line no-restricted-properties
export const TEST_DATABASE_URL = process.env.PALABRE_TEST_DATABASE_URL ?? '';

/** `postgresUrl`: an admin connection to a PostgreSQL server, or empty to test PGlite only. */
export function storeTargets(postgresUrl = TEST_DATABASE_URL, logger: Logger = silentLogger): StoreTarget[] {
  const targets: StoreTarget[] = [
    {
      name: 'pglite-memory',
      create: async () => {
        const t = tempDir();
        return database('memory://', t.dir, t.remove, logger);
      },
    },
    {
      name: 'pglite-dir',
      create: async () => {
        const t = tempDir();
        return database('', t.dir, t.remove, logger);
      },
    },
  ];
  if (postgresUrl !== '')
    targets.push({
      name: 'postgres',
      create: async () => {
        const t = tempDir();
        const pgDb = await createPostgresDatabase(postgresUrl);
        return database(pgDb.url, t.dir, async () => {
          t.remove();
          await pgDb.drop();
        }, logger);
      },
    });
  return targets;
}
