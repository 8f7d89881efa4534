import type { FastifyRequest } from 'fastify';
import { PalabreError } from '../errors.js';

export interface MultipartUpload {
  file?: { bytes: Buffer; filename: string; field: string };
  fields: Record<string, string>;
}

/**
 * Reads a multipart form fully into memory (bounded by the multipart limits),
 * so no temporary file is ever written. Exactly one of `fileFields` is taken.
 */
export async function readMultipart(request: FastifyRequest, fileFields: readonly string[]): Promise<MultipartUpload> {
  if (!request.isMultipart()) {
    throw new PalabreError('unsupported_media', `expected multipart/form-data with a "${fileFields[0]}" file field, got ${request.headers['content-type'] ?? 'no content type'}`);
  }
  const out: MultipartUpload = { fields: {} };
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer();
      if (fileFields.includes(part.fieldname) && !out.file) out.file = { bytes, filename: part.filename, field: part.fieldname };
    } else if (typeof part.value === 'string' || typeof part.value === 'number' || typeof part.value === 'boolean') {
      out.fields[part.fieldname] = String(part.value);
    }
  }
  return out;
}

export function requireFile(upload: MultipartUpload, field: string): NonNullable<MultipartUpload['file']> {
  if (!upload.file) throw new PalabreError('bad_request', `the form has no "${field}" file field`);
  return upload.file;
}

/** Hints arrive as a JSON array or a comma-separated list. */
export function parseHints(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (v.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new PalabreError('bad_request', 'hints looks like a JSON array but does not parse');
    }
    if (!Array.isArray(parsed) || !parsed.every((h) => typeof h === 'string')) throw new PalabreError('bad_request', 'hints must be an array of strings');
    return parsed.map((h) => h.trim()).filter(Boolean);
  }
  return v.split(',').map((h) => h.trim()).filter(Boolean);
}
