/**
 * Optional clean-up of uploaded audio before recognition. Each step is off by
 * default: on clean telephone audio they can cost accuracy as easily as help,
 * which test/preprocess.test.ts measures.
 */
import { Chunker } from '../audio/chunker.js';
import { lowpass, normalizeRms } from '../audio/dsp.js';
import { type AudioChunk, FRAME_MS, concatChunks } from '../audio/frame.js';
import { type ResamplerFactory, resampleWith } from '../audio/resample.js';
import type { PreprocessOptions } from '../config.js';
import type { Denoiser } from '../engines/denoise/types.js';
import { findSpeechRegions } from '../engines/vad/index.js';
import type { Vad, VadOptions } from '../engines/vad/types.js';
import { PalabreError } from '../errors.js';

/** Kept around detected speech when trimming, so word onsets and tails survive. */
const TRIM_MARGIN_MS = 200;

export interface PreprocessEngines {
  denoiser?: Denoiser;
  vad?: Vad;
  /** Threshold, minimum speech and minimum silence from config `engines.vad`. */
  vadOptions?: Partial<VadOptions>;
  resampler: ResamplerFactory;
}

export function parsePreprocessList(value: string | undefined, defaults: PreprocessOptions): PreprocessOptions {
  if (value === undefined || value.trim() === '') return defaults;
  const steps = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const out: PreprocessOptions = { ...defaults, denoise: false, normalize: false, trimSilence: false, lowpassHz: 0 };
  for (const step of steps) {
    if (step === 'none') continue;
    else if (step === 'denoise') out.denoise = true;
    else if (step === 'normalize' || step === 'normalise') out.normalize = true;
    else if (step === 'trim') out.trimSilence = true;
    else if (step === 'lowpass') out.lowpassHz = defaults.lowpassHz || 3400;
    else if (/^lowpass:\d+$/.test(step)) out.lowpassHz = Number(step.slice('lowpass:'.length));
    else throw new PalabreError('bad_request', `unknown preprocess step "${step}"; use a comma-separated list of denoise, normalize, trim, lowpass[:HZ] or none`);
  }
  return out;
}

export function denoiseChunk(denoiser: Denoiser, chunk: AudioChunk): AudioChunk {
  const stream = denoiser.createStream(chunk.sampleRate);
  try {
    // The denoiser lags by a fixed delay: feed that much silence after the audio so its tail comes out too,
    // then drop the delay from the front so timings stay aligned with the original.
    const delay = Math.round((denoiser.delayMs * chunk.sampleRate) / 1000);
    const chunker = new Chunker(chunk.sampleRate, FRAME_MS);
    const frames = chunker.push(chunk.samples);
    frames.push(...chunker.push(new Int16Array(delay)));
    const last = chunker.flush(true);
    if (last) frames.push(last);
    const cleaned = concatChunks(frames.map((f) => stream.process(f)), chunk.sampleRate);
    return { samples: cleaned.samples.slice(delay, delay + chunk.samples.length), sampleRate: chunk.sampleRate };
  } finally {
    stream.close();
  }
}

export async function preprocess(chunk: AudioChunk, options: PreprocessOptions, engines: PreprocessEngines): Promise<{ chunk: AudioChunk; applied: string[] }> {
  const applied: string[] = [];
  let samples = chunk.samples;
  const rate = chunk.sampleRate;
  if (options.lowpassHz > 0) {
    if (options.lowpassHz >= rate / 2) throw new PalabreError('bad_request', `lowpass cut-off ${options.lowpassHz} Hz must be below half the sample rate (${rate / 2} Hz)`);
    samples = lowpass(samples, rate, options.lowpassHz);
    applied.push(`lowpass:${options.lowpassHz}`);
  }
  if (options.denoise) {
    if (!engines.denoiser) throw new PalabreError('engine_unavailable', 'denoise was requested but no noise suppressor is loaded (engines.denoise.engine)');
    samples = denoiseChunk(engines.denoiser, { samples, sampleRate: rate }).samples;
    applied.push('denoise');
  }
  if (options.trimSilence) {
    if (!engines.vad) throw new PalabreError('engine_unavailable', 'trim was requested but no VAD is loaded (engines.vad.engine)');
    const forVad = resampleWith(engines.resampler, { samples, sampleRate: rate }, engines.vad.sampleRate);
    const regions = await findSpeechRegions(engines.vad, forVad, engines.vadOptions);
    if (regions.length > 0) {
      const margin = (TRIM_MARGIN_MS * rate) / 1000;
      const start = Math.max(0, Math.floor((regions[0].startMs * rate) / 1000 - margin));
      const end = Math.min(samples.length, Math.ceil((regions[regions.length - 1].endMs * rate) / 1000 + margin));
      samples = samples.slice(start, end);
      applied.push('trim');
    }
  }
  if (options.normalize) {
    samples = normalizeRms(samples, options.normalizeDbfs);
    applied.push('normalize');
  }
  return { chunk: { samples, sampleRate: rate }, applied };
}
