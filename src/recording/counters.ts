/** What the recorder did, for /metrics and tests. */
export interface RecordingCounters {
  /** Recordings whose file was opened. */
  started: number;
  /** Closed with the whole call in them. */
  completed: number;
  /** Stopped by a failure (directory not writable, disk full, disk too slow); the call went on. */
  failed: number;
  /** Calls not recorded because their flow says `recording: false`. */
  skipped: number;
  converted: number;
  /** Conversions that failed or could not run (no ffmpeg); those recordings stay WAV. */
  conversionFailed: number;
  /** Row writes the sink refused (database down); logged. */
  sinkFailed: number;
  /** Recordings deleted by the purge job. */
  purged: number;
  /** Recordings being written now. */
  active: number;
  /** Audio bytes handed to the disk. */
  bytes: number;
  /** Gaps in callers' frames filled with silence. */
  gaps: number;
}

export function createRecordingCounters(): RecordingCounters {
  return { started: 0, completed: 0, failed: 0, skipped: 0, converted: 0, conversionFailed: 0, sinkFailed: 0, purged: 0, active: 0, bytes: 0, gaps: 0 };
}
