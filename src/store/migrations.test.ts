/**
 * The migrations forwards, on every database the store runs on: the tables
 * and columns of schema.ts exist with their indexes, a second run applies
 * nothing, the status lists what ran, and PGlite keeps it all on disk.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationStatus } from './migrate.js';
import { migrations } from './migrations/index.js';
import { storeTargets, type TestDatabase } from './test-support.js';

const EXPECTED_COLUMNS: Record<string, string[]> = {
  calls: ['id', 'transport', 'external_id', 'caller_id', 'flow', 'language', 'started_at', 'ended_at', 'duration_ms', 'end_reason', 'end_detail', 'outcome', 'sentiment', 'sentiment_score', 'cost', 'usage', 'states', 'turn_count', 'barge_ins', 'error_count', 'mean_turn_latency_ms', 'created_at', 'server_id'],
  turns: ['id', 'call_id', 'seq', 'turn', 'speaker', 'text', 'confidence', 'intent', 'slots', 'cut', 'heard', 'at_ms', 'timeline', 'created_at'],
  events: ['id', 'call_id', 'seq', 'at_ms', 'type', 'data', 'created_at'],
  records: ['id', 'call_id', 'flow', 'kind', 'data', 'created_at'],
  recordings: ['call_id', 'path', 'format', 'sample_rate', 'channels', 'duration_ms', 'bytes', 'complete', 'created_at', 'expires_at'],
  reports: ['id', 'call_id', 'kind', 'data', 'created_at'],
};

const dbs: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(dbs.splice(0).map((d) => d.dispose()));
});

describe.each(storeTargets().map((t) => [t.name, t] as const))('migrations on %s', (_name, target) => {
  it('creates exactly the tables and columns of schema.ts, with their indexes, once', async () => {
    const test = await target.create();
    dbs.push(test);
    const store = await test.open();
    try {
      expect(await store.migrate()).toEqual(Object.keys(migrations));
      expect(await store.migrate()).toEqual([]);

      const columns = await sql<{ table_name: string; column_name: string }>`
        select table_name, column_name from information_schema.columns
        where table_schema = current_schema() and table_name in ('calls', 'turns', 'events', 'records', 'recordings', 'reports')
        order by table_name, ordinal_position`.execute(store.db);
      const byTable: Record<string, string[]> = {};
      for (const r of columns.rows) (byTable[r.table_name] ??= []).push(r.column_name);
      expect(byTable).toEqual(EXPECTED_COLUMNS);

      const indexes = await sql<{ indexname: string }>`select indexname from pg_indexes where schemaname = current_schema()`.execute(store.db);
      const names = indexes.rows.map((r) => r.indexname);
      for (const idx of ['calls_started_at_idx', 'calls_open_server_idx', 'calls_flow_idx', 'calls_outcome_idx', 'calls_caller_id_idx', 'turns_call_seq_idx', 'turns_text_search_idx', 'events_call_seq_idx', 'records_kind_created_idx', 'records_call_idx'])
        expect(names).toContain(idx);

      const status = await migrationStatus(store.db);
      expect(status.map((s) => s.name)).toEqual(Object.keys(migrations));
      expect(status.every((s) => s.executedAt instanceof Date)).toBe(true);

      // The transcript search index serves a word query.
      await store.db.insertInto('calls').values({ id: 'c1', transport: 'simulate', flow: 'f', language: 'en', started_at: new Date(), outcome: 'in_progress' }).execute();
      await store.db.insertInto('turns').values({ call_id: 'c1', seq: 0, speaker: 'caller', text: 'My printer is broken', at_ms: 10 }).execute();
      const hits = await sql<{ n: number }>`select count(*) as n from turns where to_tsvector('simple', text) @@ plainto_tsquery('simple', 'printer')`.execute(store.db);
      expect(hits.rows[0]?.n).toBe(1);
    } finally {
      await store.close();
    }
    if (target.name === 'pglite-memory') return;
    // Opened again (a restart): nothing pending, the row is still there.
    const again = await test.open();
    try {
      expect(await again.migrate()).toEqual([]);
      const row = await again.db.selectFrom('turns').select(['text', 'id']).executeTakeFirstOrThrow();
      expect(row).toEqual({ text: 'My printer is broken', id: expect.any(Number) });
    } finally {
      await again.close();
    }
  });
});
