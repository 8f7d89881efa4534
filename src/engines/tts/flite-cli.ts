import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { Limiter } from './limiter.js';

/**
 * The Debian `flite` program. It cannot read text from a pipe (it seeks in its input),
 * so the text goes as the argument of `-t` (spawned without a shell, so nothing in it is
 * interpreted). It cannot write to Node's stdio either (a socket, which `-o /dev/stdout`
 * fails to open), so it writes into a private temporary directory that is removed
 * whatever happens.
 */
export class FliteCli {
  private readonly limiter: Limiter;
  private closed = false;
  private readonly children = new Set<ReturnType<typeof spawn>>();

  constructor(
    readonly program: string,
    maxProcesses: number,
    maxQueue: number,
  ) {
    this.limiter = new Limiter(maxProcesses, maxQueue, 'flite (program)');
  }

  /** Runs flite and returns the WAV it wrote to stdout. */
  async run(args: string[], signal?: AbortSignal): Promise<Uint8Array> {
    throwIfAborted(signal, 'flite synthesis');
    const release = await this.limiter.acquire(signal);
    try {
      if (this.closed) throw new PalabreError('engine_unavailable', 'flite was closed');
      throwIfAborted(signal, 'flite synthesis');
      const dir = await mkdtemp(join(tmpdir(), 'palabre-flite-'));
      try {
        const out = join(dir, 'out.wav');
        await this.spawnOnce([...args, '-o', out], signal);
        return await readFile(out);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.limiter.rejectAll(new PalabreError('engine_unavailable', 'flite was closed'));
    for (const c of this.children) c.kill('SIGKILL');
  }

  private spawnOnce(args: string[], signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.children.add(child);
      let stderr = '';
      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        child.kill('SIGKILL');
        reject(new PalabreError('aborted', 'flite synthesis was cancelled', { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.resume();
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2048)));
      child.on('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'ENOENT' ? `the flite program '${this.program}' is not on PATH` : `could not run '${this.program}': ${e.message}`;
        reject(new PalabreError(e.code === 'ENOENT' ? 'engine_unavailable' : 'engine_failed', why, { cause: e }));
      });
      child.on('close', (code, sig) => {
        this.children.delete(child);
        signal?.removeEventListener('abort', onAbort);
        if (aborted) return;
        if (code === 0) resolve();
        else reject(new PalabreError('engine_failed', `flite exited with ${sig ?? `code ${code}`}: ${stderr.trim() || 'no message'}`));
      });
    });
  }
}
