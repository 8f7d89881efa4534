import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.js';
import { ASTERISK_HELLO, int16FromLe, maxAbsDiff, run, sine, sox, withTempDir, withTempDirAsync } from './test-support.js';
import { decodeWav, encodeWav, WavFileWriter, type WavOutputEncoding } from './wav.js';

const toRaw16 = (file: string, extra: string[] = []): Int16Array => int16FromLe(sox(['-D', file, ...extra, '-t', 'raw', '-e', 'signed', '-b', '16', '-']));

/** Minimal RIFF builder for malformed-input cases. */
function riff(chunks: Array<[string, Uint8Array, number?]>, riffId = 'RIFF', waveId = 'WAVE'): Uint8Array {
  const parts: Buffer[] = [Buffer.from(riffId), Buffer.alloc(4), Buffer.from(waveId)];
  for (const [id, body, declared] of chunks) {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(declared ?? body.length, 4);
    parts.push(head, Buffer.from(body));
    if (body.length & 1 && declared === undefined) parts.push(Buffer.alloc(1));
  }
  const out = Buffer.concat(parts);
  out.writeUInt32LE(out.length - 8, 4);
  return out;
}

function fmtBody(o: { format?: number; channels?: number; rate?: number; blockAlign?: number; bits?: number } = {}): Uint8Array {
  const b = Buffer.alloc(16);
  const channels = o.channels ?? 1;
  const bits = o.bits ?? 16;
  const rate = o.rate ?? 8000;
  b.writeUInt16LE(o.format ?? 1, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE((rate * channels * bits) / 8, 8);
  b.writeUInt16LE(o.blockAlign ?? (channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

const pcm = (samples: number[]): Uint8Array => Buffer.from(Int16Array.from(samples).buffer);

function badAudio(fn: () => unknown, message: RegExp, code = 'bad_audio'): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe(code);
    expect((err as PalabreError).message).toMatch(message);
    return;
  }
  throw new Error('expected a PalabreError');
}

const SOX_ENCODINGS: Array<[string, string[], string, number]> = [
  ['pcm8', ['-e', 'unsigned', '-b', '8'], 'pcm8', 0],
  ['pcm16', ['-e', 'signed', '-b', '16'], 'pcm16', 0],
  ['pcm24', ['-e', 'signed', '-b', '24'], 'pcm24', 0],
  ['pcm32', ['-e', 'signed', '-b', '32'], 'pcm32', 0],
  ['float32', ['-e', 'floating-point', '-b', '32'], 'float32', 1],
  ['float64', ['-e', 'floating-point', '-b', '64'], 'float64', 1],
  ['alaw', ['-e', 'a-law'], 'alaw', 0],
  ['mulaw', ['-e', 'u-law'], 'mulaw', 0],
];

describe('decodeWav', () => {
  it.each(SOX_ENCODINGS)('reads sox-written %s WAV (plain and extensible headers) sample for sample', (_name, soxArgs, encoding, tolerance) => {
    withTempDir((dir) => {
      for (const [type, channels] of [['wavpcm', 1], ['wavpcm', 2], ['wav', 3]] as const) {
        const file = join(dir, `t-${type}-${channels}.wav`);
        const tones = ['sine', '440', 'sine', '660', 'sine', '1250'].slice(0, channels * 2);
        sox(['-D', '-n', '-r', '11025', '-c', String(channels), ...soxArgs, '-t', type, file, 'synth', '0.3', ...tones, 'vol', '0.7']);
        const wav = decodeWav(readFileSync(file));
        expect(wav.encoding).toBe(encoding);
        expect(wav.sampleRate).toBe(11025);
        expect(wav.channels).toBe(channels);
        const ref = toRaw16(file);
        expect(wav.channelData).toHaveLength(channels);
        for (let c = 0; c < channels; c++) {
          const refChannel = ref.filter((_, i) => i % channels === c);
          expect(wav.channelData[c].length).toBe(refChannel.length);
          expect(maxAbsDiff(wav.channelData[c], refChannel), `${type} channel ${c}`).toBeLessThanOrEqual(tolerance);
        }
        const mono = toRaw16(file, ['-c', '1']);
        // sox mixes down by averaging too, rounding its own way.
        expect(maxAbsDiff(wav.samples, mono)).toBeLessThanOrEqual(channels === 1 ? tolerance : 2);
      }
    });
  });

  it('reads an Asterisk prompt exactly as sox does', () => {
    const wav = decodeWav(readFileSync(ASTERISK_HELLO));
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, bitsPerSample: 16, encoding: 'pcm16' });
    expect(wav.samples).toEqual(toRaw16(ASTERISK_HELLO));
  });

  it('reads to end of file when a pipe writer left the data size unknown (ffmpeg 0xFFFFFFFF with LIST, sox 0x7FFFF000)', () => {
    const fromFfmpeg = run('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=f=440:d=0.25:sample_rate=8000', '-f', 'wav', '-']);
    expect(fromFfmpeg.readUInt32LE(4)).toBe(0xffffffff);
    expect(decodeWav(fromFfmpeg).samples.length).toBe(2000);
    const fromSox = sox(['-n', '-r', '8000', '-b', '16', '-t', 'wav', '-', 'synth', '0.25', 'sine', '440']);
    expect(fromSox.readUInt32LE(40)).toBe(0x7ffff000);
    expect(decodeWav(fromSox).samples.length).toBe(2000);
    const zeroSize = riff([['fmt ', fmtBody()], ['data', pcm([1, 2, 3]), 0]]);
    expect(decodeWav(zeroSize).samples).toEqual(Int16Array.from([1, 2, 3]));
  });

  it('skips unknown chunks and honours the pad byte after an odd-sized one', () => {
    const wav = riff([['fmt ', fmtBody()], ['LIST', Buffer.from('INFOx')], ['junk', new Uint8Array(3)], ['data', pcm([7, -7, 300])], ['id3 ', new Uint8Array(9)]]);
    expect(decodeWav(wav).samples).toEqual(Int16Array.from([7, -7, 300]));
    // An empty data chunk followed by another chunk is empty, not "to end of file".
    expect(decodeWav(riff([['fmt ', fmtBody()], ['data', new Uint8Array(0)], ['LIST', new Uint8Array(4)]])).samples.length).toBe(0);
  });

  it('drops a trailing partial sample frame', () => {
    const body = Buffer.concat([Buffer.from(pcm([1, 2, 3, 4])), Buffer.from([9])]);
    expect(decodeWav(riff([['fmt ', fmtBody({ channels: 2 })], ['data', body]])).channelData[1]).toEqual(Int16Array.from([2, 4]));
  });

  it('names what is wrong with malformed files', () => {
    const good = riff([['fmt ', fmtBody()], ['data', pcm([1, 2, 3, 4])]]);
    badAudio(() => decodeWav(good.subarray(0, 8)), /even the RIFF header needs 12/);
    badAudio(() => decodeWav(good.subarray(0, 30)), /fmt chunk is cut off/);
    badAudio(() => decodeWav(good.subarray(0, 36)), /no data chunk/);
    badAudio(() => decodeWav(Buffer.from('ID3\x04' + 'x'.repeat(40))), /does not start with "RIFF"/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody()]], 'RIFF', 'AVI ')), /not "WAVE"/);
    badAudio(() => decodeWav(riff([['data', pcm([1])]])), /no fmt chunk/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody()], ['data', pcm([1, 2]), 44100]])), /WAV header says 44100 bytes of data but only 4 are present/);
    badAudio(() => decodeWav(riff([['LIST', new Uint8Array(4), 5000], ['fmt ', fmtBody()], ['data', pcm([1])]])), /"LIST" chunk says 5000 bytes but only 38 remain in the file/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody().subarray(0, 14)], ['data', pcm([1])]])), /fmt chunk is 14 bytes; at least 16/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody({ channels: 0, blockAlign: 2 })], ['data', pcm([1])]])), /0 channels/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody({ rate: 0 })], ['data', pcm([1])]])), /sample rate of 0 Hz/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody({ channels: 2, blockAlign: 2 })], ['data', pcm([1])]])), /block align is 2 bytes but 2 channel\(s\) of 16 bits need 4/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody({ bits: 12 })], ['data', pcm([1])]])), /12 bits per sample is not supported/);
    badAudio(() => decodeWav(riff([['fmt ', fmtBody({ format: 0x55, bits: 0, blockAlign: 1 })], ['data', pcm([1])]])), /MP3 \(0x55\) is not supported/, 'unsupported_media');
    badAudio(() => decodeWav(riff([['fmt ', fmtBody({ format: 0x11, bits: 4 })], ['data', pcm([1])]])), /IMA ADPCM/, 'unsupported_media');
    const rf64 = Buffer.from(good);
    rf64.write('RF64', 0, 'latin1');
    badAudio(() => decodeWav(rf64), /RF64/, 'unsupported_media');
  });

  it('refuses a WAVE_FORMAT_EXTENSIBLE header with a foreign sub-format GUID', () => {
    const fmt = Buffer.alloc(40);
    fmt.set(fmtBody({ format: 0xfffe }));
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(16, 18);
    fmt.set(Buffer.from('00000000000000000000000000000000', 'hex'), 24);
    badAudio(() => decodeWav(riff([['fmt ', fmt], ['data', pcm([1])]])), /sub-format is not a WAVE format GUID/);
  });
});

describe('encodeWav', () => {
  const left = sine(440, 16000, 1601, 20_000);
  const right = sine(1000, 16000, 1601, 9_000, 1);

  function expected(encoding: WavOutputEncoding, x: Int16Array): Int16Array {
    if (encoding === 'mulaw') return decodeMulaw(encodeMulaw(x));
    if (encoding === 'alaw') return decodeAlaw(encodeAlaw(x));
    if (encoding === 'pcm8') return x.map((s) => Math.max(-128, Math.min(127, Math.round(s / 256))) * 256);
    return x;
  }

  const SOX_INFO: Record<WavOutputEncoding, RegExp> = {
    pcm8: /8-bit Unsigned Integer PCM/,
    pcm16: /16-bit Signed Integer PCM/,
    pcm24: /24-bit Signed Integer PCM/,
    pcm32: /32-bit Signed Integer PCM/,
    float32: /32-bit Floating Point PCM/,
    mulaw: /u-law/,
    alaw: /A-law/,
  };

  it.each(Object.keys(SOX_INFO) as WavOutputEncoding[])('writes %s WAV that sox reads back and our reader round-trips', (encoding) => {
    withTempDir((dir) => {
      const cases: Array<{ samples: Int16Array; sampleRate: number } | { channels: Int16Array[]; sampleRate: number }> = [
        { samples: left, sampleRate: 16000 },
        { channels: [left, right], sampleRate: 16000 },
      ];
      for (const audio of cases) {
        const channels = 'channels' in audio ? audio.channels : [audio.samples];
        const bytes = encodeWav(audio, { encoding });
        const file = join(dir, `${encoding}-${channels.length}.wav`);
        writeFileSync(file, bytes);
        const info = sox(['--i', file]).toString();
        expect(info).toMatch(SOX_INFO[encoding]);
        expect(info).toMatch(/Sample Rate\s+: 16000/);
        expect(info).toMatch(new RegExp(`Channels\\s+: ${channels.length}`));
        expect(info).toMatch(/= 1601 samples/);
        const ref = toRaw16(file);
        const back = decodeWav(bytes);
        expect(back.encoding).toBe(encoding);
        for (let c = 0; c < channels.length; c++) {
          const want = expected(encoding, channels[c]);
          expect(ref.filter((_, i) => i % channels.length === c)).toEqual(want);
          expect(back.channelData[c]).toEqual(want);
        }
      }
    });
  });

  it('refuses channels of unequal length and unknown encodings', () => {
    expect(() => encodeWav({ channels: [new Int16Array(3), new Int16Array(4)], sampleRate: 8000 })).toThrow(/equal lengths; got 3 and 4/);
    expect(() => encodeWav({ samples: new Int16Array(3), sampleRate: 8000 }, { encoding: 'mp3' as WavOutputEncoding })).toThrow(/unknown WAV encoding "mp3"/);
    expect(() => encodeWav({ samples: new Int16Array(3), sampleRate: 0 })).toThrow(PalabreError);
  });
});

describe('WavFileWriter', () => {
  it('keeps a readable file while recording and a correct one after close', async () => {
    await withTempDirAsync(async (dir) => {
      const file = join(dir, 'rec.wav');
      const w = await WavFileWriter.open(file, { sampleRate: 8000, flushEverySec: 0 });
      const frame = sine(440, 8000, 160, 8000);
      for (let i = 0; i < 10; i++) await w.write({ samples: frame, sampleRate: 8000 });
      // As if the process died here: sizes are still the sentinel, and our reader takes the whole data.
      expect(readFileSync(file).readUInt32LE(40)).toBe(0xffffffff);
      expect(decodeWav(readFileSync(file)).samples.length).toBe(1600);
      await w.flush();
      expect(sox(['--i', '-s', file]).toString().trim()).toBe('1600');
      for (let i = 0; i < 5; i++) await w.write(frame);
      // Flushed sizes are a lower bound until the next flush: never past the end of the file.
      expect(decodeWav(readFileSync(file)).samples.length).toBe(1600);
      await w.close();
      await w.close();
      expect(w.durationSec).toBeCloseTo(0.3);
      expect(sox(['--i', '-s', file]).toString().trim()).toBe('2400');
      expect(toRaw16(file).subarray(0, 160)).toEqual(frame);
      await expect(w.write(frame)).rejects.toThrow(/used after close\(\)/);
    });
  });

  it('patches the header by itself every flushEverySec of audio', async () => {
    await withTempDirAsync(async (dir) => {
      const file = join(dir, 'auto.wav');
      const w = await WavFileWriter.open(file, { sampleRate: 8000, flushEverySec: 0.1 });
      const frame = new Int16Array(160);
      const writes = [];
      for (let i = 0; i < 6; i++) writes.push(w.write(frame));
      await Promise.all(writes);
      expect(readFileSync(file).readUInt32LE(40)).toBe(960 * 2);
      await w.close();
    });
  });

  it('records two channels in µ-law with an odd byte count that sox reads', async () => {
    await withTempDirAsync(async (dir) => {
      const file = join(dir, 'stereo.wav');
      const w = await WavFileWriter.open(file, { sampleRate: 8000, channels: 2, encoding: 'mulaw' });
      const a = sine(300, 8000, 161, 6000);
      const b = sine(700, 8000, 161, 6000);
      await w.write([a, b]);
      await expect(w.write(a)).rejects.toThrow(/has 2 channel\(s\) but was given 1/);
      await expect(w.write({ samples: a, sampleRate: 16000 })).rejects.toMatchObject({ code: 'rate_mismatch' });
      await w.close();
      expect(sox(['--i', file]).toString()).toMatch(/u-law/);
      const back = decodeWav(readFileSync(file));
      expect(back.channelData[0]).toEqual(decodeMulaw(encodeMulaw(a)));
      expect(back.channelData[1]).toEqual(decodeMulaw(encodeMulaw(b)));
    });
  });
});
