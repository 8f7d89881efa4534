/** Small signal-processing steps used to prepare uploads for recognition. */
import { PalabreError } from '../errors.js';
import { rmsDbfs } from './frame.js';

const FULL_SCALE = 32768;
const clamp16 = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));

export interface NormalizeOptions {
  /** No sample may exceed this level after gain; -1 dBFS by default. */
  peakDbfs?: number;
  /** Most gain applied, so near-silent noise is not blown up to speech level; 30 dB by default. */
  maxGainDb?: number;
}

export interface NormalizeResult {
  samples: Int16Array;
  /** Gain applied, in dB (negative when attenuating). */
  gainDb: number;
  /** True when the peak limit, not the RMS target, set the gain. */
  peakLimited: boolean;
}

function peakOf(samples: Int16Array): number {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i] < 0 ? -samples[i] : samples[i];
    if (a > peak) peak = a;
  }
  return peak;
}

/** Scales to an RMS level, never letting a peak pass `peakDbfs`: the gain is capped rather than the waveform clipped. */
export function normalizeRmsDetailed(samples: Int16Array, targetDbfs: number, options: NormalizeOptions = {}): NormalizeResult {
  const peakDbfs = options.peakDbfs ?? -1;
  const maxGainDb = options.maxGainDb ?? 30;
  if (!(targetDbfs <= 0) || !(peakDbfs <= 0)) {
    throw new PalabreError('bad_request', `normalisation levels must be at most 0 dBFS (target ${targetDbfs}, peak ${peakDbfs})`);
  }
  const level = rmsDbfs(samples);
  if (!Number.isFinite(level)) return { samples: samples.slice(), gainDb: 0, peakLimited: false };
  let gainDb = Math.min(targetDbfs - level, maxGainDb);
  const peak = peakOf(samples);
  const headroomDb = peakDbfs - 20 * Math.log10(peak / FULL_SCALE);
  const peakLimited = gainDb > headroomDb;
  if (peakLimited) gainDb = headroomDb;
  const gain = 10 ** (gainDb / 20);
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = clamp16(samples[i] * gain);
  return { samples: out, gainDb, peakLimited };
}

export function normalizeRms(samples: Int16Array, targetDbfs: number, options?: NormalizeOptions): Int16Array {
  return normalizeRmsDetailed(samples, targetDbfs, options).samples;
}

/**
 * Butterworth low-pass as cascaded biquads (RBJ cookbook, bilinear transform), keeping
 * its state between process() calls so a stream filters the same as one whole buffer.
 */
export class LowpassFilter {
  private readonly sections: Array<{ b0: number; b1: number; b2: number; a1: number; a2: number; z1: number; z2: number }>;

  constructor(readonly sampleRate: number, readonly cutoffHz: number, readonly order: 2 | 4 = 2) {
    if (!(cutoffHz > 0) || cutoffHz >= sampleRate / 2) {
      throw new PalabreError('bad_request', `low-pass cut-off ${cutoffHz} Hz must be above 0 and below half the sample rate (${sampleRate / 2} Hz)`);
    }
    if (order !== 2 && order !== 4) throw new PalabreError('bad_request', `low-pass order must be 2 or 4, not ${String(order)}`);
    // Pole-pair Qs of a Butterworth filter of this order.
    const qs = order === 2 ? [Math.SQRT1_2] : [1 / (2 * Math.cos(Math.PI / 8)), 1 / (2 * Math.cos((3 * Math.PI) / 8))];
    const w0 = (2 * Math.PI * cutoffHz) / sampleRate;
    const cos = Math.cos(w0);
    this.sections = qs.map((q) => {
      const alpha = Math.sin(w0) / (2 * q);
      const a0 = 1 + alpha;
      return { b0: (1 - cos) / 2 / a0, b1: (1 - cos) / a0, b2: (1 - cos) / 2 / a0, a1: (-2 * cos) / a0, a2: (1 - alpha) / a0, z1: 0, z2: 0 };
    });
  }

  process(samples: Int16Array): Int16Array {
    const out = new Int16Array(samples.length);
    const sections = this.sections;
    for (let i = 0; i < samples.length; i++) {
      let x = samples[i];
      for (let k = 0; k < sections.length; k++) {
        const s = sections[k];
        // Transposed direct form II: well-behaved in float64 and cheap.
        const y = s.b0 * x + s.z1;
        s.z1 = s.b1 * x - s.a1 * y + s.z2;
        s.z2 = s.b2 * x - s.a2 * y;
        x = y;
      }
      out[i] = clamp16(x);
    }
    return out;
  }

  reset(): void {
    for (const s of this.sections) s.z1 = s.z2 = 0;
  }
}

/** One-shot Butterworth low-pass (2nd order by default). */
export function lowpass(samples: Int16Array, sampleRate: number, cutoffHz: number, order: 2 | 4 = 2): Int16Array {
  return new LowpassFilter(sampleRate, cutoffHz, order).process(samples);
}

/** Copies samples [startSample, endSample); bounds are clamped to the buffer. */
export function trim(samples: Int16Array, startSample: number, endSample: number = samples.length): Int16Array {
  if (!Number.isInteger(startSample) || !Number.isInteger(endSample)) {
    throw new PalabreError('bad_request', `trim bounds must be whole sample indexes, got ${startSample} and ${endSample}`);
  }
  const start = Math.max(0, Math.min(samples.length, startSample));
  const end = Math.max(0, Math.min(samples.length, endSample));
  if (start > end) throw new PalabreError('bad_request', `trim start ${startSample} is after its end ${endSample}`);
  return samples.slice(start, end);
}
