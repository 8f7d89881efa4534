import { describe, expect, it } from 'vitest';
import { contentRange, parseRange } from './http-range.js';

describe('parseRange', () => {
  it('reads the three single-range forms, clamped to the file', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=990-', 1000)).toEqual({ kind: 'partial', start: 990, end: 999 });
    expect(parseRange('bytes=-10', 1000)).toEqual({ kind: 'partial', start: 990, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ kind: 'partial', start: 0, end: 999 });
    expect(parseRange('bytes=500-5000', 1000)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(contentRange({ kind: 'partial', start: 0, end: 99 }, 1000)).toBe('bytes 0-99/1000');
  });

  it('is unsatisfiable at or past the end, or for an empty suffix', () => {
    expect(parseRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=1000-2000', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores what it does not serve: no header, several ranges, other units, bad syntax', () => {
    for (const header of [undefined, 'bytes=0-1,5-6', 'items=0-1', 'bytes=9-3', 'bytes=-', 'bytes=a-b', '']) {
      expect(parseRange(header, 1000), String(header)).toEqual({ kind: 'full' });
    }
  });
});
