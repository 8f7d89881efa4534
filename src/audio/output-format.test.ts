import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeAlaw, decodeMulaw } from './g711.js';
import { encodeAudioAs } from './output-format.js';
import { loadResampler } from './resample.js';
import { decodeSlinLe } from './slin.js';
import { sine, sox, toneAmplitude, withTempDir } from './test-support.js';
import { decodeWav } from './wav.js';

const tone = { samples: sine(1000, 16000, 16000, 12_000), sampleRate: 16000 };

describe('encodeAudioAs', () => {
  it('writes WAV at the asked rate, readable by sox', async () => {
    const out = await encodeAudioAs(tone, 'wav', 8000);
    expect(out).toMatchObject({ contentType: 'audio/wav', sampleRate: 8000, durationSec: 1 });
    withTempDir((dir) => {
      writeFileSync(join(dir, 'o.wav'), out.bytes);
      expect(sox(['--i', '-r', join(dir, 'o.wav')]).toString().trim()).toBe('8000');
    });
    const back = decodeWav(out.bytes);
    expect(back.samples.length).toBe(8000);
    expect(toneAmplitude(back.samples.subarray(800, 7200), 1000, 8000)).toBeGreaterThan(11_500);
  });

  it('writes raw little-endian PCM, µ-law and A-law with matching content types', async () => {
    const factory = await loadResampler();
    const pcm = await encodeAudioAs(tone, 'pcm', 16000, factory);
    expect(pcm.contentType).toBe('audio/pcm;rate=16000;channels=1');
    expect(decodeSlinLe(pcm.bytes)).toEqual(tone.samples);

    const ulaw = await encodeAudioAs(tone, 'ulaw', 8000, factory);
    expect(ulaw).toMatchObject({ contentType: 'audio/basic', sampleRate: 8000 });
    expect(ulaw.bytes.length).toBe(8000);
    expect(toneAmplitude(decodeMulaw(ulaw.bytes).subarray(800, 7200), 1000, 8000)).toBeGreaterThan(11_500);

    const alaw = await encodeAudioAs(tone, 'alaw', 8000, factory);
    expect(alaw.contentType).toBe('audio/x-alaw-basic');
    expect(toneAmplitude(decodeAlaw(alaw.bytes).subarray(800, 7200), 1000, 8000)).toBeGreaterThan(11_500);

    expect((await encodeAudioAs(tone, 'ulaw', 16000, factory)).contentType).toBe('audio/PCMU;rate=16000');
    expect((await encodeAudioAs(tone, 'alaw', 16000, factory)).contentType).toBe('audio/PCMA;rate=16000');
  });

  it('refuses unknown formats and impossible rates', async () => {
    await expect(encodeAudioAs(tone, 'mp3' as 'wav', 16000)).rejects.toThrow(/unknown audio output format "mp3"/);
    await expect(encodeAudioAs(tone, 'wav', 0)).rejects.toMatchObject({ code: 'bad_request' });
  });
});
