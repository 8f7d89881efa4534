/** Messages between the PocketSphinx engine and its decoder worker threads. */
import type { ErrorCode } from '../../errors.js';
import type { PocketSphinxPaths, RawDecode, SearchSpec } from './pocketsphinx-ffi.js';

export interface WorkerInit {
  paths: PocketSphinxPaths;
  /** Int32 cell the main thread writes a job id into to stop that job between chunks. */
  cancel: SharedArrayBuffer;
}

export type ToWorker =
  | { type: 'decode'; id: number; samples: Int16Array; search: SearchSpec }
  | { type: 'start'; id: number; search: SearchSpec; partialEverySamples: number; rescore: boolean }
  | { type: 'push'; id: number; samples: Int16Array }
  | { type: 'end'; id: number }
  | { type: 'cancel'; id: number };

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export type FromWorker =
  | { type: 'ready'; resetsCmn: boolean }
  | { type: 'fatal'; error: WireError }
  | { type: 'result'; id: number; raw: RawDecode }
  | { type: 'started'; id: number; skipped: string[] }
  | { type: 'partial'; id: number; text: string }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; error: WireError };
