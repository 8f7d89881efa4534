/**
 * The operator API: calls with their transcripts, events, latencies and
 * records, recordings with HTTP range requests, the records flows saved,
 * the support line's figures, and CSV exports. Every route sits behind the
 * admin guard (admin-auth.ts; the rule is in auth.ts). Registered only when
 * the server has a store.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PalabreError } from '../../errors.js';
import { resolveInDir } from '../../recording/paths.js';
import { csvChunks } from '../../store/csv.js';
import {
  CALL_OUTCOMES,
  type CallListItem,
  PAGE_LIMITS,
  type RecordItem,
  callExists,
  getCall,
  getRecording,
  iterateCalls,
  iterateRecords,
  listCalls,
  listRecords,
  recordDataKeys,
  searchTerms,
} from '../../store/queries.js';
import type { CallOutcome } from '../../store/schema.js';
import { callStats } from '../../store/stats.js';
import type { Store } from '../../store/types.js';
import { adminGuard, signRecordingLink, verifyRecordingLink } from '../admin-auth.js';
import { contentRange, parseRange } from '../http-range.js';
import { operatorSchemaErrors, parseDateRange, parseMatch, serverTimeZone, statsRange } from './operator-params.js';
import { callDetailSchema, callItemSchema, errorSchema, recordItemSchema, statsSchema } from './operator-schemas.js';

export interface OperatorRoutesOptions {
  store: Store;
  /** Where recording files live; the recordings rows hold paths relative to it. */
  recordingsDir: string;
  adminToken?: string;
  /** server.host: whether the operator API may answer without a token, until the server says where it listens. */
  configuredHost: string;
  /** How long a recording link handed out with a call stays valid. */
  linkTtlSec?: number;
}

const AUDIO_TYPES: Record<string, string> = { wav: 'audio/wav', ogg: 'audio/ogg', mp3: 'audio/mpeg', opus: 'audio/ogg', webm: 'audio/webm' };

const dateParam = { type: 'string', description: "YYYY-MM-DD (that day in the server's time zone) or an ISO date-time with offset" };
const limitParam = { type: 'integer', minimum: PAGE_LIMITS.min, maximum: PAGE_LIMITS.max, default: PAGE_LIMITS.default, description: 'Items per page' };
const cursorParam = { type: 'string', description: 'The `next` of the previous page' };

const callFilterProps = {
  from: { ...dateParam, description: `Calls started at or after (${dateParam.description})` },
  to: { ...dateParam, description: 'Calls started before (a bare date includes that day)' },
  flow: { type: 'string', minLength: 1 },
  outcome: { type: 'string', enum: [...CALL_OUTCOMES] },
  transport: { type: 'string', minLength: 1 },
  caller: { type: 'string', minLength: 1, description: 'Part of the caller id' },
  q: { type: 'string', maxLength: 500, description: 'Words (or "quoted phrases") all said in the call, whole words, any case' },
} as const;

const recordFilterProps = {
  from: { ...dateParam, description: `Records saved at or after (${dateParam.description})` },
  to: { ...dateParam, description: 'Records saved before (a bare date includes that day)' },
  kind: { type: 'string', minLength: 1, description: "The flow's record name: ticket, lead…" },
  flow: { type: 'string', minLength: 1 },
  callId: { type: 'string', minLength: 1 },
  match: { type: 'array', items: { type: 'string' }, maxItems: 10, description: '`field=value` on the record data (top-level field, compared as text); repeat for several' },
} as const;

const bomParam = { type: 'boolean', default: false, description: 'Start with a UTF-8 byte order mark (Excel needs it to read accents)' };

interface CallFilterQuery {
  from?: string;
  to?: string;
  flow?: string;
  outcome?: CallOutcome;
  transport?: string;
  caller?: string;
  q?: string;
}

interface RecordFilterQuery {
  from?: string;
  to?: string;
  kind?: string;
  flow?: string;
  callId?: string;
  match?: string[];
}

function callFilter(query: CallFilterQuery) {
  const filter = { ...parseDateRange(query), flow: query.flow, outcome: query.outcome, transport: query.transport, caller: query.caller, q: query.q };
  searchTerms(query.q ?? '');
  return filter;
}

function recordFilter(query: RecordFilterQuery) {
  return { ...parseDateRange(query), kind: query.kind, flow: query.flow, callId: query.callId, match: parseMatch(query.match) };
}

function notFound(message: string): PalabreError {
  return new PalabreError('not_found', message);
}

/** The generator's first item is fetched before the answer starts, so a failing query is still a proper error response. */
async function primed<T>(items: AsyncGenerator<T>): Promise<AsyncGenerator<T>> {
  const first = await items.next();
  return (async function* () {
    if (first.done) return;
    yield first.value;
    yield* items;
  })();
}

function sendCsv(reply: FastifyReply, name: string, chunks: AsyncIterable<string>): FastifyReply {
  const stamp = new Date().toISOString().slice(0, 19).replace(/:/g, '');
  return reply
    .header('content-type', 'text/csv; charset=utf-8; header=present')
    .header('content-disposition', `attachment; filename="${name}-${stamp}.csv"`)
    .header('cache-control', 'no-store')
    .send(Readable.from(chunks));
}

const CALL_COLUMNS: Array<[string, (c: CallListItem) => unknown]> = [
  ['id', (c) => c.id],
  ['started_at', (c) => c.startedAt],
  ['ended_at', (c) => c.endedAt],
  ['duration_ms', (c) => c.durationMs],
  ['transport', (c) => c.transport],
  ['external_id', (c) => c.externalId],
  ['caller_id', (c) => c.callerId],
  ['flow', (c) => c.flow],
  ['language', (c) => c.language],
  ['outcome', (c) => c.outcome],
  ['end_reason', (c) => c.endReason],
  ['end_detail', (c) => c.endDetail],
  ['sentiment', (c) => c.sentiment],
  ['sentiment_score', (c) => c.sentimentScore],
  ['turn_count', (c) => c.turnCount],
  ['barge_ins', (c) => c.bargeIns],
  ['error_count', (c) => c.errorCount],
  ['mean_turn_latency_ms', (c) => c.meanTurnLatencyMs],
  ['cost', (c) => c.cost],
  ['has_recording', (c) => c.hasRecording],
];

export async function operatorRoutes(app: FastifyInstance, options: OperatorRoutesOptions): Promise<void> {
  const { store, adminToken } = options;
  const db = store.db;
  const recordingsDir = resolve(options.recordingsDir);
  const linkTtlSec = options.linkTtlSec ?? 3600;
  const listenAddress = () => {
    const a = app.server.address();
    return a && typeof a === 'object' ? a.address : undefined;
  };
  const guardOptions = { adminToken, listenAddress, configuredHost: options.configuredHost };
  const guard = adminGuard(guardOptions);
  const recordingGuard = adminGuard(guardOptions, (request) => {
    const { id } = request.params as { id: string };
    // onRequest runs before the query is validated: exp is still text here.
    const { exp, sig } = request.query as { exp?: string; sig?: string };
    const expSec = typeof exp === 'string' && /^\d{1,12}$/.test(exp) ? Number(exp) : undefined;
    return adminToken !== undefined && verifyRecordingLink(adminToken, id, expSec, sig, Math.floor(Date.now() / 1000));
  });
  const common = { onRequest: guard, schemaErrorFormatter: operatorSchemaErrors };
  const security = adminToken ? [{ bearer: [] }] : [];
  const tags = ['operator'];
  const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema };

  app.get<{ Querystring: CallFilterQuery & { limit: number; cursor?: string } }>(
    '/api/calls',
    {
      ...common,
      schema: {
        summary: 'Calls, newest first, with filters and keyset pagination',
        tags,
        security,
        querystring: { type: 'object', additionalProperties: false, properties: { ...callFilterProps, limit: limitParam, cursor: cursorParam } },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: callItemSchema }, next: { type: 'string', description: 'Absent on the last page' }, total: { type: 'integer', description: 'Calls matching the filters' } },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      return listCalls(db, { ...callFilter(request.query), limit, cursor });
    },
  );

  app.get<{ Querystring: CallFilterQuery & { bom: boolean } }>(
    '/api/calls.csv',
    {
      ...common,
      schema: {
        summary: 'Every call the filters select, as CSV (RFC 4180), streamed',
        tags,
        security,
        produces: ['text/csv'],
        querystring: { type: 'object', additionalProperties: false, properties: { ...callFilterProps, bom: bomParam } },
        response: errors,
      },
    },
    async (request, reply) => {
      const rows = await primed(iterateCalls(db, callFilter(request.query)));
      const header = CALL_COLUMNS.map(([name]) => name);
      return sendCsv(reply, 'calls', csvChunks(header, rows, (c) => CALL_COLUMNS.map(([, get]) => get(c)), { bom: request.query.bom }));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/calls/:id',
    {
      ...common,
      schema: {
        summary: 'One call: transcript, events, records, recording, latencies, cost',
        tags,
        security,
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] },
        response: { 200: callDetailSchema, ...errors },
      },
    },
    async (request) => {
      const { id } = request.params;
      const detail = await getCall(db, id);
      if (!detail) throw notFound(`no call with id "${id}"`);
      const base = `/api/calls/${encodeURIComponent(id)}/recording`;
      const url = adminToken ? `${base}?${signRecordingLink(adminToken, id, Math.floor(Date.now() / 1000) + linkTtlSec)}` : base;
      return { ...detail, recording: detail.recording ? { ...detail.recording, url } : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/calls/:id/recording',
    {
      onRequest: recordingGuard,
      schemaErrorFormatter: operatorSchemaErrors,
      schema: {
        summary: "The call's recording (caller and bot on separate channels); supports Range requests",
        description: 'Send `Authorization: Bearer <adminToken>`, or use the signed `recording.url` of GET /api/calls/{id} (for an <audio> element).',
        tags,
        security,
        produces: ['audio/wav', 'audio/ogg', 'audio/mpeg'],
        params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'] },
        querystring: { type: 'object', additionalProperties: false, properties: { exp: { type: 'integer' }, sig: { type: 'string' } } },
        response: { ...errors, 416: errorSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const row = await getRecording(db, id);
      if (!row) throw notFound((await callExists(db, id)) ? `call "${id}" has no recording` : `no call with id "${id}"`);
      let file: string;
      try {
        file = resolveInDir(recordingsDir, row.path);
      } catch (err) {
        // A row pointing outside the directory is the store's fault, not the client's.
        throw new PalabreError('internal', `call "${id}": ${(err as Error).message}`);
      }
      let info;
      try {
        info = await stat(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`the recording file of call "${id}" is missing: ${file}`);
        throw err;
      }
      if (!info.isFile()) throw notFound(`the recording of call "${id}" is not a file: ${file}`);
      const size = info.size;
      const etag = `"${size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
      const type = AUDIO_TYPES[row.format.toLowerCase()] ?? 'application/octet-stream';
      void reply
        .header('accept-ranges', 'bytes')
        .header('content-type', type)
        .header('etag', etag)
        .header('last-modified', info.mtime.toUTCString())
        .header('cache-control', 'private, no-cache');
      // If-Range: the range only applies to the file the client saw before (a recording still being written changes).
      const ifRange = request.headers['if-range'];
      const sameFile = ifRange === undefined || ifRange === etag || ifRange === info.mtime.toUTCString();
      const range = sameFile ? parseRange(request.headers.range, size) : ({ kind: 'full' } as const);
      if (range.kind === 'unsatisfiable') {
        return reply
          .status(416)
          .header('content-type', 'application/json; charset=utf-8')
          .header('content-range', `bytes */${size}`)
          .send({ error: 'range_not_satisfiable', message: `range "${request.headers.range}" is outside the recording (${size} bytes)`, statusCode: 416 });
      }
      if (range.kind === 'partial') {
        return reply
          .status(206)
          .header('content-range', contentRange(range, size))
          .header('content-length', range.end - range.start + 1)
          .send(createReadStream(file, { start: range.start, end: range.end }));
      }
      return reply.header('content-length', size).send(createReadStream(file));
    },
  );

  app.get<{ Querystring: RecordFilterQuery & { limit: number; cursor?: string } }>(
    '/api/records',
    {
      ...common,
      schema: {
        summary: 'Records flows saved (tickets, leads, callback slots), newest first',
        tags,
        security,
        querystring: { type: 'object', additionalProperties: false, properties: { ...recordFilterProps, limit: limitParam, cursor: cursorParam } },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: recordItemSchema }, next: { type: 'string' }, total: { type: 'integer' } } },
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      return listRecords(db, { ...recordFilter(request.query), limit, cursor });
    },
  );

  app.get<{ Querystring: RecordFilterQuery & { bom: boolean } }>(
    '/api/records.csv',
    {
      ...common,
      schema: {
        summary: 'Every record the filters select, as CSV (RFC 4180), one column per data field, streamed',
        tags,
        security,
        produces: ['text/csv'],
        querystring: { type: 'object', additionalProperties: false, properties: { ...recordFilterProps, bom: bomParam } },
        response: errors,
      },
    },
    async (request, reply) => {
      const filter = recordFilter(request.query);
      const keys = await recordDataKeys(db, filter);
      const rows = await primed(iterateRecords(db, filter));
      const header = ['id', 'call_id', 'created_at', 'flow', 'kind', ...keys];
      return sendCsv(reply, 'records', csvChunks(header, rows, (r: RecordItem) => [r.id, r.callId, r.createdAt, r.flow, r.kind, ...keys.map((k) => r.data[k])], { bom: request.query.bom }));
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; problemField: string } }>(
    '/api/stats',
    {
      ...common,
      schema: {
        summary: "The support line's figures for calls started in a range (default: today in the server's time zone)",
        tags,
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { ...dateParam, description: 'Start of the range (default: the local midnight before `to`, or today)' },
            to: { ...dateParam, description: 'End of the range, exclusive; a bare date includes that day (default: the local midnight after `from`)' },
            problemField: { type: 'string', default: 'problem', description: 'Data field of the records counted as problem types' },
          },
        },
        response: { 200: statsSchema, ...errors },
      },
    },
    async (request) => {
      const range = statsRange(parseDateRange(request.query));
      const stats = await callStats(db, range, { problemField: request.query.problemField });
      return { ...stats, timeZone: serverTimeZone() };
    },
  );
}
