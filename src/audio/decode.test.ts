import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { decodeAudio, sniffAudio } from './decode.js';
import { mp4FastStart } from './mp4-faststart.js';
import { resample } from './resample.js';
import { ASTERISK_HELLO, correlation, int16FromLe, run, sox } from './test-support.js';
import { decodeWav, encodeWav } from './wav.js';

const FFMPEG = 'ffmpeg';
let dir: string;
let source: Int16Array;
const files: Record<string, Buffer> = {};

function ffmpeg(args: string[], input?: Uint8Array): Buffer {
  return run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...args], input);
}

/** Best correlation of `b` against `a` over a small range of lags (codecs add a few ms of delay). */
function alignedCorrelation(a: Int16Array, b: Int16Array, maxLag = 400): number {
  let best = -1;
  for (let lag = -maxLag; lag <= maxLag; lag += 1) {
    const x = lag >= 0 ? a.subarray(lag) : a;
    const y = lag >= 0 ? b : b.subarray(-lag);
    best = Math.max(best, correlation(x, y));
  }
  return best;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'palabre-decode-'));
  const wav = join(dir, 'src.wav');
  sox([ASTERISK_HELLO, '-r', '16000', wav]);
  source = decodeWav(readFileSync(wav)).samples;
  const make = (name: string, args: string[]) => {
    ffmpeg(['-i', wav, ...args, join(dir, name)]);
    files[name] = readFileSync(join(dir, name));
  };
  make('a.mp3', ['-c:a', 'libmp3lame', '-b:a', '64k']);
  make('a.ogg', ['-c:a', 'libopus']);
  make('a.webm', ['-c:a', 'libopus']);
  make('a.m4a', ['-c:a', 'aac']);
  make('a.flac', []);
  make('mp3-in.wav', ['-c:a', 'libmp3lame']);
  make('rf64.wav', ['-rf64', 'always']);
  // 20 s with the index written last, as encoders do by default: too big for ffmpeg to seek back in a pipe.
  sox([wav, join(dir, 'long.wav'), 'repeat', '14']);
  ffmpeg(['-i', join(dir, 'long.wav'), '-c:a', 'aac', join(dir, 'long.m4a')]);
  files['long.m4a'] = readFileSync(join(dir, 'long.m4a'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sniffAudio', () => {
  it('recognises containers from their first bytes', () => {
    expect(sniffAudio(files['a.mp3'])).toBe('mp3');
    expect(sniffAudio(files['a.ogg'])).toBe('ogg');
    expect(sniffAudio(files['a.webm'])).toBe('webm');
    expect(sniffAudio(files['a.m4a'])).toBe('m4a');
    expect(sniffAudio(files['a.flac'])).toBe('flac');
    expect(sniffAudio(readFileSync(ASTERISK_HELLO))).toBe('wav');
    expect(sniffAudio(files['mp3-in.wav'])).toBe('wav');
    // A bare MPEG frame, as streamed MP3 without a tag starts.
    const id3Size = 10 + ((files['a.mp3'][6] << 21) | (files['a.mp3'][7] << 14) | (files['a.mp3'][8] << 7) | files['a.mp3'][9]);
    expect(sniffAudio(files['a.mp3'].subarray(id3Size))).toBe('mp3');
    expect(sniffAudio(Buffer.from('<!DOCTYPE html><html>'))).toBe('unknown');
    expect(sniffAudio(Buffer.from('{"audio": "..."}'))).toBe('unknown');
    expect(sniffAudio(new Uint8Array(0))).toBe('unknown');
  });
});

describe('decodeAudio', () => {
  it.each([
    ['a.mp3', 16000],
    ['a.ogg', 48000],
    ['a.webm', 48000],
    ['a.m4a', 16000],
    ['a.flac', 16000],
    ['mp3-in.wav', 16000],
    ['rf64.wav', 16000],
  ])('decodes %s made by ffmpeg back to the source speech', async (name, rate) => {
    const chunk = await decodeAudio(files[name], { ffmpegPath: FFMPEG });
    expect(chunk.sampleRate).toBe(rate);
    const at16 = (await resample(chunk, 16000)).samples;
    // MP3 inside WAV has no gapless metadata, so the encoder's delay and padding stay in.
    expect(Math.abs(at16.length - source.length)).toBeLessThan(16000 * (name === 'mp3-in.wav' ? 0.15 : 0.06));
    if (name === 'a.flac' || name === 'rf64.wav') expect(at16).toEqual(source);
    else expect(alignedCorrelation(source, at16, name === 'mp3-in.wav' ? 2000 : 400)).toBeGreaterThan(0.9);
  });

  it('decodes WAV in process, with no ffmpeg at all', async () => {
    const chunk = await decodeAudio(readFileSync(ASTERISK_HELLO), { ffmpegPath: '/nonexistent/ffmpeg' });
    expect(chunk.sampleRate).toBe(8000);
    expect(chunk.samples).toEqual(int16FromLe(sox([ASTERISK_HELLO, '-t', 'raw', '-'])));
  });

  it('streams an M4A whose index comes last through the pipe', async () => {
    const raw = files['long.m4a'];
    // The fixture must really be one that defeats a plain pipe, or this test guards nothing.
    expect(decodeWav(ffmpeg(['-i', 'pipe:0', '-f', 'wav', 'pipe:1'], raw)).samples.length).toBe(0);
    const fixed = mp4FastStart(raw);
    expect(fixed.length).toBe(raw.length);
    expect(Buffer.from(fixed.subarray(0, 64)).includes('moov')).toBe(true);
    const chunk = await decodeAudio(raw, { ffmpegPath: FFMPEG });
    expect(chunk.sampleRate).toBe(16000);
    expect(Math.abs(chunk.samples.length - source.length * 15) / 16000).toBeLessThan(0.1);
  });

  it('says ffmpeg is missing when it cannot be found (415)', async () => {
    const err = await decodeAudio(files['a.mp3'], { ffmpegPath: '/nonexistent/ffmpeg' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PalabreError);
    expect(err).toMatchObject({ code: 'unsupported_media', status: 415 });
    expect((err as Error).message).toBe('ffmpeg is not installed or not on the PATH; install ffmpeg to decode mp3/ogg/webm/m4a, or send WAV');
  });

  it('refuses unknown formats and empty input', async () => {
    await expect(decodeAudio(Buffer.from('<html><body>not audio</body></html>'), { ffmpegPath: FFMPEG })).rejects.toMatchObject({
      code: 'unsupported_media',
      message: expect.stringMatching(/unrecognised audio format \(first bytes: 3c 68 74 6d/),
    });
    await expect(decodeAudio(new Uint8Array(0), { ffmpegPath: FFMPEG })).rejects.toMatchObject({ code: 'bad_audio' });
  });

  it("reports ffmpeg's own last error line when it cannot decode", async () => {
    const broken = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(3000, 0x5a)]);
    const err = (await decodeAudio(broken, { ffmpegPath: FFMPEG }).catch((e: unknown) => e)) as PalabreError;
    expect(err.code).toBe('unsupported_media');
    expect(err.message).toMatch(/^ffmpeg could not decode the ogg audio \(exited with code \d+\): .*pipe:0/);
  });

  it('fails instead of returning nothing when ffmpeg exits 0 without audio', async () => {
    // What ffmpeg 5 does on an MP4 it cannot seek in: a bare WAV header, an error line, exit status 0.
    const fake = join(dir, 'empty-ffmpeg.sh');
    writeFileSync(join(dir, 'header.wav'), encodeWav({ samples: new Int16Array(0), sampleRate: 16000 }));
    writeFileSync(fake, `#!/bin/sh\ncat > /dev/null\ncat ${join(dir, 'header.wav')}\necho 'pipe:0: Invalid data found when processing input' >&2\nexit 0\n`);
    chmodSync(fake, 0o755);
    await expect(decodeAudio(files['a.m4a'], { ffmpegPath: fake })).rejects.toMatchObject({
      code: 'unsupported_media',
      message: 'ffmpeg could not decode the m4a audio: pipe:0: Invalid data found when processing input',
    });
  });

  it('keeps WAV header faults as bad_audio instead of handing them to ffmpeg', async () => {
    const wav = Buffer.from(encodeWav({ samples: new Int16Array(100), sampleRate: 8000 }));
    wav.writeUInt32LE(99_999, 40);
    await expect(decodeAudio(wav, { ffmpegPath: FFMPEG })).rejects.toMatchObject({ code: 'bad_audio', message: expect.stringMatching(/says 99999 bytes of data/) });
  });

  it('refuses audio longer than maxDurationSec, for WAV and compressed input', async () => {
    await expect(decodeAudio(readFileSync(ASTERISK_HELLO), { ffmpegPath: FFMPEG, maxDurationSec: 1 })).rejects.toMatchObject({
      code: 'payload_too_large',
      message: 'the audio lasts 1.4 s; the limit is 1 s',
    });
    await expect(decodeAudio(files['long.m4a'], { ffmpegPath: FFMPEG, maxDurationSec: 5 })).rejects.toMatchObject({ code: 'payload_too_large' });
    expect((await decodeAudio(files['a.mp3'], { ffmpegPath: FFMPEG, maxDurationSec: 5 })).sampleRate).toBe(16000);
  });

  it('kills ffmpeg when the request is aborted, and on timeout', async () => {
    const fake = join(dir, 'slow-ffmpeg.sh');
    const pidFile = join(dir, 'pid');
    writeFileSync(fake, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 30\n`);
    chmodSync(fake, 0o755);
    const controller = new AbortController();
    const pending = decodeAudio(files['a.mp3'], { ffmpegPath: fake, signal: controller.signal });
    const pid = await waitForPid(pidFile);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    await expect.poll(() => isAlive(pid), { timeout: 2000 }).toBe(false);

    rmSync(pidFile);
    await expect(decodeAudio(files['a.mp3'], { ffmpegPath: fake, timeoutMs: 300 })).rejects.toMatchObject({
      code: 'engine_failed',
      message: expect.stringMatching(/longer than 300 ms/),
    });
    const pid2 = await waitForPid(pidFile);
    await expect.poll(() => isAlive(pid2), { timeout: 2000 }).toBe(false);

    const already = AbortSignal.abort();
    await expect(decodeAudio(files['a.mp3'], { ffmpegPath: FFMPEG, signal: already })).rejects.toMatchObject({ code: 'aborted' });
  });
});

async function waitForPid(file: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0) return pid;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('fake ffmpeg never started');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
