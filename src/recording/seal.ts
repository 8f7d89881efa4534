/**
 * Makes a recording's WAV header say what the file really holds: everything
 * that reached the disk, in whole sample frames. Used after a crash (the
 * header is as old as the last flush) and after a failed write (the writer
 * counted bytes the disk refused).
 */
import { open } from 'node:fs/promises';

/** Bytes before the samples in the WAV files the recorder writes (PCM16, no extra chunks). */
export const WAV_HEADER_BYTES = 44;

const ascii = (buf: Buffer, at: number, text: string): boolean => buf.toString('latin1', at, at + text.length) === text;

/** Fixes one WAV written by the recorder; returns its new size and duration, or undefined when it is not one. */
export async function sealRecordingWav(file: string): Promise<{ bytes: number; durationMs: number } | undefined> {
  const fh = await open(file, 'r+');
  try {
    const header = Buffer.alloc(WAV_HEADER_BYTES);
    const { bytesRead } = await fh.read(header, 0, WAV_HEADER_BYTES, 0);
    if (bytesRead < WAV_HEADER_BYTES || !ascii(header, 0, 'RIFF') || !ascii(header, 8, 'WAVE') || !ascii(header, 12, 'fmt ') || !ascii(header, 36, 'data')) return undefined;
    if (header.readUInt16LE(20) !== 1 || header.readUInt16LE(34) !== 16) return undefined;
    const blockAlign = header.readUInt16LE(32);
    const sampleRate = header.readUInt32LE(24);
    if (blockAlign === 0 || sampleRate === 0) return undefined;
    const { size } = await fh.stat();
    const dataBytes = Math.min(0xffffffff - 64, Math.floor((size - WAV_HEADER_BYTES) / blockAlign) * blockAlign);
    const sizes = Buffer.alloc(4);
    sizes.writeUInt32LE(36 + dataBytes);
    await fh.write(sizes, 0, 4, 4);
    sizes.writeUInt32LE(dataBytes);
    await fh.write(sizes, 0, 4, 40);
    if (size !== WAV_HEADER_BYTES + dataBytes) await fh.truncate(WAV_HEADER_BYTES + dataBytes);
    return { bytes: WAV_HEADER_BYTES + dataBytes, durationMs: Math.round((dataBytes / blockAlign / sampleRate) * 1000) };
  } finally {
    await fh.close();
  }
}

