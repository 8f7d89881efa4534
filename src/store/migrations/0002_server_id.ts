/**
 * Calls name the palabre instance carrying them, so a server restarting after
 * a crash closes only its own calls left open, not those other servers
 * sharing the database are carrying at that moment.
 */
import { type Kysely, type Migration, sql } from 'kysely';

export const serverId: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('calls').addColumn('server_id', 'text').execute();
    await db.schema.createIndex('calls_open_server_idx').on('calls').column('server_id').where(sql.ref('ended_at'), 'is', null).execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('calls_open_server_idx').execute();
    await db.schema.alterTable('calls').dropColumn('server_id').execute();
  },
};
