/** Messages between the main thread and the Silero VAD worker (silero-worker.ts). */
import type { SileroBatchInput, SileroBatchOutput } from './silero-session.js';

export interface SileroWorkerInit {
  modelPath: string;
  /** Niceness the thread gives itself on Linux (0 leaves it as is). */
  nice: number;
}

/** The typed arrays' buffers are transferred, not copied, in both directions. */
export type ToSileroWorker = { type: 'run'; id: number } & SileroBatchInput;

export type FromSileroWorker =
  /** `nice` is the niceness the thread runs at, when it could set one. */
  | { type: 'ready'; nice?: number }
  /** The session could not be opened; the worker exits after sending this. */
  | { type: 'fatal'; code: 'engine_unavailable'; message: string }
  | ({ type: 'result'; id: number } & SileroBatchOutput)
  | { type: 'failed'; id: number; message: string };
