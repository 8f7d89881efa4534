/** What every engine reports about itself, for /health and `palabre doctor`. */
export type EngineKind = 'vad' | 'denoise' | 'tts' | 'stt';

export interface EngineStatus {
  kind: EngineKind;
  name: string;
  loaded: boolean;
  /** Why the engine could not load (missing package, binary or model), when it did not. */
  reason?: string;
  /** Free-form facts worth showing: model path, version, voices count. */
  info?: Record<string, unknown>;
}
