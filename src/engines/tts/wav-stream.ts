import { PalabreError } from '../../errors.js';
import { decodeWav } from '../../audio/wav.js';
import { decodeSlinLe } from '../../audio/slin.js';

/** A program that cannot seek back writes no more header than this before its samples. */
const MAX_HEADER_BYTES = 4096;

/**
 * Reads a WAV stream written to a pipe (data size left at an "unknown" sentinel, as
 * `espeak-ng --stdout` does) and hands out PCM16 samples as bytes arrive. The header is
 * read by the project's WAV decoder: the shortest prefix it accepts with no samples yet
 * is the header, which keeps this reader free of any RIFF parsing of its own.
 */
export class WavStreamReader {
  private head: Uint8Array = new Uint8Array(0);
  private carry: number | undefined;
  private rate: number | undefined;

  constructor(private readonly source: string) {}

  /** The stream's rate once its header has been read. */
  get sampleRate(): number | undefined {
    return this.rate;
  }

  /** Feeds bytes; returns the whole samples they complete (possibly none). */
  push(bytes: Uint8Array): Int16Array {
    if (this.rate === undefined) {
      const joined = new Uint8Array(this.head.length + bytes.length);
      joined.set(this.head);
      joined.set(bytes, this.head.length);
      const start = this.findData(joined);
      if (start === undefined) {
        if (joined.length > MAX_HEADER_BYTES) {
          throw new PalabreError('engine_failed', `${this.source} wrote ${joined.length} bytes without a readable streaming WAV header`);
        }
        this.head = joined;
        return new Int16Array(0);
      }
      this.head = new Uint8Array(0);
      return this.samples(joined.subarray(start));
    }
    return this.samples(bytes);
  }

  private findData(buf: Uint8Array): number | undefined {
    for (let k = 12; k <= buf.length; k++) {
      let decoded;
      try {
        decoded = decodeWav(buf.subarray(0, k));
      } catch {
        continue;
      }
      if (decoded.samples.length > 0) break;
      if (decoded.encoding !== 'pcm16' || decoded.channels !== 1) {
        throw new PalabreError('engine_failed', `${this.source} wrote ${decoded.channels}-channel ${decoded.encoding} WAV; mono pcm16 was expected`);
      }
      this.rate = decoded.sampleRate;
      return k;
    }
    return undefined;
  }

  private samples(bytes: Uint8Array): Int16Array {
    let data = bytes;
    if (this.carry !== undefined) {
      data = new Uint8Array(bytes.length + 1);
      data[0] = this.carry;
      data.set(bytes, 1);
      this.carry = undefined;
    }
    if (data.length % 2 === 1) {
      this.carry = data[data.length - 1];
      data = data.subarray(0, data.length - 1);
    }
    return decodeSlinLe(data);
  }
}
