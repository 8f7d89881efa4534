/**
 * WAV → Ogg/Opus or MP3 with ffmpeg, both channels kept. The result is
 * written next to the WAV under a temporary name and renamed into place only
 * once ffmpeg has succeeded, so a failure or a crash never leaves a
 * half-written file where a recording is expected.
 */
import { spawn } from 'node:child_process';
import { rename, stat, unlink } from 'node:fs/promises';
import { PalabreError } from '../errors.js';
import type { RecordingFormat } from './paths.js';

export interface ConvertOptions {
  ffmpegPath: string;
  /** ffmpeg is killed after this long (default 10 min). */
  timeoutMs?: number;
}

/** Speech in stereo: Opus at 32 kbit/s, MP3 at 48 kbit/s (16 kHz is an MPEG-2 layer III rate). */
const CODEC: Record<Exclude<RecordingFormat, 'wav'>, string[]> = {
  ogg: ['-c:a', 'libopus', '-b:a', '32k', '-application', 'voip', '-f', 'ogg'],
  mp3: ['-c:a', 'libmp3lame', '-b:a', '48k', '-f', 'mp3'],
};

function lastLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? '(no message)'
  );
}

function runFfmpeg(ffmpegPath: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    let settled = false;
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      } else resolve();
    };
    const timer = setTimeout(() => done(new PalabreError('engine_failed', `ffmpeg took longer than ${timeoutMs} ms to convert the recording`)), timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4096);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      done(
        err.code === 'ENOENT'
          ? new PalabreError('engine_unavailable', `ffmpeg is not installed or not on the PATH (${ffmpegPath}); recordings stay WAV`, { cause: err, details: { ffmpegPath } })
          : new PalabreError('engine_failed', `cannot run ffmpeg (${ffmpegPath}): ${err.message}`, { cause: err }),
      );
    });
    child.on('close', (code, signal) => {
      if (code === 0) done();
      else done(new PalabreError('engine_failed', `ffmpeg could not convert the recording (${signal ? `killed by ${signal}` : `exit code ${code}`}): ${lastLine(stderr)}`, { details: { stderr: stderr.slice(-1000) } }));
    });
  });
}

/** Converts `wavFile` to `outFile` in `format`; returns the new file's size. The WAV is left in place. */
export async function convertRecording(wavFile: string, outFile: string, format: Exclude<RecordingFormat, 'wav'>, options: ConvertOptions): Promise<number> {
  const part = `${outFile}.part`;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-y', '-i', wavFile, '-map', '0:a:0', '-ac', '2', ...CODEC[format], part];
  try {
    await runFfmpeg(options.ffmpegPath, args, options.timeoutMs ?? 600_000);
    const { size } = await stat(part);
    if (size === 0) throw new PalabreError('engine_failed', 'ffmpeg wrote an empty file');
    await rename(part, outFile);
    return size;
  } catch (err) {
    await unlink(part).catch(() => undefined);
    throw err;
  }
}
