/** Re-frames audio of any chunk size into exact fixed-length frames (20 ms by default). */
import { PalabreError } from '../errors.js';
import { FRAME_MS, assertRate, samplesPerFrame, type AudioChunk, type Frame } from './frame.js';

export class Chunker {
  readonly frameSize: number;
  /** The partial frame being filled; handed out as a frame once full, then replaced. */
  private partial: Int16Array;
  private fill = 0;

  constructor(readonly sampleRate: number, readonly frameMs: number = FRAME_MS) {
    this.frameSize = samplesPerFrame(sampleRate, frameMs);
    if (!Number.isFinite(this.frameSize) || this.frameSize < 1) {
      throw new PalabreError('bad_request', `a ${frameMs} ms frame at ${sampleRate} Hz holds no samples`);
    }
    this.partial = new Int16Array(this.frameSize);
  }

  /** Samples held back, waiting for the rest of their frame. */
  get pending(): number {
    return this.fill;
  }

  /** Returns every frame completed by `samples`; the remainder waits for the next push. */
  push(samples: Int16Array): Frame[] {
    const frames: Frame[] = [];
    const size = this.frameSize;
    let pos = 0;
    if (this.fill > 0) {
      const take = Math.min(size - this.fill, samples.length);
      this.partial.set(samples.subarray(0, take), this.fill);
      this.fill += take;
      pos = take;
      if (this.fill < size) return frames;
      frames.push({ samples: this.partial, sampleRate: this.sampleRate });
      this.partial = new Int16Array(size);
      this.fill = 0;
    }
    for (; pos + size <= samples.length; pos += size) frames.push({ samples: samples.slice(pos, pos + size), sampleRate: this.sampleRate });
    if (pos < samples.length) {
      this.partial.set(samples.subarray(pos), 0);
      this.fill = samples.length - pos;
    }
    return frames;
  }

  /** Like push, checking the chunk's rate first. */
  pushChunk(chunk: AudioChunk): Frame[] {
    assertRate(chunk, this.sampleRate, 'Chunker');
    return this.push(chunk.samples);
  }

  /** Hands out the partial frame: padded with silence to full length, or short; null when nothing is pending. */
  flush(padWithSilence = false): Frame | null {
    if (this.fill === 0) return null;
    let samples: Int16Array;
    if (padWithSilence) {
      samples = this.partial.fill(0, this.fill);
      this.partial = new Int16Array(this.frameSize);
    } else {
      samples = this.partial.slice(0, this.fill);
    }
    this.fill = 0;
    return { samples, sampleRate: this.sampleRate };
  }

  /** Drops the partial frame (after a barge-in, for example). */
  reset(): void {
    this.fill = 0;
  }
}
