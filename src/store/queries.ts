/**
 * The read side of the store, for the operator API: lists with filters and
 * keyset pagination, one call with everything it produced, and row
 * iterators for CSV export (the support line's figures are in stats.ts). Plain Kysely and SQL that
 * PGlite and PostgreSQL both run; no driver-specific types leak out (times
 * are ISO strings, ids and counts numbers).
 */
import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import { PalabreError } from '../errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { type CallLatencies, callLatencies } from './latency.js';
import type { CallOutcome, Database, Sentiment } from './schema.js';
import type { CallListFilter, Page } from './types.js';

export const CALL_OUTCOMES: readonly CallOutcome[] = ['completed', 'transferred', 'abandoned', 'failed', 'interrupted', 'in_progress'];

/** Page sizes the lists accept. */
export const PAGE_LIMITS = { default: 50, min: 1, max: 500 } as const;

/** Rows fetched per query when a whole result is streamed (CSV). */
const STREAM_BATCH = 500;

/** Words of a transcript search: more are refused rather than silently dropped. */
export const MAX_SEARCH_TERMS = 10;

export interface CallListItem {
  id: string;
  transport: string;
  externalId: string | null;
  callerId: string | null;
  flow: string;
  language: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  endReason: string | null;
  endDetail: string | null;
  outcome: CallOutcome;
  sentiment: Sentiment | null;
  sentimentScore: number | null;
  cost: number | null;
  turnCount: number;
  bargeIns: number;
  errorCount: number;
  meanTurnLatencyMs: number | null;
  hasRecording: boolean;
}

export interface TurnItem {
  seq: number;
  turn: number | null;
  speaker: 'caller' | 'bot';
  text: string;
  confidence: number | null;
  intent: string | null;
  slots: unknown;
  cut: boolean;
  heard: string | null;
  atMs: number;
  timeline: unknown;
}

export interface EventItem {
  seq: number;
  atMs: number;
  type: string;
  data: Record<string, unknown>;
}

export interface RecordItem {
  id: number;
  callId: string;
  flow: string;
  kind: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface RecordingInfo {
  /** Relative to the recordings directory. */
  path: string;
  format: string;
  sampleRate: number;
  channels: number;
  durationMs: number;
  bytes: number;
  complete: boolean;
  createdAt: string;
  expiresAt: string | null;
}

export interface ReportItem {
  id: number;
  kind: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface CallDetail {
  call: CallListItem & { usage: unknown; states: unknown };
  turns: TurnItem[];
  events: EventItem[];
  records: RecordItem[];
  reports: ReportItem[];
  recording: RecordingInfo | null;
  latencies: CallLatencies;
}

export interface RecordListFilter {
  from?: Date;
  to?: Date;
  kind?: string;
  flow?: string;
  callId?: string;
  /** Every pair must hold: the record's top-level `field`, as text, equals `value`. */
  match?: Array<{ field: string; value: string }>;
  limit: number;
  cursor?: string;
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function isoOrNull(value: Date | string | null): string | null {
  return value === null ? null : iso(value);
}

export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function badRequest(parameter: string, message: string): PalabreError {
  return new PalabreError('bad_request', `${parameter}: ${message}`, { details: { parameter } });
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < PAGE_LIMITS.min || limit > PAGE_LIMITS.max) {
    throw badRequest('limit', `must be an integer from ${PAGE_LIMITS.min} to ${PAGE_LIMITS.max} (got ${limit})`);
  }
}

/** The sort key of a row as text with microseconds (see cursor.ts for why not a Date). */
function utcText(column: 'calls.started_at' | 'records.created_at') {
  return sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** LIKE pattern matching `text` anywhere, its wildcards taken literally (backslash is PostgreSQL's default escape). */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
}

/**
 * Terms of a transcript search: words, or "quoted phrases" whose words must
 * follow each other. Matching is per whole word, case-insensitive, through
 * the 'simple' text-search configuration the turns index uses (no stemming,
 * so it works the same for French and English).
 */
export function searchTerms(q: string): string[] {
  const terms: string[] = [];
  for (const m of q.matchAll(/"([^"]*)"|(\S+)/g)) {
    const term = (m[1] ?? m[2]).trim();
    if (/[\p{L}\p{N}]/u.test(term)) terms.push(term);
  }
  if (q.trim() !== '' && terms.length === 0) throw badRequest('q', 'has no word to search for');
  if (terms.length > MAX_SEARCH_TERMS) throw badRequest('q', `has ${terms.length} terms; at most ${MAX_SEARCH_TERMS}`);
  return terms;
}

type CallsEb = ExpressionBuilder<Database, 'calls'>;

function callConditions(eb: CallsEb, filter: Omit<CallListFilter, 'limit' | 'cursor'>): Expression<SqlBool>[] {
  const and: Expression<SqlBool>[] = [];
  if (filter.from) and.push(eb('calls.started_at', '>=', filter.from));
  if (filter.to) and.push(eb('calls.started_at', '<', filter.to));
  if (filter.flow) and.push(eb('calls.flow', '=', filter.flow));
  if (filter.outcome) {
    if (!CALL_OUTCOMES.includes(filter.outcome)) throw badRequest('outcome', `must be one of ${CALL_OUTCOMES.join(', ')} (got "${filter.outcome}")`);
    and.push(eb('calls.outcome', '=', filter.outcome));
  }
  if (filter.transport) and.push(eb('calls.transport', '=', filter.transport));
  if (filter.caller) and.push(sql<SqlBool>`${sql.ref('calls.caller_id')} ilike ${containsPattern(filter.caller)}`);
  for (const term of searchTerms(filter.q ?? '')) {
    and.push(
      eb.exists(
        eb
          .selectFrom('turns')
          .select(sql<number>`1`.as('hit'))
          .whereRef('turns.call_id', '=', 'calls.id')
          .where(sql<SqlBool>`to_tsvector('simple', ${sql.ref('turns.text')}) @@ phraseto_tsquery('simple', ${term})`),
      ),
    );
  }
  return and;
}

function callsQuery(db: Kysely<Database>, filter: Omit<CallListFilter, 'limit' | 'cursor'>) {
  return db
    .selectFrom('calls')
    .selectAll('calls')
    .select((eb) => [
      utcText('calls.started_at').as('sort_at'),
      eb.exists(eb.selectFrom('recordings').select(sql<number>`1`.as('hit')).whereRef('recordings.call_id', '=', 'calls.id')).as('has_recording'),
    ])
    .where((eb) => eb.and(callConditions(eb, filter)));
}

type CallRow = Awaited<ReturnType<ReturnType<typeof callsQuery>['executeTakeFirstOrThrow']>>;

function callItem(row: CallRow): CallListItem {
  return {
    id: row.id,
    transport: row.transport,
    externalId: row.external_id,
    callerId: row.caller_id,
    flow: row.flow,
    language: row.language,
    startedAt: iso(row.started_at),
    endedAt: isoOrNull(row.ended_at),
    durationMs: numOrNull(row.duration_ms),
    endReason: row.end_reason,
    endDetail: row.end_detail,
    outcome: row.outcome,
    sentiment: row.sentiment,
    sentimentScore: numOrNull(row.sentiment_score),
    cost: numOrNull(row.cost),
    turnCount: num(row.turn_count),
    bargeIns: num(row.barge_ins),
    errorCount: num(row.error_count),
    meanTurnLatencyMs: numOrNull(row.mean_turn_latency_ms),
    hasRecording: Boolean(row.has_recording),
  };
}

async function callsPage(db: Kysely<Database>, filter: CallListFilter): Promise<{ rows: CallRow[]; next?: string }> {
  const after = filter.cursor !== undefined ? decodeCursor('calls', filter.cursor) : undefined;
  const rows = await callsQuery(db, filter)
    .$if(after !== undefined, (qb) => qb.where(sql<SqlBool>`(${sql.ref('calls.started_at')}, ${sql.ref('calls.id')}) < (${after?.at}::timestamptz, ${String(after?.id)})`))
    .orderBy('calls.started_at', 'desc')
    .orderBy('calls.id', 'desc')
    .limit(filter.limit + 1)
    .execute();
  if (rows.length <= filter.limit) return { rows };
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { rows: page, next: encodeCursor('calls', { at: last.sort_at, id: last.id }) };
}

/** Calls newest first; `next` continues after the last one even when calls arrive meanwhile. */
export async function listCalls(db: Kysely<Database>, filter: CallListFilter): Promise<Page<CallListItem>> {
  checkLimit(filter.limit);
  const [page, count] = await Promise.all([
    callsPage(db, filter),
    db
      .selectFrom('calls')
      .select(sql<number>`count(*)::int`.as('n'))
      .where((eb) => eb.and(callConditions(eb, filter)))
      .executeTakeFirstOrThrow(),
  ]);
  return { items: page.rows.map(callItem), ...(page.next ? { next: page.next } : {}), total: num(count.n) };
}

/** Every call the filter selects, newest first, fetched in batches (for CSV export). */
export async function* iterateCalls(db: Kysely<Database>, filter: Omit<CallListFilter, 'limit' | 'cursor'>, batch = STREAM_BATCH): AsyncGenerator<CallListItem> {
  let cursor: string | undefined;
  do {
    const page = await callsPage(db, { ...filter, limit: batch, cursor });
    for (const row of page.rows) yield callItem(row);
    cursor = page.next;
  } while (cursor);
}

function recordItem(row: { id: number | string; call_id: string; flow: string; kind: string; data: Record<string, unknown>; created_at: Date | string }): RecordItem {
  return { id: num(row.id), callId: row.call_id, flow: row.flow, kind: row.kind, data: row.data, createdAt: iso(row.created_at) };
}

/** One call with its transcript, events, records, reports, recording and latencies; undefined when unknown. */
export async function getCall(db: Kysely<Database>, id: string): Promise<CallDetail | undefined> {
  const row = await callsQuery(db, {}).where('calls.id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  const [turns, events, records, reports, recording] = await Promise.all([
    db.selectFrom('turns').selectAll().where('call_id', '=', id).orderBy('seq').orderBy('id').execute(),
    db.selectFrom('events').selectAll().where('call_id', '=', id).orderBy('seq').orderBy('id').execute(),
    db.selectFrom('records').selectAll().where('call_id', '=', id).orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('reports').selectAll().where('call_id', '=', id).orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('recordings').selectAll().where('call_id', '=', id).executeTakeFirst(),
  ]);
  // Timelines sit on the turn rows; a `turn` event carries one too when the writer kept it as an event.
  const timelines: unknown[] = [
    ...events.filter((e) => e.type === 'turn').map((e) => (e.data as { timeline?: unknown }).timeline),
    ...turns.map((t) => t.timeline).filter((t) => t !== null),
  ];
  return {
    call: { ...callItem(row), usage: row.usage, states: row.states },
    turns: turns.map((t) => ({
      seq: num(t.seq),
      turn: numOrNull(t.turn),
      speaker: t.speaker,
      text: t.text,
      confidence: numOrNull(t.confidence),
      intent: t.intent,
      slots: t.slots,
      cut: t.cut,
      heard: t.heard,
      atMs: num(t.at_ms),
      timeline: t.timeline,
    })),
    events: events.map((e) => ({ seq: num(e.seq), atMs: num(e.at_ms), type: e.type, data: e.data })),
    records: records.map(recordItem),
    reports: reports.map((r) => ({ id: num(r.id), kind: r.kind, data: r.data, createdAt: iso(r.created_at) })),
    recording: recording
      ? {
          path: recording.path,
          format: recording.format,
          sampleRate: num(recording.sample_rate),
          channels: num(recording.channels),
          durationMs: num(recording.duration_ms),
          bytes: num(recording.bytes),
          complete: recording.complete,
          createdAt: iso(recording.created_at),
          expiresAt: isoOrNull(recording.expires_at),
        }
      : null,
    latencies: callLatencies(timelines),
  };
}

/** The recordings row of a call, for the download route. */
export async function getRecording(db: Kysely<Database>, callId: string): Promise<{ path: string; format: string; complete: boolean } | undefined> {
  return db.selectFrom('recordings').select(['path', 'format', 'complete']).where('call_id', '=', callId).executeTakeFirst();
}

export async function callExists(db: Kysely<Database>, id: string): Promise<boolean> {
  return (await db.selectFrom('calls').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

/** A top-level key of a record's data: letters, digits, `_`, `-` and `.`, as flows name their fields. */
export const DATA_FIELD = /^[\p{L}_][\p{L}\p{N}_.-]{0,63}$/u;

type RecordsEb = ExpressionBuilder<Database, 'records'>;

function recordConditions(eb: RecordsEb, filter: Omit<RecordListFilter, 'limit' | 'cursor'>): Expression<SqlBool>[] {
  const and: Expression<SqlBool>[] = [];
  if (filter.from) and.push(eb('records.created_at', '>=', filter.from));
  if (filter.to) and.push(eb('records.created_at', '<', filter.to));
  if (filter.kind) and.push(eb('records.kind', '=', filter.kind));
  if (filter.flow) and.push(eb('records.flow', '=', filter.flow));
  if (filter.callId) and.push(eb('records.call_id', '=', filter.callId));
  for (const { field, value } of filter.match ?? []) {
    if (!DATA_FIELD.test(field)) throw badRequest('match', `"${field}" is not a field name (letters, digits, _ . -)`);
    and.push(sql<SqlBool>`${sql.ref('records.data')} ->> ${field} = ${value}`);
  }
  return and;
}

function recordsQuery(db: Kysely<Database>, filter: Omit<RecordListFilter, 'limit' | 'cursor'>) {
  return db
    .selectFrom('records')
    .selectAll('records')
    .select(utcText('records.created_at').as('sort_at'))
    .where((eb) => eb.and(recordConditions(eb, filter)));
}

async function recordsPage(db: Kysely<Database>, filter: RecordListFilter): Promise<{ rows: RecordItem[]; next?: string }> {
  const after = filter.cursor !== undefined ? decodeCursor('records', filter.cursor) : undefined;
  const rows = await recordsQuery(db, filter)
    .$if(after !== undefined, (qb) => qb.where(sql<SqlBool>`(${sql.ref('records.created_at')}, ${sql.ref('records.id')}) < (${after?.at}::timestamptz, ${Number(after?.id)}::bigint)`))
    .orderBy('records.created_at', 'desc')
    .orderBy('records.id', 'desc')
    .limit(filter.limit + 1)
    .execute();
  if (rows.length <= filter.limit) return { rows: rows.map(recordItem) };
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return { rows: page.map(recordItem), next: encodeCursor('records', { at: last.sort_at, id: num(last.id) }) };
}

/** Records (tickets, leads, callback slots) newest first. */
export async function listRecords(db: Kysely<Database>, filter: RecordListFilter): Promise<Page<RecordItem>> {
  checkLimit(filter.limit);
  const [page, count] = await Promise.all([
    recordsPage(db, filter),
    db
      .selectFrom('records')
      .select(sql<number>`count(*)::int`.as('n'))
      .where((eb) => eb.and(recordConditions(eb, filter)))
      .executeTakeFirstOrThrow(),
  ]);
  return { items: page.rows, ...(page.next ? { next: page.next } : {}), total: num(count.n) };
}

export async function* iterateRecords(db: Kysely<Database>, filter: Omit<RecordListFilter, 'limit' | 'cursor'>, batch = STREAM_BATCH): AsyncGenerator<RecordItem> {
  let cursor: string | undefined;
  do {
    const page = await recordsPage(db, { ...filter, limit: batch, cursor });
    yield* page.rows;
    cursor = page.next;
  } while (cursor);
}

/** The data keys of the records the filter selects, sorted: the CSV export's columns. */
export async function recordDataKeys(db: Kysely<Database>, filter: Omit<RecordListFilter, 'limit' | 'cursor'>): Promise<string[]> {
  const rows = await db
    .selectFrom('records')
    .select(sql<string>`jsonb_object_keys(${sql.ref('records.data')})`.as('key'))
    .where((eb) => eb.and([...recordConditions(eb, filter), sql<SqlBool>`jsonb_typeof(${sql.ref('records.data')}) = 'object'`]))
    .distinct()
    .execute();
  return rows.map((r) => r.key).sort();
}
