import { assertRate, durationMs, samplesPerFrame, type AudioChunk } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { resolveVadOptions } from './segmenter.js';
import { createSileroVad } from './silero.js';
import type { Vad, VadOptions } from './types.js';
import { createWebrtcVad } from './webrtc.js';

export { DEFAULT_VAD_OPTIONS, Segmenter } from './segmenter.js';
export type { Vad, VadEvent, VadFrameResult, VadOptions, VadStream } from './types.js';

export const VAD_ENGINES = ['silero', 'webrtc'] as const;
export type VadEngineName = (typeof VAD_ENGINES)[number];

export interface CreateVadOptions {
  /** WebRTC aggressiveness 0–3 (default 3); ignored by Silero. */
  mode?: number;
  /** Rate the streams take. Default 16000; Silero also runs at 8000, WebRTC at 8000/32000/48000. */
  sampleRate?: number;
  /** Silero: share ORT runs between streams (default true). */
  batch?: boolean;
  /** Silero: how long a window may wait for other live streams' windows to join its batch (default 4 ms). */
  batchWaitMs?: number;
  /** Silero: run inference on a worker thread (default true). */
  worker?: boolean;
  /** Silero: niceness of that thread (Linux; default 0). */
  workerNice?: number;
  /** WebRTC analysis frame in ms: 10, 20 or 30 (default 20). */
  frameMs?: number;
}

/** Loads a VAD by name; fails with `engine_unavailable` naming the missing piece. */
export async function createVad(name: VadEngineName, options: CreateVadOptions = {}): Promise<Vad> {
  if (name === 'silero') return createSileroVad({ sampleRate: options.sampleRate, batch: options.batch, batchWaitMs: options.batchWaitMs, worker: options.worker, workerNice: options.workerNice });
  if (name === 'webrtc') return createWebrtcVad({ mode: options.mode, sampleRate: options.sampleRate, frameMs: options.frameMs });
  throw new PalabreError('engine_unavailable', `unknown VAD engine "${String(name)}"; use one of ${VAD_ENGINES.join(', ')}`);
}

export interface SpeechRegion {
  startMs: number;
  endMs: number;
}

export interface FindSpeechOptions extends Partial<VadOptions> {
  /** Widen each region by this much on both sides (clamped to the audio), merging regions that then touch. Default 0. */
  padMs?: number;
  /** Audio fed per process() call, in ms. Default 20, like a live call. */
  frameMs?: number;
}

/**
 * Speech regions of a whole recording, found by feeding it through a stream as
 * a live call would, then enough silence to close a region still open at the end.
 */
export async function findSpeechRegions(vad: Vad, chunk: AudioChunk, options: FindSpeechOptions = {}): Promise<SpeechRegion[]> {
  assertRate(chunk, vad.sampleRate, `findSpeechRegions (${vad.name} VAD)`);
  const { padMs = 0, frameMs = 20, ...rest } = options;
  const vadOptions = resolveVadOptions(rest);
  if (!(padMs >= 0)) throw new PalabreError('bad_request', `padMs must be ≥ 0, got ${padMs}`);
  const totalMs = durationMs(chunk);
  const step = samplesPerFrame(chunk.sampleRate, frameMs);
  if (!(step > 0)) throw new PalabreError('bad_request', `frameMs must be > 0, got ${frameMs}`);
  // Silence after the end lets the segmenter close the last region by its own rules.
  const tail = samplesPerFrame(chunk.sampleRate, vadOptions.minSilenceMs + 100);
  const samples = new Int16Array(chunk.samples.length + tail);
  samples.set(chunk.samples);

  const regions: SpeechRegion[] = [];
  const stream = vad.createStream(vadOptions);
  let openAt = -1;
  try {
    for (let i = 0; i < samples.length; i += step) {
      const r = await stream.process({ samples: samples.subarray(i, Math.min(samples.length, i + step)), sampleRate: chunk.sampleRate });
      for (const e of r.events) {
        if (e.type === 'speech-start') openAt = e.atMs;
        else if (openAt >= 0) {
          regions.push({ startMs: openAt, endMs: Math.min(e.atMs, totalMs) });
          openAt = -1;
        }
      }
    }
  } finally {
    stream.close();
  }
  if (openAt >= 0) regions.push({ startMs: openAt, endMs: totalMs });
  return pad(regions.filter((r) => r.startMs < totalMs), padMs, totalMs);
}

function pad(regions: SpeechRegion[], padMs: number, totalMs: number): SpeechRegion[] {
  if (padMs === 0) return regions;
  const out: SpeechRegion[] = [];
  for (const r of regions) {
    const startMs = Math.max(0, r.startMs - padMs);
    const endMs = Math.min(totalMs, r.endMs + padMs);
    const last = out[out.length - 1];
    if (last && startMs <= last.endMs) last.endMs = Math.max(last.endMs, endMs);
    else out.push({ startMs, endMs });
  }
  return out;
}
