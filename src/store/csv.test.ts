import { describe, expect, it } from 'vitest';
import { csvChunks, csvField, csvLine } from './csv.js';

describe('CSV (RFC 4180)', () => {
  it('quotes only fields with a quote, comma, CR or LF, doubling quotes', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(' kept ')).toBe(' kept ');
    expect(csvField('=1+1')).toBe('=1+1');
  });

  it('writes null as empty, dates as ISO, objects as JSON', () => {
    expect(csvLine([null, undefined, 0, false, new Date(Date.UTC(2025, 0, 2)), { a: [1, 'x'] }])).toBe(',,0,false,2025-01-02T00:00:00.000Z,"{""a"":[1,""x""]}"\r\n');
  });

  it('streams a header and rows in chunks, with an optional BOM', async () => {
    async function* rows() {
      for (let i = 0; i < 1000; i++) yield { n: i, s: `row ${i}` };
    }
    const chunks: string[] = [];
    for await (const c of csvChunks(['n', 's'], rows(), (r) => [r.n, r.s], { bom: true, chunkChars: 1000 })) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(5);
    const text = chunks.join('');
    expect(text.startsWith('\uFEFFn,s\r\n0,row 0\r\n')).toBe(true);
    expect(text.endsWith('999,row 999\r\n')).toBe(true);
    expect(text.split('\r\n')).toHaveLength(1002);
  });
});
