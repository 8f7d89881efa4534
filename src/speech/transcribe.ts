/** One transcription request, shared by the HTTP routes and `palabre transcribe`. */
import type { AudioChunk } from '../audio/frame.js';
import type { Config, PreprocessOptions } from '../config.js';
import { applyDegenerateGuard } from '../engines/stt/degenerate.js';
import type { SttResult } from '../engines/stt/types.js';
import { pickEngine, type Engines } from '../engines/registry.js';
import type { Metrics } from '../server/metrics.js';
import { timeEngine } from '../server/metrics.js';
import { checkAudible, decodeInput, toRate } from './input.js';
import { preprocess } from './preprocess.js';

export interface TranscribeRequest {
  audio: Uint8Array;
  contentType?: string;
  language?: string;
  task?: 'transcribe' | 'translate';
  temperature?: number;
  hints?: string[];
  grammar?: string;
  engine?: string;
  preprocess?: PreprocessOptions;
  signal?: AbortSignal;
}

export interface TranscribeResponse extends SttResult {
  /** Seconds spent from receiving the bytes to having the text. */
  latency: number;
  word_count: number;
  preprocess: string[];
}

export interface SpeechContext {
  config: Config;
  engines: Engines;
  metrics?: Metrics;
}

export async function transcribeAudio(ctx: SpeechContext, req: TranscribeRequest): Promise<TranscribeResponse> {
  const started = performance.now();
  const decoded = await decodeInput(req.audio, { contentType: req.contentType, ffmpegPath: ctx.config.audio.ffmpegPath, signal: req.signal });
  return transcribeChunk(ctx, decoded, req, started);
}

export async function transcribeChunk(ctx: SpeechContext, decoded: AudioChunk, req: Omit<TranscribeRequest, 'audio'>, started = performance.now()): Promise<TranscribeResponse> {
  const sttCfg = ctx.config.engines.stt;
  checkAudible(decoded, sttCfg);
  const name = req.engine ?? ctx.engines.defaultStt;
  const stt = pickEngine(ctx.engines.stt, ctx.engines.statuses, 'stt', name);
  const audio = toRate(ctx.engines.resampler, decoded, stt.sampleRate);
  const prep = await preprocess(audio, req.preprocess ?? ctx.config.preprocess, {
    denoiser: ctx.engines.denoiser,
    vad: ctx.engines.vad,
    vadOptions: ctx.config.engines.vad,
    resampler: ctx.engines.resampler,
  });
  const result = await timeEngine(ctx.metrics, { kind: 'stt', engine: stt.name, op: 'transcribe' }, () =>
    stt.transcribe(prep.chunk, {
      language: req.language ?? sttCfg.language,
      task: req.task,
      temperature: req.temperature,
      hints: req.hints,
      grammar: req.grammar,
      signal: req.signal,
    }),
  );
  ctx.metrics?.audioSeconds.inc({ kind: 'stt', engine: stt.name }, result.duration);
  const guarded = applyDegenerateGuard(result, { maxRepeats: sttCfg.degenerateMaxRepeats, action: sttCfg.degenerateAction });
  if (guarded.degenerate) ctx.metrics?.degenerateOutputs.inc({ engine: stt.name, action: sttCfg.degenerateAction });
  const text = guarded.text.trim();
  return {
    ...guarded,
    text,
    latency: Number(((performance.now() - started) / 1000).toFixed(4)),
    word_count: text === '' ? 0 : text.split(/\s+/).length,
    preprocess: prep.applied,
  };
}
