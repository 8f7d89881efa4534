/** Call recordings: both parties in one stereo WAV, written as the call goes; rows, conversion, retention. */
export { convertRecording, type ConvertOptions } from './convert.js';
export { createRecordingCounters, type RecordingCounters } from './counters.js';
export { createDbRecordingSink, type DbRecordingSinkOptions } from './db-sink.js';
export { registerRecordingMetrics } from './metrics.js';
export { createRecordingObserver, type RecordingObserver, type RecordingObserverOptions } from './observer.js';
export { RECORDING_FORMATS, recordingPath, resolveInDir, type RecordingFormat } from './paths.js';
export { purgeExpiredRecordings, startRecordingPurge, type PurgeJob, type PurgeOptions, type PurgeResult } from './purge.js';
export { recoverInterruptedRecordings } from './recover.js';
export { sealRecordingWav } from './seal.js';
export { flowRecordingPolicy, recordingSettings, recordingsDir } from './settings.js';
export type { RecordingInfo, RecordingSink } from './sink.js';
