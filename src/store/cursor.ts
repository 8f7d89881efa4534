/**
 * Keyset cursors for the operator lists: the sort key of the last row of a
 * page, `(timestamp, id)`, newest first. The timestamp is kept as the
 * database's own text with microseconds, because a JS Date would round it to
 * the millisecond and a page boundary could then skip or repeat rows.
 * Opaque to clients (base64url JSON), checked strictly when it comes back.
 */
import { PalabreError } from '../errors.js';

export type CursorList = 'calls' | 'records';

export interface Cursor {
  /** UTC timestamp as `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  at: string;
  id: string | number;
}

const AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function encodeCursor(list: CursorList, cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ l: list, a: cursor.at, i: cursor.id })).toString('base64url');
}

function badCursor(why: string): PalabreError {
  return new PalabreError('bad_request', `cursor: ${why}; pass the \`next\` value of the previous page unchanged`, { details: { parameter: 'cursor' } });
}

export function decodeCursor(list: CursorList, text: string): Cursor {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw badCursor('not a cursor this server gave');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badCursor('not a cursor this server gave');
  }
  const v = value as { l?: unknown; a?: unknown; i?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.a !== 'string' || !AT.test(v.a)) throw badCursor('not a cursor this server gave');
  if (v.l !== list) throw badCursor(`it belongs to the ${String(v.l)} list, not ${list}`);
  const idOk = list === 'calls' ? typeof v.i === 'string' && v.i.length > 0 : Number.isSafeInteger(v.i) && (v.i as number) > 0;
  if (!idOk) throw badCursor('not a cursor this server gave');
  return { at: v.a, id: v.i as string | number };
}
