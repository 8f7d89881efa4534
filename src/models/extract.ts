/**
 * Unpacks .tar.bz2 model archives with the system `tar` (Debian: tar and
 * bzip2). No npm package installed here decompresses bzip2, and GNU tar also
 * refuses member names that climb out of the target folder.
 */
import { spawn } from 'node:child_process';
import { PalabreError } from '../errors.js';

export async function extractTarBz2(archive: string, destDir: string, signal?: AbortSignal): Promise<void> {
  const args = ['-xjf', archive, '-C', destDir, '--no-same-owner', '--no-same-permissions'];
  await new Promise<void>((resolve, reject) => {
    const child = spawn('tar', args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.name === 'AbortError') reject(new PalabreError('aborted', `unpacking ${archive} was cancelled`));
      else if (err.code === 'ENOENT') reject(new PalabreError('engine_unavailable', 'cannot unpack .tar.bz2 models: the `tar` program is not installed (apt-get install tar bzip2)'));
      else reject(new PalabreError('download_failed', `cannot run tar: ${err.message}`, { cause: err }));
    });
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const hint = /bzip2: (Cannot exec|not found)|bzip2: No such file/i.test(stderr) ? ' (install bzip2)' : '';
        reject(new PalabreError('download_failed', `cannot unpack ${archive}: tar exited with code ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}${hint}`));
      }
    });
  });
}
