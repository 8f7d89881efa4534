/**
 * CSV as RFC 4180 says: comma-separated fields, CRLF after every record, a
 * field quoted (and its quotes doubled) when it holds a quote, a comma, CR or
 * LF. Values are written exactly as stored; nothing is prefixed or trimmed.
 */

/** One field: empty for null, ISO for dates, JSON for objects and arrays. */
export function csvField(value: unknown): string {
  let text: string;
  if (value === null || value === undefined) text = '';
  else if (value instanceof Date) text = value.toISOString();
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(fields: readonly unknown[]): string {
  return fields.map(csvField).join(',') + '\r\n';
}

/** Excel only reads a CSV file as UTF-8 when it starts with this mark. */
export const UTF8_BOM = '\uFEFF';

/**
 * A header line, then one line per row, as chunks of about `chunkChars`
 * characters: the rows are pulled only as fast as the reader takes chunks.
 */
export async function* csvChunks<T>(header: readonly string[], rows: AsyncIterable<T>, fields: (row: T) => readonly unknown[], options: { bom?: boolean; chunkChars?: number } = {}): AsyncGenerator<string> {
  const limit = options.chunkChars ?? 64 * 1024;
  let chunk = (options.bom ? UTF8_BOM : '') + csvLine(header);
  for await (const row of rows) {
    chunk += csvLine(fields(row));
    if (chunk.length >= limit) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}
