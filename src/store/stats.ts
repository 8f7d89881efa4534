/**
 * The support line's figures over a range of calls, computed in the
 * database (PGlite and PostgreSQL alike) so a busy month costs one round of
 * aggregate queries, not a scan in JS.
 */
import { type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import { CALL_OUTCOMES, DATA_FIELD, badRequest, num, numOrNull } from './queries.js';
import type { CallOutcome, Database } from './schema.js';

export interface StatsRange {
  from: Date;
  to: Date;
}

export interface CallStats {
  from: string;
  to: string;
  calls: number;
  /** Over calls that ended. */
  meanDurationMs: number | null;
  sentiment: { rated: number; negative: number; /** negative / rated; null when no call was rated. */ unhappyShare: number | null };
  outcomes: Record<CallOutcome, number>;
  transfers: number;
  problems: { byKind: Array<{ kind: string; count: number }>; field: string; byValue: Array<{ value: string; count: number }> };
  turnLatency: { turns: number; meanMs: number | null };
}

/**
 * The support line's figures for the calls that started in [from, to):
 * problems count the records of those calls, by kind and by the value of
 * `problemField` in their data; turn latency is end of caller turn → first
 * bot audio over every turn that had both.
 */
export async function callStats(db: Kysely<Database>, range: StatsRange, options: { problemField?: string } = {}): Promise<CallStats> {
  const field = options.problemField ?? 'problem';
  if (!DATA_FIELD.test(field)) throw badRequest('problemField', `"${field}" is not a field name (letters, digits, _ . -)`);
  const from = range.from.toISOString();
  const to = range.to.toISOString();
  const inRange = (eb: ExpressionBuilder<Database, 'calls'>) => eb.and([eb('calls.started_at', '>=', range.from), eb('calls.started_at', '<', range.to)]);
  const [totals, outcomes, kinds, values, latency] = await Promise.all([
    db
      .selectFrom('calls')
      .select([
        sql<number>`count(*)::int`.as('calls'),
        sql<number | null>`avg(${sql.ref('calls.duration_ms')})::float8`.as('mean_duration'),
        sql<number>`count(${sql.ref('calls.sentiment')})::int`.as('rated'),
        sql<number>`(count(*) filter (where ${sql.ref('calls.sentiment')} = 'negative'))::int`.as('negative'),
      ])
      .where(inRange)
      .executeTakeFirstOrThrow(),
    db.selectFrom('calls').select(['calls.outcome', sql<number>`count(*)::int`.as('n')]).where(inRange).groupBy('calls.outcome').execute(),
    db
      .selectFrom('records')
      .innerJoin('calls', 'calls.id', 'records.call_id')
      .select(['records.kind', sql<number>`count(*)::int`.as('n')])
      .where(inRange)
      .groupBy('records.kind')
      .orderBy('n', 'desc')
      .orderBy('records.kind')
      .execute(),
    db
      .selectFrom('records')
      .innerJoin('calls', 'calls.id', 'records.call_id')
      .select([sql<string>`${sql.ref('records.data')} ->> ${field}`.as('value'), sql<number>`count(*)::int`.as('n')])
      .where(inRange)
      .where(sql<SqlBool>`${sql.ref('records.data')} ->> ${field} is not null`)
      .groupBy(sql`1`)
      .orderBy('n', 'desc')
      .orderBy(sql`1`)
      .execute(),
    db
      .selectFrom(
        db
          .selectFrom('turns')
          .innerJoin('calls', 'calls.id', 'turns.call_id')
          // CASE, not WHERE, guards the casts: PostgreSQL may evaluate WHERE conditions in any order.
          .select(
            sql<number | null>`case when jsonb_typeof(${sql.ref('turns.timeline')} -> 'firstAudioOutMs') = 'number' and jsonb_typeof(${sql.ref('turns.timeline')} -> 'endOfTurnMs') = 'number'
              then (${sql.ref('turns.timeline')} ->> 'firstAudioOutMs')::float8 - (${sql.ref('turns.timeline')} ->> 'endOfTurnMs')::float8 end`.as('ms'),
          )
          .where(inRange)
          .as('t'),
      )
      .select([sql<number>`count(${sql.ref('t.ms')})::int`.as('turns'), sql<number | null>`avg(${sql.ref('t.ms')})`.as('mean')])
      .where('t.ms', '>=', 0)
      .executeTakeFirstOrThrow(),
  ]);
  const byOutcome = Object.fromEntries(CALL_OUTCOMES.map((o) => [o, 0])) as Record<CallOutcome, number>;
  for (const o of outcomes) byOutcome[o.outcome] = num(o.n);
  const rated = num(totals.rated);
  const negative = num(totals.negative);
  return {
    from,
    to,
    calls: num(totals.calls),
    meanDurationMs: numOrNull(totals.mean_duration),
    sentiment: { rated, negative, unhappyShare: rated > 0 ? negative / rated : null },
    outcomes: byOutcome,
    transfers: byOutcome.transferred,
    problems: { byKind: kinds.map((k) => ({ kind: k.kind, count: num(k.n) })), field, byValue: values.map((v) => ({ value: v.value, count: num(v.n) })) },
    turnLatency: { turns: num(latency.turns), meanMs: numOrNull(latency.mean) },
  };
}
