/**
 * `palabre db migrate` and `palabre db status`: the store's schema by hand
 * (the server also migrates at start-up). Results go to standard output;
 * `--json` for scripts.
 */
import { Command } from 'commander';
import { maskSecrets } from '../config.js';
import { cliLogger, configFor } from './context.js';
import type { Store } from '../store/types.js';

async function withStore<T>(command: Command, fn: (store: Store, where: string) => Promise<T>): Promise<T> {
  const config = configFor(command);
  const logger = cliLogger(command, config);
  const { openStore, storeTarget } = await import('../store/db.js');
  const target = storeTarget(config.store.url, config.dataDir);
  const where = target.kind === 'postgres' ? `PostgreSQL ${maskSecrets(target.location)}` : `PGlite ${target.location}`;
  const store = await openStore({ url: config.store.url, dataDir: config.dataDir, logger, poolSize: 1 });
  try {
    return await fn(store, where);
  } finally {
    await store.close();
  }
}

export function dbCommand(): Command {
  const db = new Command('db').description('the store database: apply migrations, show their state');
  db.command('migrate')
    .description('apply the pending migrations of the store (PGlite in <dataDir>/db, or store.url)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withStore(command, async (store, where) => {
        const applied = await store.migrate();
        if (opts.json) process.stdout.write(`${JSON.stringify({ database: where, applied })}\n`);
        else if (applied.length === 0) process.stdout.write(`${where}: up to date, nothing to apply\n`);
        else process.stdout.write(`${where}: applied ${applied.join(', ')}\n`);
      });
    });
  db.command('status')
    .description('list the migrations of the store, applied or pending')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      await withStore(command, async (store, where) => {
        const { migrationStatus } = await import('../store/migrate.js');
        const list = await migrationStatus(store.db);
        const pending = list.filter((m) => !m.executedAt).length;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ database: where, migrations: list.map((m) => ({ name: m.name, appliedAt: m.executedAt?.toISOString() ?? null })), pending })}\n`);
          return;
        }
        process.stdout.write(`${where}\n`);
        for (const m of list) process.stdout.write(`  ${m.executedAt ? `applied ${m.executedAt.toISOString()}` : 'pending'.padEnd(32)}  ${m.name}\n`);
        process.stdout.write(pending === 0 ? 'up to date\n' : `${pending} pending: run "palabre db migrate" (the server also applies them at start-up)\n`);
      });
    });
  return db;
}
