/**
 * The first schema: exactly the tables of `src/store/schema.ts`. Ids are
 * bigint identities (read back as numbers: see the int8 parser in db.ts);
 * counts and latencies that stay small are integers; the score and cost are
 * double precision so both databases return plain numbers.
 */
import { type Kysely, type Migration, sql } from 'kysely';

export const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('calls')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('transport', 'text', (c) => c.notNull())
      .addColumn('external_id', 'text')
      .addColumn('caller_id', 'text')
      .addColumn('flow', 'text', (c) => c.notNull())
      .addColumn('language', 'text', (c) => c.notNull())
      .addColumn('started_at', 'timestamptz', (c) => c.notNull())
      .addColumn('ended_at', 'timestamptz')
      .addColumn('duration_ms', 'integer')
      .addColumn('end_reason', 'text')
      .addColumn('end_detail', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull().defaultTo('in_progress'))
      .addColumn('sentiment', 'text')
      .addColumn('sentiment_score', 'double precision')
      .addColumn('cost', 'double precision')
      .addColumn('usage', 'jsonb')
      .addColumn('states', 'jsonb')
      .addColumn('turn_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('barge_ins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('error_count', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('mean_turn_latency_ms', 'double precision')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addCheckConstraint('calls_outcome_check', sql`outcome in ('completed', 'transferred', 'abandoned', 'failed', 'interrupted', 'in_progress')`)
      .addCheckConstraint('calls_sentiment_check', sql`sentiment is null or sentiment in ('positive', 'neutral', 'negative')`)
      .execute();
    await db.schema.createIndex('calls_started_at_idx').on('calls').column('started_at').execute();
    await db.schema.createIndex('calls_flow_idx').on('calls').columns(['flow', 'started_at']).execute();
    await db.schema.createIndex('calls_outcome_idx').on('calls').columns(['outcome', 'started_at']).execute();
    await db.schema.createIndex('calls_caller_id_idx').on('calls').column('caller_id').execute();
    // closeInterrupted() looks for calls with no end at every start-up.
    await db.schema.createIndex('calls_open_idx').on('calls').column('id').where(sql.ref('ended_at'), 'is', null).execute();

    await db.schema
      .createTable('turns')
      .addColumn('id', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('turn', 'integer')
      .addColumn('speaker', 'text', (c) => c.notNull().check(sql`speaker in ('caller', 'bot')`))
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('confidence', 'double precision')
      .addColumn('intent', 'text')
      .addColumn('slots', 'jsonb')
      .addColumn('cut', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('heard', 'text')
      .addColumn('at_ms', 'integer', (c) => c.notNull())
      .addColumn('timeline', 'jsonb')
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('turns_call_seq_idx').on('turns').columns(['call_id', 'seq']).execute();
    // Transcript search for the operator API (`q`); 'simple' so French and English lines are both indexed word by word.
    await sql`create index turns_text_search_idx on turns using gin (to_tsvector('simple', text))`.execute(db);

    await db.schema
      .createTable('events')
      .addColumn('id', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('at_ms', 'integer', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('data', 'jsonb', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('events_call_seq_idx').on('events').columns(['call_id', 'seq']).execute();

    await db.schema
      .createTable('records')
      .addColumn('id', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('flow', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('data', 'jsonb', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('records_kind_created_idx').on('records').columns(['kind', 'created_at']).execute();
    await db.schema.createIndex('records_call_idx').on('records').column('call_id').execute();

    await db.schema
      .createTable('recordings')
      .addColumn('call_id', 'text', (c) => c.primaryKey().references('calls.id').onDelete('cascade'))
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('format', 'text', (c) => c.notNull())
      .addColumn('sample_rate', 'integer', (c) => c.notNull())
      .addColumn('channels', 'integer', (c) => c.notNull())
      .addColumn('duration_ms', 'integer', (c) => c.notNull())
      .addColumn('bytes', 'bigint', (c) => c.notNull())
      .addColumn('complete', 'boolean', (c) => c.notNull().defaultTo(false))
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .addColumn('expires_at', 'timestamptz')
      .execute();
    await db.schema.createIndex('recordings_expires_at_idx').on('recordings').column('expires_at').execute();

    await db.schema
      .createTable('reports')
      .addColumn('id', 'bigint', (c) => c.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('call_id', 'text', (c) => c.notNull().references('calls.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('data', 'jsonb', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
    await db.schema.createIndex('reports_call_idx').on('reports').column('call_id').execute();
  },

  async down(db: Kysely<unknown>) {
    for (const table of ['reports', 'recordings', 'records', 'events', 'turns', 'calls']) await db.schema.dropTable(table).ifExists().execute();
  },
};
