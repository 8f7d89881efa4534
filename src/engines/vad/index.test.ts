import { describe, expect, it } from 'vitest';
import { buildScene } from '../../../test/fixtures/vad-audio.js';
import { PalabreError } from '../../errors.js';
import { createVad, findSpeechRegions, type VadEngineName } from './index.js';

describe('createVad', () => {
  it.each(['silero', 'webrtc'] as const)('loads %s at 16 kHz by default', async (name) => {
    const vad = await createVad(name);
    expect(vad.name).toBe(name);
    expect(vad.sampleRate).toBe(16_000);
    await vad.close();
  });

  it('passes the WebRTC mode through and rejects an unknown engine with engine_unavailable', async () => {
    await expect(createVad('webrtc', { mode: 7 })).rejects.toThrow(/mode must be 0, 1, 2 or 3, got 7/);
    const err = await createVad('nope' as VadEngineName).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe('engine_unavailable');
    expect((err as PalabreError).message).toMatch(/unknown VAD engine "nope"; use one of silero, webrtc/);
  });
});

describe('findSpeechRegions', () => {
  it('asserts the rate: 8 kHz audio given to a 16 kHz VAD is a rate_mismatch, not silence', async () => {
    const vad = await createVad('silero');
    const scene = await buildScene(['hello-world'], { sampleRate: 8_000 });
    const err = await findSpeechRegions(vad, scene.chunk).catch((e: unknown) => e);
    expect((err as PalabreError).code).toBe('rate_mismatch');
    expect((err as PalabreError).message).toMatch(/findSpeechRegions \(silero VAD\) expects 16000 Hz audio but got 8000 Hz/);
    await vad.close();
  });

  it('closes a region still open when the audio ends, at the end of the audio', async () => {
    const vad = await createVad('silero');
    const scene = await buildScene(['conf-onlyperson'], { leadMs: 500, tailMs: 0 });
    const totalMs = (scene.chunk.samples.length * 1000) / 16_000;
    // Cut in the middle of the prompt: speech runs to the last sample.
    const cut = { samples: scene.chunk.samples.subarray(0, 16 * 2000), sampleRate: 16_000 };
    const regions = await findSpeechRegions(vad, cut);
    expect(regions.length).toBe(1);
    expect(regions[0].endMs).toBe(2000);
    // The whole prompt, with its own 260 ms tail of silence: the region ends before the audio does.
    const whole = await findSpeechRegions(vad, scene.chunk);
    expect(whole[0].endMs).toBeLessThanOrEqual(totalMs);
    await vad.close();
  });

  it('pads regions, clamps them to the audio and merges those that then overlap', async () => {
    const vad = await createVad('webrtc');
    const scene = await buildScene(['agent-pass', 'conf-getpin'], { leadMs: 300, gapMs: 700, tailMs: 400 });
    const totalMs = (scene.chunk.samples.length * 1000) / 16_000;
    const plain = await findSpeechRegions(vad, scene.chunk);
    expect(plain.length).toBe(2);
    const padded = await findSpeechRegions(vad, scene.chunk, { padMs: 100 });
    expect(padded).toEqual(plain.map((r) => ({ startMs: Math.max(0, r.startMs - 100), endMs: Math.min(totalMs, r.endMs + 100) })));
    const merged = await findSpeechRegions(vad, scene.chunk, { padMs: 400 });
    // 300 ms of lead is less than the pad: clamped to 0. The 700 ms gap shrinks below 800: merged.
    expect(merged).toEqual([{ startMs: 0, endMs: Math.min(totalMs, plain[1].endMs + 400) }]);
    await vad.close();
  });

  it('honours VAD options: a long minSilenceMs bridges the gap between two prompts', async () => {
    const vad = await createVad('silero');
    const scene = await buildScene(['queue-thankyou', 'vm-goodbye'], { gapMs: 600 });
    expect((await findSpeechRegions(vad, scene.chunk)).length).toBe(2);
    expect((await findSpeechRegions(vad, scene.chunk, { minSilenceMs: 1500 })).length).toBe(1);
    await vad.close();
  });

  it('finds nothing in digital silence', async () => {
    const vad = await createVad('silero');
    expect(await findSpeechRegions(vad, { samples: new Int16Array(16_000 * 3), sampleRate: 16_000 })).toEqual([]);
    await vad.close();
  });
});
