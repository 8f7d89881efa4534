import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PalabreError } from '../errors.js';

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (err as Error).message;
}

export async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PalabreError('bad_request', code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${why(err)}`);
  }
}

const noDirectory = (path: string) => new PalabreError('bad_request', `cannot write ${path}: its directory does not exist`);

/** Fails before the engines load (seconds) when the output file could obviously not be written. */
export async function checkOutputPath(path: string): Promise<void> {
  const info = await stat(dirname(path)).catch(() => undefined);
  if (!info?.isDirectory()) throw noDirectory(path);
}

export async function writeOutputFile(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw code === 'ENOENT' ? noDirectory(path) : new PalabreError('bad_request', `cannot write ${path}: ${why(err)}`);
  }
}
