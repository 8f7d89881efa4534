/**
 * Retention: deletes recordings whose `expires_at` has passed, file first,
 * then row (a file already gone is fine). Files with no row (written while
 * the database was down, or by a run without a store) are deleted once they
 * are older than the retention period. Runs at start-up and then on an
 * interval, one run at a time.
 */
import { readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { Database } from '../store/schema.js';
import type { RecordingCounters } from './counters.js';
import { recordingPath, resolveInDir } from './paths.js';

export interface PurgeOptions {
  dir: string;
  /** The store's database; without it only files are looked at. */
  db?: Kysely<Database>;
  logger: Logger;
  /** Files without a row older than this are deleted; 0 never deletes them. */
  retentionDays: number;
  now?: () => Date;
  counters?: RecordingCounters;
}

export interface PurgeResult {
  /** Expired recordings whose file was deleted. */
  deleted: number;
  /** Expired rows whose file was already gone (the row is deleted all the same). */
  missing: number;
  /** Files that could not be deleted; their rows stay for the next run. */
  failed: number;
  /** Old files with no row, deleted. */
  orphans: number;
}

const BATCH = 500;
const MAX_FAILED = 1000;
const DAY_MS = 86_400_000;
const RECORDING_FILE = /\.(wav|ogg|mp3)(\.part)?$/;

const errCode = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

export async function purgeExpiredRecordings(options: PurgeOptions): Promise<PurgeResult> {
  const result: PurgeResult = { deleted: 0, missing: 0, failed: 0, orphans: 0 };
  const now = options.now?.() ?? new Date();
  const log = options.logger.child({ module: 'recording-purge' });
  if (options.db) await purgeRows(options.db, options.dir, now, result, log);
  if (options.retentionDays > 0) await purgeOrphans(options, new Date(now.getTime() - options.retentionDays * DAY_MS), result, log);
  await pruneEmptyDirs(options.dir, '', now, log);
  if (options.counters) options.counters.purged += result.deleted + result.missing + result.orphans;
  if (result.deleted + result.missing + result.orphans + result.failed > 0) log.info({ ...result }, 'expired recordings purged');
  return result;
}

async function purgeRows(db: Kysely<Database>, dir: string, now: Date, result: PurgeResult, log: Logger): Promise<void> {
  const failedIds: string[] = [];
  for (;;) {
    let query = db.selectFrom('recordings').select(['call_id', 'path']).where('expires_at', '<=', now).orderBy('expires_at').limit(BATCH);
    if (failedIds.length > 0) query = query.where('call_id', 'not in', failedIds);
    const rows = await query.execute();
    const done: string[] = [];
    for (const row of rows) {
      let file: string;
      try {
        file = resolveInDir(dir, row.path);
      } catch (err) {
        // Never delete outside the directory; the row alone goes.
        log.warn({ err, callId: row.call_id }, 'an expired recording row points outside the recordings directory; deleting the row only');
        result.missing++;
        done.push(row.call_id);
        continue;
      }
      try {
        await unlink(file);
        result.deleted++;
        done.push(row.call_id);
      } catch (err) {
        if (errCode(err) === 'ENOENT') {
          result.missing++;
          done.push(row.call_id);
        } else {
          result.failed++;
          failedIds.push(row.call_id);
          log.error({ err, file }, 'could not delete an expired recording; trying again next run');
        }
      }
    }
    if (done.length > 0) await db.deleteFrom('recordings').where('call_id', 'in', done).execute();
    if (rows.length < BATCH || failedIds.length >= MAX_FAILED) return;
  }
}

interface FileSeen {
  rel: string;
  full: string;
}

async function purgeOrphans(options: PurgeOptions, cutoff: Date, result: PurgeResult, log: Logger): Promise<void> {
  const old: FileSeen[] = [];
  await walk(options.dir, '', cutoff, old, log);
  for (let i = 0; i < old.length; i += BATCH) {
    const batch = old.slice(i, i + BATCH);
    let known = new Set<string>();
    if (options.db) {
      const rels = batch.map((f) => f.rel);
      const rows = await options.db.selectFrom('recordings').select('path').where('path', 'in', rels).execute();
      known = new Set(rows.map((r) => r.path));
    }
    for (const f of batch) {
      // A file with a row is the row's business (not expired yet, or kept for ever).
      if (known.has(f.rel)) continue;
      try {
        await unlink(f.full);
        result.orphans++;
      } catch (err) {
        if (errCode(err) !== 'ENOENT') {
          result.failed++;
          log.error({ err, file: f.full }, 'could not delete an old recording file with no row');
        }
      }
    }
  }
}

async function walk(root: string, rel: string, cutoff: Date, out: FileSeen[], log: Logger): Promise<void> {
  let entries;
  try {
    entries = await readdir(join(root, rel), { withFileTypes: true });
  } catch (err) {
    if (errCode(err) !== 'ENOENT') log.warn({ err, dir: join(root, rel) }, 'cannot list the recordings directory');
    return;
  }
  for (const e of entries) {
    const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) await walk(root, childRel, cutoff, out, log);
    else if (e.isFile() && RECORDING_FILE.test(e.name)) {
      const full = join(root, childRel);
      try {
        if ((await stat(full)).mtime < cutoff) out.push({ rel: childRel, full });
      } catch {
        // Deleted meanwhile.
      }
    }
  }
}

/**
 * Removes directories left empty. Today's and yesterday's day directories are
 * left alone: a call starting now may have just created one and be about to
 * open its file in it.
 */
async function pruneEmptyDirs(root: string, rel: string, now: Date, log: Logger): Promise<void> {
  let entries;
  try {
    entries = await readdir(join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await pruneEmptyDirs(root, rel === '' ? e.name : `${rel}/${e.name}`, now, log);
  if (rel === '') return;
  const recent = [now, new Date(now.getTime() - DAY_MS)].map((d) => dirname(recordingPath('x', d, 'wav')));
  if (recent.some((day) => day === rel || day.startsWith(`${rel}/`))) return;
  try {
    await rmdir(join(root, rel));
  } catch (err) {
    if (errCode(err) !== 'ENOTEMPTY' && errCode(err) !== 'EEXIST' && errCode(err) !== 'ENOENT') log.warn({ err, dir: join(root, rel) }, 'could not remove an empty recordings directory');
  }
}

export interface PurgeJob {
  /** Runs a purge now (after the one under way, if any). */
  runNow(): Promise<PurgeResult>;
  /** Stops the timer and waits for a run under way. */
  stop(): Promise<void>;
}

/** Purges at once and then every `intervalMs`; a failed run is logged and the next one tries again. */
export function startRecordingPurge(options: PurgeOptions & { intervalMs: number }): PurgeJob {
  const log = options.logger.child({ module: 'recording-purge' });
  let running: Promise<PurgeResult | undefined> = Promise.resolve(undefined);
  let stopped = false;
  const run = (): Promise<PurgeResult> => {
    const next = running.then(() => purgeExpiredRecordings(options));
    running = next.catch((err: unknown) => {
      log.error({ err }, 'the recordings purge failed; it runs again at the next interval');
      return undefined;
    });
    return next;
  };
  const timer = setInterval(() => {
    if (!stopped) void run().catch(() => undefined);
  }, options.intervalMs);
  timer.unref();
  void run().catch(() => undefined);
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
