/**
 * Text as PostgreSQL takes it: a NUL character or a lone UTF-16 surrogate
 * (an STT or a webhook can produce either) makes the database refuse the
 * whole row, so they are replaced before writing.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function cleanText(s: string): string {
  return s.replaceAll('\u0000', '').replace(LONE_SURROGATE, '\ufffd');
}

/** JSON text for a jsonb column, with every string cleaned and non-JSON values (undefined, functions) left out as JSON.stringify does. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === 'string' ? cleanText(v) : typeof v === 'bigint' ? Number(v) : v));
}
