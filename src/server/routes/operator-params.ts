/**
 * The operator API's query parameters as values the queries take, each
 * refusal a 400 that names the parameter. Dates are ISO 8601: a date-time
 * with its offset (`2025-03-01T08:00:00Z`, `…+01:00`), or a bare date, which
 * means that day in the server's time zone; a bare `to` date includes the
 * whole day.
 */
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { PalabreError } from '../../errors.js';
import { DATA_FIELD } from '../../store/queries.js';

export function badParam(parameter: string, message: string): PalabreError {
  return new PalabreError('bad_request', `${parameter}: ${message}`, { details: { parameter } });
}

/** The IANA zone the server's local time is in (bare dates and the default stats day use it). */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Local midnight of a calendar day, or undefined when the day does not exist (2025-02-30). */
function localDay(y: number, m: number, d: number): Date | undefined {
  const date = new Date(y, m - 1, d);
  return date.getFullYear() === y && date.getMonth() === m - 1 && date.getDate() === d ? date : undefined;
}

/** `edge` says which end of a bare date's day a bound takes. */
export function parseDateParam(parameter: string, raw: string, edge: 'start' | 'end'): Date {
  // An unencoded `+` in a query string arrives as a space.
  const text = raw.trim().replace(/ (\d{2}:\d{2})$/, '+$1');
  const day = DATE.exec(text);
  if (day) {
    const [y, m, d] = [Number(day[1]), Number(day[2]), Number(day[3])];
    const date = localDay(y, m, d);
    if (!date) throw badParam(parameter, `"${raw}" is not a calendar date`);
    return edge === 'start' ? date : new Date(y, m - 1, d + 1);
  }
  if (DATE_TIME.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw badParam(parameter, `"${raw}" is not a date: use YYYY-MM-DD (a day in the server's time zone, ${serverTimeZone()}) or an ISO date-time with its offset such as 2025-03-01T08:00:00Z`);
}

export interface DateRange {
  from?: Date;
  to?: Date;
}

export function parseDateRange(query: { from?: string; to?: string }): DateRange {
  const from = query.from !== undefined ? parseDateParam('from', query.from, 'start') : undefined;
  const to = query.to !== undefined ? parseDateParam('to', query.to, 'end') : undefined;
  if (from && to && from.getTime() >= to.getTime()) throw badParam('to', `must be after from (${from.toISOString()} … ${to.toISOString()} is empty)`);
  return { from, to };
}

function midnightBefore(t: Date): Date {
  return new Date(t.getFullYear(), t.getMonth(), t.getDate());
}

function midnightAfter(t: Date): Date {
  return new Date(t.getFullYear(), t.getMonth(), t.getDate() + 1);
}

/**
 * The stats range, in the server's time zone: today by default; `from`
 * alone runs to the end of its day, `to` alone from the start of the day
 * it ends in.
 */
export function statsRange(asked: DateRange, now = new Date()): { from: Date; to: Date } {
  if (asked.from && asked.to) return { from: asked.from, to: asked.to };
  if (asked.from) return { from: asked.from, to: midnightAfter(asked.from) };
  if (asked.to) return { from: midnightBefore(new Date(asked.to.getTime() - 1)), to: asked.to };
  return { from: midnightBefore(now), to: midnightAfter(now) };
}

/** `field=value` pairs matched against records' data. */
export function parseMatch(raw: string | string[] | undefined): Array<{ field: string; value: string }> {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  return list.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw badParam('match', `"${item}" is not field=value (e.g. match=problem=no_heating)`);
    const field = item.slice(0, eq).trim();
    if (!DATA_FIELD.test(field)) throw badParam('match', `"${field}" is not a field name (letters, digits, _ . -)`);
    return { field, value: item.slice(eq + 1) };
  });
}

/** Route validation errors as `<parameter>: <what is wrong>`, instead of ajv's `querystring/limit must be <= 500`. */
export function operatorSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errors[0];
  const params = (e?.params ?? {}) as Record<string, unknown>;
  const name = e?.instancePath ? e.instancePath.slice(1).replace(/\/\d+$/, '') : String(params.missingProperty ?? params.additionalProperty ?? dataVar);
  let what: string;
  switch (e?.keyword) {
    case 'enum':
      what = `must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
      break;
    case 'additionalProperties':
      what = `unknown ${dataVar === 'querystring' ? 'query parameter' : 'field'}`;
      break;
    case 'type':
      what = `must be ${params.type === 'integer' ? 'an integer' : `a ${String(params.type)}`}`;
      break;
    default:
      what = e?.message ?? 'is not valid';
  }
  return badParam(name, what);
}
