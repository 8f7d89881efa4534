/**
 * A lock file holding the owner's pid, so a second process never opens the
 * same embedded database. A lock left by a process that died (kill -9) is
 * taken over: the pid it names is no longer running.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PalabreError } from '../errors.js';

export interface DirLock {
  release(): void;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function acquireDirLock(path: string, what: string): DirLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new PalabreError('internal', `cannot create the lock file ${path}: ${(err as Error).message}`, { cause: err });
    }
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && running(pid)) {
      const who = pid === process.pid ? 'this process' : `process ${pid}`;
      throw new PalabreError('internal', `${what} is in use by ${who} (lock file ${path}); stop it first, or use PostgreSQL (store.url) to share the store`);
    }
    rmSync(path, { force: true });
  }
  throw new PalabreError('internal', `cannot take the lock file ${path}: another process keeps creating it`);
}
