/**
 * After a crash: the recordings of calls the store closed as `interrupted`
 * are left as the process left them (header sizes from the last flush, row
 * with no duration). This sets their header to everything that reached the
 * disk (dropping a half-written sample frame) and fills in the row's size
 * and duration; they stay `complete: false`. Run at start-up, after
 * `store.closeInterrupted()`.
 */
import { stat } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Logger } from '../log.js';
import type { Database } from '../store/schema.js';
import { resolveInDir } from './paths.js';
import { sealRecordingWav } from './seal.js';

export interface RecoverOptions {
  db: Kysely<Database>;
  dir: string;
  logger: Logger;
}

/** Returns how many recordings were sealed. */
export async function recoverInterruptedRecordings(options: RecoverOptions): Promise<number> {
  const log = options.logger.child({ module: 'recording' });
  const rows = await options.db
    .selectFrom('recordings')
    .innerJoin('calls', 'calls.id', 'recordings.call_id')
    .select(['recordings.call_id as callId', 'recordings.path as path', 'recordings.format as format'])
    .where('recordings.complete', '=', false)
    .where('calls.end_reason', '=', 'interrupted')
    .execute();
  let sealed = 0;
  for (const row of rows) {
    if (row.format !== 'wav') continue;
    try {
      const file = resolveInDir(options.dir, row.path);
      await stat(file);
      const fixed = await sealRecordingWav(file);
      if (!fixed) {
        log.warn({ file }, 'an interrupted recording is not a WAV this recorder wrote; left as it is');
        continue;
      }
      await options.db.updateTable('recordings').set({ bytes: fixed.bytes, duration_ms: fixed.durationMs }).where('call_id', '=', row.callId).execute();
      sealed++;
    } catch (err) {
      log.warn({ err, callId: row.callId, path: row.path }, 'could not recover an interrupted recording');
    }
  }
  if (sealed > 0) log.info({ recordings: sealed }, 'recordings of interrupted calls sealed with what reached the disk');
  return sealed;
}
