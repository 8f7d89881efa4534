/**
 * Incremental WAV file writer for recordings. The header goes first with the
 * "unknown length" sentinel in its size fields, and every flush patches in the
 * real sizes, so a process killed mid-call leaves a file that still reads: up
 * to the last flush in any player, to the last write in palabre's reader.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { PalabreError } from '../errors.js';
import type { AudioChunk } from './frame.js';
import { bytesPerSample, checkWavEncoding, checkWavRate, headerSizeFields, packSamples, wavHeader, type WavOutputEncoding } from './wav-encode.js';

export interface WavFileWriterOptions {
  sampleRate: number;
  /** 1 by default; a two-party recording uses 2 (caller left, bot right). */
  channels?: number;
  encoding?: WavOutputEncoding;
  /** Patch the header after this much audio has been written since the last patch; 1 s by default, 0 for never (only flush/close). */
  flushEverySec?: number;
}

const MAX_DATA_BYTES = 0xffffffff - 64;

export class WavFileWriter {
  readonly sampleRate: number;
  readonly channels: number;
  readonly encoding: WavOutputEncoding;
  private dataBytes = 0;
  private frames = 0;
  private framesAtPatch = 0;
  private readonly patchEveryFrames: number;
  private readonly headerLength: number;
  /** Writes run one after another in call order, whatever the caller awaits. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    options: Required<Omit<WavFileWriterOptions, 'flushEverySec'>> & { flushEverySec: number },
  ) {
    this.sampleRate = options.sampleRate;
    this.channels = options.channels;
    this.encoding = options.encoding;
    this.patchEveryFrames = Math.round(options.flushEverySec * options.sampleRate);
    this.headerLength = wavHeader(this.encoding, this.sampleRate, this.channels, 0, 0).length;
  }

  /** Creates (or truncates) `path` and writes the header. */
  static async open(path: string, options: WavFileWriterOptions): Promise<WavFileWriter> {
    const encoding = checkWavEncoding(options.encoding ?? 'pcm16');
    checkWavRate(options.sampleRate);
    const channels = options.channels ?? 1;
    if (!Number.isInteger(channels) || channels < 1 || channels > 64) {
      throw new PalabreError('bad_request', `a WAV recording needs 1 to 64 channels, not ${channels}`);
    }
    const fh = await open(path, 'w');
    const writer = new WavFileWriter(fh, path, { sampleRate: options.sampleRate, channels, encoding, flushEverySec: options.flushEverySec ?? 1 });
    try {
      await fh.write(wavHeader(encoding, options.sampleRate, channels, 0xffffffff, 0), 0, undefined, 0);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    return writer;
  }

  get samplesWritten(): number {
    return this.frames;
  }

  get durationSec(): number {
    return this.frames / this.sampleRate;
  }

  /** Appends audio: an AudioChunk or Int16Array for mono, one Int16Array per channel otherwise. */
  write(audio: AudioChunk | Int16Array | Int16Array[]): Promise<void> {
    if (this.closed) return Promise.reject(new PalabreError('bad_request', `WAV writer for ${this.path} used after close()`));
    let channels: Int16Array[];
    if (Array.isArray(audio)) channels = audio;
    else if (audio instanceof Int16Array) channels = [audio];
    else {
      if (audio.sampleRate !== this.sampleRate) {
        return Promise.reject(new PalabreError('rate_mismatch', `WAV writer for ${this.path} expects ${this.sampleRate} Hz audio but got ${audio.sampleRate} Hz`));
      }
      channels = [audio.samples];
    }
    if (channels.length !== this.channels) {
      return Promise.reject(new PalabreError('bad_request', `WAV writer for ${this.path} has ${this.channels} channel(s) but was given ${channels.length}`));
    }
    let bytes: Uint8Array;
    try {
      bytes = packSamples(channels, this.encoding);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.dataBytes + bytes.length > MAX_DATA_BYTES) {
      return Promise.reject(new PalabreError('payload_too_large', `WAV recording ${this.path} would pass the 4 GiB WAV limit`));
    }
    const position = this.headerLength + this.dataBytes;
    this.dataBytes += bytes.length;
    this.frames += channels[0].length;
    const patch = this.patchEveryFrames > 0 && this.frames - this.framesAtPatch >= this.patchEveryFrames;
    if (patch) this.framesAtPatch = this.frames;
    return this.enqueue(async () => {
      await this.fh.write(bytes, 0, bytes.length, position);
      if (patch) await this.patchHeader();
    });
  }

  /** Writes the current sizes into the header, so the file reads correctly in any player up to here. */
  flush(): Promise<void> {
    if (this.closed) return this.queue;
    this.framesAtPatch = this.frames;
    return this.enqueue(() => this.patchHeader());
  }

  /** Pads to an even length, patches the header and closes the file. Idempotent. */
  close(): Promise<void> {
    if (this.closed) return this.queue;
    this.closed = true;
    return this.enqueue(async () => {
      try {
        if (this.dataBytes & 1) await this.fh.write(new Uint8Array(1), 0, 1, this.headerLength + this.dataBytes);
        await this.patchHeader();
      } finally {
        await this.fh.close();
      }
    });
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.queue.then(task);
    // A failed write must still reject for its caller but not wedge every later write.
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async patchHeader(): Promise<void> {
    const { riff, data, fact } = headerSizeFields(this.encoding);
    const dataBytes = this.dataBytes;
    const u32 = (v: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, v, true);
      return b;
    };
    await this.fh.write(u32(this.headerLength - 8 + dataBytes + (dataBytes & 1)), 0, 4, riff);
    if (fact !== undefined) await this.fh.write(u32(Math.floor(dataBytes / (bytesPerSample(this.encoding) * this.channels))), 0, 4, fact);
    await this.fh.write(u32(dataBytes), 0, 4, data);
  }
}
