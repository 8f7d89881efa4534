/**
 * Recordings as `palabre serve` starts them: the headers and rows of
 * recordings a crash interrupted put right, the recorder among the call
 * observers (after the store's, so the call row exists first), and the
 * retention purge, which runs even with recording off so old files still go.
 */
import type { Config } from '../config.js';
import { loadFlowsDir, type FlowRegistry } from '../dialog/loader.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../server/metrics.js';
import type { Store } from '../store/types.js';
import { createDbRecordingSink } from './db-sink.js';
import { registerRecordingMetrics } from './metrics.js';
import { createRecordingObserver, type RecordingObserver } from './observer.js';
import { startRecordingPurge } from './purge.js';
import { recoverInterruptedRecordings } from './recover.js';
import { flowRecordingPolicy, recordingSettings } from './settings.js';

export interface StartedRecordings {
  /** Absent when recordings.enabled is false. */
  observer?: RecordingObserver;
  /** Stops the purge and waits for the rows and conversions of finished calls. */
  stop(): Promise<void>;
}

export async function startRecordings(config: Config, store: Store | undefined, logger: Logger, metrics: Metrics): Promise<StartedRecordings> {
  const log = logger.child({ module: 'recording' });
  const rec = recordingSettings(config);
  let observer: RecordingObserver | undefined;
  if (config.recordings.enabled) {
    if (store) {
      const recovered = await recoverInterruptedRecordings({ db: store.db, dir: rec.dir, logger });
      if (recovered > 0) log.info({ recovered }, 'recordings of interrupted calls sealed');
    }
    // Only a flow's `recording` flag is read here: every flow loads, whatever engines are configured.
    let flows: Promise<FlowRegistry> | undefined;
    const registry = (): Promise<FlowRegistry> =>
      (flows ??= loadFlowsDir(config.flows.dir, { llmAvailable: true, realtimeAvailable: true }).catch((err: unknown) => {
        flows = undefined;
        throw err;
      }));
    observer = createRecordingObserver({
      dir: rec.dir,
      format: rec.format,
      retentionDays: rec.retentionDays,
      ffmpegPath: rec.ffmpegPath,
      sink: store ? createDbRecordingSink(store.db) : undefined,
      logger,
      flowAllowsRecording: flowRecordingPolicy(registry),
    });
    registerRecordingMetrics(metrics, observer.counters);
    log.info({ dir: rec.dir, format: rec.format, retentionDays: rec.retentionDays }, 'calls are recorded');
  }
  const purge = startRecordingPurge({ db: store?.db, dir: rec.dir, logger, retentionDays: rec.retentionDays, intervalMs: rec.purgeIntervalMs, counters: observer?.counters });
  return {
    observer,
    async stop() {
      await purge.stop();
      await observer?.settled();
    },
  };
}
