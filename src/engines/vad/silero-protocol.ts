/** Messages between the main thread and the Silero VAD worker (silero-worker.ts). */
import type { SileroBatchInput, SileroBatchOutput } from './silero-session.js';

export interface SileroWorkerInit {
  modelPath: string;
}

/** The typed arrays' buffers are transferred, not copied, in both directions. */
export type ToSileroWorker = { type: 'run'; id: number } & SileroBatchInput;

export type FromSileroWorker =
  | { type: 'ready' }
  /** The session could not be opened; the worker exits after sending this. */
  | { type: 'fatal'; code: 'engine_unavailable'; message: string }
  | ({ type: 'result'; id: number } & SileroBatchOutput)
  | { type: 'failed'; id: number; message: string };
