/**
 * The whole inbound chain of a call, per 20 ms of telephone audio:
 * µ-law 8 kHz → PCM → resample to 16 kHz → (RNNoise) → Silero VAD.
 * Cost is CPU time of the whole process (all threads), divided by frames
 * processed, and shown as the share of one core one call takes.
 */
import { readFileSync } from 'node:fs';
import { decodeG711, encodeG711 } from '../src/audio/g711.js';
import { loadResampler } from '../src/audio/resample.js';
import { decodeWav } from '../src/audio/wav.js';
import { createDenoiser } from '../src/engines/denoise/index.js';
import { createVad } from '../src/engines/vad/index.js';

const PROMPT = '/usr/share/asterisk/sounds/en/queue-periodic-announce.wav';
const FRAME_8K = 160;

export default async function bench(ctx: { quick: boolean; print: (line: string) => void }): Promise<void> {
  const wav = decodeWav(readFileSync(PROMPT));
  if (wav.sampleRate !== 8000) throw new Error(`${PROMPT} is ${wav.sampleRate} Hz, expected 8000`);
  const ulaw = encodeG711('ulaw', wav.samples);
  const frames: Uint8Array[] = [];
  for (let i = 0; i + FRAME_8K <= ulaw.length; i += FRAME_8K) frames.push(ulaw.subarray(i, i + FRAME_8K));

  const factory = await loadResampler();
  const batched = await createVad('silero', { batch: true });
  const unbatched = await createVad('silero', { batch: false });
  const denoiser = await createDenoiser('rnnoise', { quality: 5 });
  if (!denoiser) throw new Error('rnnoise did not load');
  const seconds = ctx.quick ? 4 : 20;

  async function run(calls: number, withDenoise: boolean, batch: boolean): Promise<{ usPerFrame: number; wallUsPerFrame: number }> {
    const vad = batch ? batched : unbatched;
    const perCall = Array.from({ length: calls }, () => ({
      resampler: factory.create(8000, 16000),
      denoise: withDenoise ? denoiser!.createStream(16000) : undefined,
      vad: vad.createStream(),
    }));
    const steps = Math.round((seconds * 1000) / 20 / Math.max(1, calls / 8));
    const step = async (n: number) => {
      const bytes = frames[n % frames.length];
      await Promise.all(
        perCall.map((c) => {
          const pcm8 = decodeG711('ulaw', bytes);
          let frame = { samples: c.resampler.process(pcm8), sampleRate: 16000 };
          if (c.denoise) frame = c.denoise.process(frame);
          return c.vad.process(frame);
        }),
      );
    };
    for (let n = 0; n < 50; n++) await step(n); // warm-up
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    for (let n = 0; n < steps; n++) await step(n);
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - wall0;
    for (const c of perCall) {
      c.resampler.close();
      c.denoise?.close();
      c.vad.close();
    }
    const callFrames = steps * calls;
    return { usPerFrame: (cpu.user + cpu.system) / callFrames, wallUsPerFrame: (wall * 1000) / callFrames };
  }

  ctx.print('| chain | calls | CPU µs per call per 20 ms | share of one core per call | wall µs per call-frame |');
  ctx.print('|---|---:|---:|---:|---:|');
  const rows: Array<[string, number, boolean, boolean]> = [
    ['µ-law → 16 kHz → Silero (unbatched)', 1, false, false],
    ['µ-law → 16 kHz → Silero (batched)', 32, false, true],
    ['µ-law → 16 kHz → RNNoise → Silero (unbatched)', 1, true, false],
    ['µ-law → 16 kHz → RNNoise → Silero (batched)', 32, true, true],
  ];
  const results: number[] = [];
  for (const [label, calls, withDenoise, batch] of rows) {
    const r = await run(calls, withDenoise, batch);
    results.push(r.usPerFrame);
    ctx.print(`| ${label} | ${calls} | ${r.usPerFrame.toFixed(1)} | ${((r.usPerFrame / 20_000) * 100).toFixed(3)} % | ${r.wallUsPerFrame.toFixed(1)} |`);
  }
  ctx.print(`targets: with VAD < 0.5 % of a core per call (batched: ${((results[1] / 20_000) * 100).toFixed(2)} %), with denoise < 2 % (batched: ${((results[3] / 20_000) * 100).toFixed(2)} %)`);
  ctx.print(`batching saves ×${(results[0] / results[1]).toFixed(2)} on the VAD chain, ×${(results[2] / results[3]).toFixed(2)} on the denoise chain`);
  await batched.close();
  await unbatched.close();
}
