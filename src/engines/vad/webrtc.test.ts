import { describe, expect, it } from 'vitest';
import { buildScene, frameAccuracy, mixNoise, type Region } from '../../../test/fixtures/vad-audio.js';
import { PalabreError } from '../../errors.js';
import { findSpeechRegions } from './index.js';
import { createWebrtcVad } from './webrtc.js';

/** Measured worst cases on these prompts: start +20 ms, end +160 ms (the segmenter's 300 ms of silence is not counted in the end). */
const START_TOL_MS = 150;
const END_TOL_MS = 300;

const SETS = [['hello-world'], ['conf-onlyperson'], ['agent-pass', 'conf-getpin'], ['queue-thankyou', 'vm-goodbye']];

function expectRegionsNear(got: Region[], truth: Region[]): void {
  expect(got.length, `regions ${JSON.stringify(got)} vs truth ${JSON.stringify(truth)}`).toBe(truth.length);
  for (let i = 0; i < truth.length; i++) {
    expect(Math.abs(got[i].startMs - truth[i].startMs), `start ${i}`).toBeLessThanOrEqual(START_TOL_MS);
    expect(Math.abs(got[i].endMs - truth[i].endMs), `end ${i}`).toBeLessThanOrEqual(END_TOL_MS);
  }
}

describe('WebRTC VAD (fvad WASM) on real prompts', () => {
  it.each([8_000, 16_000])('finds the speech regions of padded and joined prompts at %i Hz', async (rate) => {
    const vad = await createWebrtcVad({ sampleRate: rate, mode: 3 });
    for (const set of SETS) {
      const scene = await buildScene(set, { sampleRate: rate });
      expectRegionsNear(await findSpeechRegions(vad, scene.chunk), scene.truth);
    }
    await vad.close();
  });

  it.each([10, 20, 30])('takes %i ms analysis frames, fed with any frame length', async (frameMs) => {
    const vad = await createWebrtcVad({ frameMs });
    const scene = await buildScene(['agent-pass', 'conf-getpin']);
    // 20 ms process() calls against 10/30 ms analysis frames exercise the internal buffering.
    expectRegionsNear(await findSpeechRegions(vad, scene.chunk, { frameMs: 20 }), scene.truth);
    expectRegionsNear(await findSpeechRegions(vad, scene.chunk, { frameMs: 7 }), scene.truth);
  });

  it('gives probability 0 or 1, and every mode 0–3 works', async () => {
    const scene = await buildScene(['conf-onlyperson']);
    for (const mode of [0, 1, 2, 3]) {
      const vad = await createWebrtcVad({ mode });
      const stream = vad.createStream();
      const seen = new Set<number>();
      for (let i = 0; i < scene.chunk.samples.length; i += 320) seen.add((await stream.process({ samples: scene.chunk.samples.subarray(i, i + 320), sampleRate: 16_000 })).probability);
      stream.close();
      expect([...seen].sort()).toEqual([0, 1]);
    }
  });

  /**
   * Documented, not asserted as a requirement: WebRTC VAD is an energy and
   * spectrum model and calls steady noise speech. Measured at mode 3 on
   * agent-pass + conf-getpin with white noise: 16 kHz holds at 10 dB SNR but
   * turns into one region over the whole file at 5 dB (frame accuracy 0.58
   * against 0.98 clean); 8 kHz already fails at 10 dB. Silero keeps ≥ 0.97.
   * This test pins that knowledge so a change in it gets noticed.
   */
  it('is known to call almost everything speech in white noise at 5 dB SNR (use Silero in noise)', async () => {
    const vad = await createWebrtcVad({ mode: 3 });
    const scene = mixNoise(await buildScene(['agent-pass', 'conf-getpin']), 5, 'white', 7);
    const got = await findSpeechRegions(vad, scene.chunk);
    const accuracy = frameAccuracy(scene.truth, got, (scene.chunk.samples.length * 1000) / 16_000);
    expect(accuracy).toBeLessThan(0.8);
  });

  it('rejects wrong rates, modes and frame sizes with clear errors', async () => {
    await expect(createWebrtcVad({ mode: 4 })).rejects.toThrow(/mode must be 0, 1, 2 or 3, got 4/);
    await expect(createWebrtcVad({ sampleRate: 22_050 })).rejects.toThrow(/not 22050 Hz/);
    await expect(createWebrtcVad({ frameMs: 25 })).rejects.toThrow(/10, 20 or 30 ms, not 25/);
    const vad = await createWebrtcVad();
    const stream = vad.createStream();
    const err = await stream.process({ samples: new Int16Array(160), sampleRate: 8_000 }).catch((e: unknown) => e);
    expect((err as PalabreError).code).toBe('rate_mismatch');
    stream.close();
    await expect(stream.process({ samples: new Int16Array(320), sampleRate: 16_000 })).rejects.toThrow(/after close/);
  });

  it('reset() restarts stream time and decisions', async () => {
    const vad = await createWebrtcVad();
    const scene = await buildScene(['hello-world'], { leadMs: 500, tailMs: 800 });
    const stream = vad.createStream();
    const run = async () => {
      const events = [];
      for (let i = 0; i < scene.chunk.samples.length; i += 320) events.push(...(await stream.process({ samples: scene.chunk.samples.subarray(i, i + 320), sampleRate: 16_000 })).events);
      return events;
    };
    const first = await run();
    expect(first[0]).toMatchObject({ type: 'speech-start' });
    stream.reset();
    expect(await run()).toEqual(first);
    stream.close();
  });

  it('frees its WASM memory on close: 10,000 streams leave the heap where it was', async () => {
    const vad = await createWebrtcVad();
    const frame = { samples: new Int16Array(320), sampleRate: 16_000 };
    for (let i = 0; i < 100; i++) vad.createStream().close();
    const mark = vad.heapMark();
    for (let i = 0; i < 10_000; i++) {
      const s = vad.createStream();
      s.processSync(frame);
      s.close();
    }
    // A leak of the ~1.4 KB per stream would move the mark by about 14 MB.
    expect(Math.abs(vad.heapMark() - mark)).toBeLessThan(64 * 1024);
  });
});
