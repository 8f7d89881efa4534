/**
 * The store's migrations, listed in code rather than read from a folder so
 * they run the same from `dist/` and under tsx. Names sort in the order they
 * apply; never rename or edit one that has shipped, add the next instead.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './0001_initial.js';
import { serverId } from './0002_server_id.js';

export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_server_id': serverId,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
