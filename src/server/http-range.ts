/**
 * The `Range` request header for one file (RFC 9110 §14): `bytes=a-b`,
 * `bytes=a-` and the suffix form `bytes=-n`. Only single ranges are served;
 * a header this server does not serve (several ranges, another unit, bad
 * syntax) is ignored and the whole file sent, as the RFC allows. A range
 * that cannot be satisfied (starts at or past the end, or an empty suffix)
 * gets 416 and a Content-Range that gives only the size.
 */

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const SINGLE = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/** `end` is inclusive, as in Content-Range. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = SINGLE.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { kind: 'partial', start, end: last };
}

export function contentRange(result: RangeResult & { kind: 'partial' }, size: number): string {
  return `bytes ${result.start}-${result.end}/${size}`;
}
