/**
 * `palabre db status` and `palabre db migrate` as a user runs them, on the
 * embedded database of a data directory and on PostgreSQL when
 * PALABRE_TEST_DATABASE_URL is set; a second process refused the PGlite
 * directory a first one holds; a database that is not there named.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { openStore } from '../src/store/db.js';
import { migrations } from '../src/store/migrations/index.js';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../src/store/test-support.js';
import { palabre } from './support/cli.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'palabre-db-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const names = Object.keys(migrations);
const targets: Array<[string, () => Promise<Record<string, string>>]> = [['PGlite', async () => ({ PALABRE_DATA_DIR: tempDir() })]];
if (TEST_DATABASE_URL !== '')
  targets.push([
    'PostgreSQL',
    async () => {
      const db = await createPostgresDatabase(TEST_DATABASE_URL);
      cleanups.push(() => db.drop());
      return { PALABRE_DATA_DIR: tempDir(), PALABRE_STORE_URL: db.url };
    },
  ]);

describe.each(targets)('palabre db on %s', (_name, envFor) => {
  it('shows pending migrations, applies them once, then shows them applied', async () => {
    const env = await envFor();
    const before = await palabre(['db', 'status', '--json'], env);
    expect(before.code, before.err).toBe(0);
    expect(JSON.parse(before.out)).toMatchObject({ pending: names.length, migrations: names.map((name) => ({ name, appliedAt: null })) });

    const migrate = await palabre(['db', 'migrate'], env);
    expect(migrate.code, migrate.err).toBe(0);
    expect(migrate.out).toMatch(new RegExp(`: applied ${names.join(', ')}\\n$`));
    const again = await palabre(['db', 'migrate'], env);
    expect(again.out).toMatch(/up to date, nothing to apply/);

    const after = await palabre(['db', 'status'], env);
    expect(after.code).toBe(0);
    expect(after.out).toMatch(/applied \d{4}-\d\d-\d\dT[\d:.]+Z\s+0001_initial/);
    expect(after.out).toMatch(/up to date\n$/);
    expect(after.out.split('\n')[0]).toMatch(env.PALABRE_STORE_URL ? /^PostgreSQL postgres:\/\/.*\/palabre_test_/ : /^PGlite .*palabre-db-cli-.*\/db$/);
  });
});

describe('palabre db errors', () => {
  it('refuses a PGlite directory another process holds, and names a database it cannot reach', async () => {
    const dataDir = tempDir();
    const held = await openStore({ dataDir, logger: silentLogger });
    try {
      const run = await palabre(['db', 'status'], { PALABRE_DATA_DIR: dataDir });
      expect(run.code).toBe(1);
      expect(run.err).toMatch(new RegExp(`palabre: the embedded database is in use by process ${process.pid} \\(lock file .*db\\.lock\\)`));
    } finally {
      await held.close();
    }
    const down = await palabre(['db', 'status'], { PALABRE_STORE_URL: 'postgres://palabre:secret@127.0.0.1:1/none' });
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^palabre: cannot reach the store database: .*ECONNREFUSED.* \(check store\.url/);
    expect(down.err).not.toContain('secret');
    const bad = await palabre(['db', 'migrate'], { PALABRE_STORE_URL: 'mysql://localhost/db' });
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/store\.url must be empty \(embedded PGlite\), memory:\/\/ or a postgres:\/\/ URL/);
  });
});
