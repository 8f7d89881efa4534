/**
 * Any uploaded audio → mono PCM16 at its own sample rate. WAV is read in
 * process; compressed formats go through ffmpeg over stdin/stdout. The
 * container is recognised from its first bytes, never from a MIME header.
 */
import { spawn } from 'node:child_process';
import { PalabreError } from '../errors.js';
import type { AudioChunk } from './frame.js';
import { mp4FastStart } from './mp4-faststart.js';
import { decodeWav } from './wav-decode.js';

export type AudioContainer = 'wav' | 'mp3' | 'ogg' | 'webm' | 'm4a' | 'flac' | 'aac' | 'unknown';

export interface DecodeAudioOptions {
  /** ffmpeg program (a name on the PATH or a path). */
  ffmpegPath: string;
  signal?: AbortSignal;
  /** Longer audio is refused with payload_too_large; ffmpeg stops decoding just past it. */
  maxDurationSec?: number;
  /** ffmpeg is killed after this long; 120 s by default. */
  timeoutMs?: number;
}

const ascii = (buf: Uint8Array, at: number, text: string): boolean => {
  if (buf.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[at + i] !== text.charCodeAt(i)) return false;
  return true;
};

/** An MPEG audio frame header: 11 sync bits, a known version, layer I-III, a usable bitrate and rate. */
function isMpegFrame(buf: Uint8Array, at: number): boolean {
  if (buf.length < at + 4 || buf[at] !== 0xff || (buf[at + 1] & 0xe0) !== 0xe0) return false;
  const version = (buf[at + 1] >> 3) & 3;
  const layer = (buf[at + 1] >> 1) & 3;
  const bitrate = buf[at + 2] >> 4;
  const rate = (buf[at + 2] >> 2) & 3;
  return version !== 1 && layer !== 0 && bitrate !== 0xf && bitrate !== 0 && rate !== 3;
}

function isAdts(buf: Uint8Array, at: number): boolean {
  return buf.length >= at + 7 && buf[at] === 0xff && (buf[at + 1] & 0xf6) === 0xf0;
}

/** Recognises the container from magic bytes. */
export function sniffAudio(buf: Uint8Array): AudioContainer {
  let at = 0;
  // An ID3v2 tag may precede MP3, AAC or even FLAC data: look past it.
  if (ascii(buf, 0, 'ID3') && buf.length >= 10) {
    const size = ((buf[6] & 0x7f) << 21) | ((buf[7] & 0x7f) << 14) | ((buf[8] & 0x7f) << 7) | (buf[9] & 0x7f);
    at = 10 + size + (buf[5] & 0x10 ? 10 : 0);
    if (at >= buf.length) return 'mp3';
  }
  if (at === 0) {
    if ((ascii(buf, 0, 'RIFF') || ascii(buf, 0, 'RF64')) && ascii(buf, 8, 'WAVE')) return 'wav';
    if (ascii(buf, 0, 'OggS')) return 'ogg';
    if (buf.length >= 4 && buf[0] === 0x1a && buf[1] === 0x45 && buf[2] === 0xdf && buf[3] === 0xa3) return 'webm';
    if (ascii(buf, 4, 'ftyp')) return 'm4a';
  }
  if (ascii(buf, at, 'fLaC')) return 'flac';
  if (isMpegFrame(buf, at)) return 'mp3';
  if (isAdts(buf, at)) return 'aac';
  return at > 0 ? 'mp3' : 'unknown';
}

function checkDuration(chunk: AudioChunk, maxDurationSec: number | undefined): AudioChunk {
  const seconds = chunk.samples.length / chunk.sampleRate;
  if (maxDurationSec !== undefined && seconds > maxDurationSec) {
    throw new PalabreError('payload_too_large', `the audio lasts ${seconds.toFixed(1)} s; the limit is ${maxDurationSec} s`, {
      details: { durationSec: seconds, maxDurationSec },
    });
  }
  return chunk;
}

/** Decodes an upload to mono PCM16 at its own rate. */
export async function decodeAudio(buf: Uint8Array, options: DecodeAudioOptions): Promise<AudioChunk> {
  if (options.signal?.aborted) throw new PalabreError('aborted', 'audio decoding was cancelled', { cause: options.signal.reason });
  if (buf.length === 0) throw new PalabreError('bad_audio', 'the audio is empty (0 bytes)');
  const kind = sniffAudio(buf);
  if (kind === 'unknown') {
    const head = Buffer.from(buf.subarray(0, 8)).toString('hex').replace(/(..)/g, '$1 ').trim();
    throw new PalabreError('unsupported_media', `unrecognised audio format (first bytes: ${head}); send WAV, MP3, Ogg/Opus, WebM, M4A or FLAC`, {
      details: { firstBytes: head },
    });
  }
  if (kind === 'wav') {
    try {
      const wav = decodeWav(buf);
      return checkDuration({ samples: wav.samples, sampleRate: wav.sampleRate }, options.maxDurationSec);
    } catch (err) {
      // WAV carrying ADPCM, MP3 or RF64 is still something ffmpeg can read; header faults are not.
      if (!(err instanceof PalabreError) || err.code !== 'unsupported_media') throw err;
    }
  }
  const input = kind === 'm4a' ? mp4FastStart(buf) : buf;
  const { wav: wavBytes, stderr } = await runFfmpeg(input, kind, options);
  const decoded = decodeWav(wavBytes);
  // ffmpeg exits 0 on some fatal input errors (a truncated or unseekable MP4), having written only a header.
  if (decoded.samples.length === 0 && stderr.trim() !== '') {
    throw new PalabreError('unsupported_media', `ffmpeg could not decode the ${kind} audio: ${lastLine(stderr)}`, { details: { format: kind, stderr: stderr.slice(-1000) } });
  }
  return checkDuration({ samples: decoded.samples, sampleRate: decoded.sampleRate }, options.maxDurationSec);
}

function ffmpegArgs(maxDurationSec: number | undefined): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-i', 'pipe:0', '-map', '0:a:0', '-vn', '-ac', '1', '-c:a', 'pcm_s16le'];
  // Decode a little past the limit so "too long" is still detected, without decoding hours of it.
  if (maxDurationSec !== undefined) args.push('-t', String(maxDurationSec + 1));
  args.push('-f', 'wav', 'pipe:1');
  return args;
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? '(no message)';
}

function runFfmpeg(input: Uint8Array, kind: AudioContainer, options: DecodeAudioOptions): Promise<{ wav: Uint8Array; stderr: string }> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    let settled = false;
    const stdout: Buffer[] = [];
    let stderr = '';
    const child = spawn(options.ffmpegPath, ffmpegArgs(options.maxDurationSec), { stdio: ['pipe', 'pipe', 'pipe'] });

    const finish = (err: PalabreError | null, value?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        reject(err);
      } else resolve({ wav: value as Uint8Array, stderr });
    };
    const onAbort = () => finish(new PalabreError('aborted', `decoding the ${kind} audio was cancelled`, { cause: options.signal?.reason }));
    const timer = setTimeout(() => finish(new PalabreError('engine_failed', `ffmpeg took longer than ${timeoutMs} ms to decode the ${kind} audio`)), timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        finish(
          new PalabreError('unsupported_media', 'ffmpeg is not installed or not on the PATH; install ffmpeg to decode mp3/ogg/webm/m4a, or send WAV', {
            cause: err,
            details: { ffmpegPath: options.ffmpegPath, format: kind },
          }),
        );
      } else {
        finish(new PalabreError('unsupported_media', `cannot run ffmpeg (${options.ffmpegPath}): ${err.message}`, { cause: err }));
      }
    });
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4096);
    });
    // ffmpeg stops reading when it gives up on bad input: the broken pipe is expected, its exit status tells why.
    child.stdin.on('error', () => undefined);
    child.on('close', (code, signal) => {
      if (code === 0) {
        finish(null, Buffer.concat(stdout));
      } else {
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        finish(
          new PalabreError('unsupported_media', `ffmpeg could not decode the ${kind} audio (${why}): ${lastLine(stderr)}`, {
            details: { format: kind, exitCode: code, stderr: stderr.slice(-1000) },
          }),
        );
      }
    });
    child.stdin.end(input);
  });
}
