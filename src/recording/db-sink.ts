/**
 * The `recordings` table as a RecordingSink. The call's own row is written by
 * the store's batching queue, so it may not be there yet when the recording
 * starts: a row refused for its foreign key is tried again for a while. The
 * recorder never waits on any of this; a failure is the caller's to log.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { RecordingInfo, RecordingSink } from './sink.js';

export interface DbRecordingSinkOptions {
  /** How long to keep trying a row whose call is not in `calls` yet (default 15 s). */
  waitForCallMs?: number;
}

const FOREIGN_KEY_VIOLATION = '23503';

function isMissingCall(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === FOREIGN_KEY_VIOLATION;
}

function row(info: RecordingInfo) {
  return {
    call_id: info.callId,
    path: info.path,
    format: info.format,
    sample_rate: info.sampleRate,
    channels: info.channels,
    duration_ms: Math.round(info.durationMs),
    bytes: info.bytes,
    complete: info.complete,
    expires_at: info.expiresAt,
  };
}

export function createDbRecordingSink(db: Kysely<Database>, options: DbRecordingSinkOptions = {}): RecordingSink {
  const waitForCallMs = options.waitForCallMs ?? 15_000;

  const upsert = async (info: RecordingInfo): Promise<void> => {
    const values = row(info);
    const { call_id: _id, ...update } = values;
    let delay = 50;
    const deadline = Date.now() + waitForCallMs;
    for (;;) {
      try {
        await db.insertInto('recordings').values(values).onConflict((oc) => oc.column('call_id').doUpdateSet(update)).execute();
        return;
      } catch (err) {
        if (!isMissingCall(err) || Date.now() + delay > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  };

  return {
    started: upsert,
    finished: upsert,
    async converted(callId, change) {
      await db.updateTable('recordings').set({ path: change.path, format: change.format, bytes: change.bytes }).where('call_id', '=', callId).execute();
    },
  };
}
