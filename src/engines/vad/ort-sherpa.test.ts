/**
 * onnxruntime-node and sherpa-onnx-node each bring their own ONNX Runtime
 * native library. They were seen to coexist in one Node process (COMPONENTS.md
 * "Checked together"); an upgrade of either could break that, so this test
 * runs an ORT Silero session, then sherpa's own Silero VAD on the same model
 * file, then the ORT session again, and checks both give real answers.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildScene } from '../../../test/fixtures/vad-audio.js';
import { createSileroVad, type SileroVad } from './silero.js';
import { sileroModelPath } from './silero-model.js';

interface SherpaSegment {
  start: number;
  samples: Float32Array;
}
interface SherpaVad {
  acceptWaveform(samples: Float32Array): void;
  flush(): void;
  isEmpty(): boolean;
  front(): SherpaSegment;
  pop(): void;
}
type SherpaModule = { Vad: new (config: Record<string, unknown>, bufferSeconds: number) => SherpaVad };

async function windowProbabilities(vad: SileroVad, samples: Int16Array): Promise<number[]> {
  const stream = vad.createStream();
  const out: number[] = [];
  for (let i = 0; i < samples.length; i += 320) out.push(...(await stream.process({ samples: samples.subarray(i, i + 320), sampleRate: 16_000 })).windowProbabilities);
  stream.close();
  return out;
}

describe('onnxruntime-node and sherpa-onnx-node in one process', () => {
  it('runs ORT Silero, then sherpa-onnx Silero VAD, then ORT again with unchanged results', async () => {
    const scene = await buildScene(['conf-onlyperson']);
    const vad = await createSileroVad();
    const before = await windowProbabilities(vad, scene.chunk.samples);
    expect(Math.max(...before)).toBeGreaterThan(0.9);

    const sherpa = createRequire(import.meta.url)('sherpa-onnx-node') as SherpaModule;
    const sv = new sherpa.Vad(
      { sileroVad: { model: sileroModelPath(), threshold: 0.5, minSpeechDuration: 0.25, minSilenceDuration: 0.3, windowSize: 512 }, sampleRate: 16_000, numThreads: 1, debug: false },
      30,
    );
    const f = Float32Array.from(scene.chunk.samples, (s) => s / 32768);
    for (let i = 0; i < f.length; i += 512) sv.acceptWaveform(f.subarray(i, Math.min(f.length, i + 512)));
    sv.flush();
    const segments: Array<{ startMs: number; endMs: number }> = [];
    while (!sv.isEmpty()) {
      const s = sv.front();
      segments.push({ startMs: s.start / 16, endMs: (s.start + s.samples.length) / 16 });
      sv.pop();
    }
    // sherpa's own Silero (v5 model, its bundled ORT) finds the one prompt too.
    expect(segments.length).toBe(1);
    expect(Math.abs(segments[0].startMs - scene.truth[0].startMs)).toBeLessThan(200);
    expect(Math.abs(segments[0].endMs - scene.truth[0].endMs)).toBeLessThan(400);

    const after = await windowProbabilities(vad, scene.chunk.samples);
    expect(after).toEqual(before);
    await vad.close();
  });
});
