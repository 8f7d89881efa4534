/** Measures of synthesised speech shared by the TTS tests and bench. */
import { concatChunks, rmsDbfs, type AudioChunk } from '../../audio/frame.js';

export const FR_SENTENCE = "Bonjour, comment allez-vous aujourd'hui ? Je suis ravi de vous parler.";
export const EN_SENTENCE = 'Hello, how are you today? I am glad to talk to you.';
/** About 40 s of speech: long enough that streaming is visible. */
export const LONG_EN_TEXT = Array.from(
  { length: 10 },
  (_, i) => `This is sentence number ${i + 1} of a long answer, spoken to check that audio arrives while the rest is still being made.`,
).join(' ');

export async function collect(chunks: AsyncIterable<AudioChunk>): Promise<AudioChunk> {
  const all: AudioChunk[] = [];
  for await (const c of chunks) all.push(c);
  if (all.length === 0) throw new Error('the engine yielded no audio');
  return concatChunks(all);
}

export function seconds(chunk: AudioChunk): number {
  return chunk.samples.length / chunk.sampleRate;
}

/** Level of the speech itself: RMS over the 20 ms frames louder than -50 dBFS, so pauses do not dilute it. */
export function speechLevelDbfs(chunk: AudioChunk): number {
  const n = Math.round(chunk.sampleRate * 0.02);
  let sum = 0;
  let count = 0;
  for (let at = 0; at + n <= chunk.samples.length; at += n) {
    const frame = chunk.samples.subarray(at, at + n);
    if (rmsDbfs(frame) < -50) continue;
    for (const s of frame) sum += s * s;
    count += n;
  }
  return count === 0 ? -Infinity : 20 * Math.log10(Math.sqrt(sum / count) / 32768);
}

/** Share of 20 ms frames quieter than -50 dBFS: speech has pauses, noise and tones do not. */
export function silentShare(chunk: AudioChunk): number {
  const n = Math.round(chunk.sampleRate * 0.02);
  let silent = 0;
  let total = 0;
  for (let at = 0; at + n <= chunk.samples.length; at += n, total++) if (rmsDbfs(chunk.samples.subarray(at, at + n)) < -50) silent++;
  return total === 0 ? 0 : silent / total;
}

/**
 * Median fundamental frequency over voiced frames (normalised autocorrelation on 40 ms
 * windows, 60–400 Hz), with the share of frames found voiced. Coarse, but enough to
 * tell a voice raised by a few semitones from the same voice unchanged.
 */
export function estimateF0(chunk: AudioChunk): { medianHz: number; voicedShare: number } {
  const { samples, sampleRate: sr } = chunk;
  const win = Math.round(sr * 0.04);
  const hop = Math.round(sr * 0.01);
  const minLag = Math.floor(sr / 400);
  const maxLag = Math.ceil(sr / 60);
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  const found: number[] = [];
  let frames = 0;
  for (let st = 0; st + win + maxLag < samples.length; st += hop) {
    frames++;
    let e0 = 0;
    for (let i = 0; i < win; i++) e0 += samples[st + i] * samples[st + i];
    if (Math.sqrt(e0 / win) < peak * 0.05) continue;
    let best = 0;
    let bestLag = 0;
    for (let lag = minLag; lag <= maxLag; lag++) {
      let c = 0;
      let e1 = 0;
      for (let i = 0; i < win; i++) {
        c += samples[st + i] * samples[st + i + lag];
        e1 += samples[st + i + lag] * samples[st + i + lag];
      }
      const r = c / Math.sqrt(e0 * e1 + 1e-9);
      if (r > best) {
        best = r;
        bestLag = lag;
      }
    }
    if (best > 0.6) found.push(sr / bestLag);
  }
  found.sort((a, b) => a - b);
  return { medianHz: found.length ? found[found.length >> 1] : 0, voicedShare: frames ? found.length / frames : 0 };
}

export function semitones(fromHz: number, toHz: number): number {
  return 12 * Math.log2(toHz / fromHz);
}
