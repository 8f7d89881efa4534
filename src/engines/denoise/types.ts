import type { Frame } from '../../audio/frame.js';

export interface DenoiseStream {
  /**
   * Returns cleaned audio of the same rate and length as the input (the
   * engine's fixed delay is absorbed by its internal buffering).
   */
  process(frame: Frame): Frame;
  close(): void;
}

export interface Denoiser {
  readonly name: string;
  /** Delay the cleaned signal lags the input by, in ms. */
  readonly delayMs: number;
  createStream(sampleRate: number): DenoiseStream;
}

export interface DenoiseStats {
  processed: number;
  errors: number;
  fallbacks: number;
  totalProcessingMs: number;
}
