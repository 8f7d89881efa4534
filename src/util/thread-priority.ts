/**
 * Sets the calling thread's niceness. Only on Linux, where a thread id given
 * to setpriority() names one thread rather than the whole process, so a worker
 * can change its own priority and no other. Raising a priority (nice < 0)
 * needs CAP_SYS_NICE (root outside a container, or `AmbientCapabilities=
 * CAP_SYS_NICE` / `Nice=` under systemd); lowering one never does.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

export type ThreadPriorityResult = { ok: true; nice: number; tid: number } | { ok: false; reason: string };

export function setThreadNice(nice: number): ThreadPriorityResult {
  if (process.platform !== 'linux') return { ok: false, reason: `per-thread priority is only set on Linux (this is ${process.platform})` };
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch (err) {
    return { ok: false, reason: `cannot name this thread: ${(err as Error).message}` };
  }
  if (!Number.isInteger(tid) || tid <= 0) return { ok: false, reason: 'cannot name this thread' };
  try {
    setPriority(tid, nice);
    return { ok: true, nice, tid };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'not permitted: raising a priority needs CAP_SYS_NICE (root, or AmbientCapabilities=CAP_SYS_NICE under systemd; containers drop it unless given --cap-add SYS_NICE)' : (err as Error).message;
    return { ok: false, reason: `cannot set this thread's niceness to ${nice}: ${why}` };
  }
}
