/**
 * Where the recorder reports its files. The store's implementation keeps one
 * `recordings` row per call: written when the file is opened (complete false,
 * so a crash still leaves a row pointing at what was recorded), completed at
 * the end, updated again if the file is converted.
 */
import type { RecordingFormat } from './paths.js';

export interface RecordingInfo {
  callId: string;
  /** Relative to the recordings directory. */
  path: string;
  format: RecordingFormat;
  sampleRate: number;
  channels: number;
  durationMs: number;
  bytes: number;
  /** False while the call runs, and when recording stopped early (write failure); the file holds what was recorded. */
  complete: boolean;
  /** When the purge job deletes it; null keeps it for ever. */
  expiresAt: Date | null;
}

export interface RecordingSink {
  /** The file was created and is being written. */
  started(info: RecordingInfo): Promise<void>;
  /** The call ended and the file is closed (complete, or cut short by a write failure). */
  finished(info: RecordingInfo): Promise<void>;
  /** The file was replaced by a compressed one. */
  converted(callId: string, change: { path: string; format: RecordingFormat; bytes: number }): Promise<void>;
}
