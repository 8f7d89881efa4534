/**
 * Where a recording lives: `YYYY/MM/DD/<call id>.<ext>` under the recordings
 * directory (one directory per day keeps listings short), with the call id
 * made safe for a file name. The row in `recordings` keeps that relative path.
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { PalabreError } from '../errors.js';

export type RecordingFormat = 'wav' | 'ogg' | 'mp3';

export const RECORDING_FORMATS: readonly RecordingFormat[] = ['wav', 'ogg', 'mp3'];

/** A call id as a file name: letters, digits, `.`, `_`, `-` kept, the rest `_`, at most 120 characters. */
export function fileStem(callId: string): string {
  const safe = callId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 120);
  return safe === '' ? '_' : safe;
}

/** The relative path of a call's recording started at `at` (UTC date). */
export function recordingPath(callId: string, at: Date, format: RecordingFormat): string {
  const y = String(at.getUTCFullYear());
  const m = String(at.getUTCMonth() + 1).padStart(2, '0');
  const d = String(at.getUTCDate()).padStart(2, '0');
  return [y, m, d, `${fileStem(callId)}.${format}`].join('/');
}

/** `path` with another extension. */
export function withFormat(path: string, format: RecordingFormat): string {
  return path.replace(/\.[A-Za-z0-9]+$/, '') + `.${format}`;
}

/**
 * The absolute file of a relative recording path, refusing paths that leave
 * the directory (a row edited by hand must not make the purge delete elsewhere).
 */
export function resolveInDir(dir: string, path: string): string {
  const root = resolve(dir);
  const full = resolve(root, path);
  const rel = relative(root, full);
  if (path === '' || isAbsolute(path) || rel === '' || rel.startsWith('..') || rel.split(sep).includes('..')) {
    throw new PalabreError('bad_request', `recording path "${path}" is not inside the recordings directory ${root}`);
  }
  return join(root, rel);
}
