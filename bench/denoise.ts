/**
 * RNNoise cost and effect: µs per 20 ms frame at 16 and 8 kHz including the
 * resampling to 48 kHz and back, against 48 kHz input (no resampling) and the
 * fail-safe wrapper; share of one core per call; dB removed from the pauses of
 * a noisy prompt mix and dB lost in its speech.
 */
import { silentLogger } from '../src/log.js';
import { withFailsafe } from '../src/engines/denoise/failsafe.js';
import { createRnnoise } from '../src/engines/denoise/rnnoise.js';
import type { Denoiser } from '../src/engines/denoise/types.js';
import { buildScene, gaps, mixNoise, regionDb } from '../test/fixtures/vad-audio.js';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const FRAME_US = 20_000;

/** µs per 20 ms frame over `passes` runs of `samples` through one fresh stream. */
function perFrame(d: Denoiser, samples: Int16Array, rate: number, passes: number): number {
  const step = rate / 50;
  const s = d.createStream(rate);
  let frames = 0;
  const started = performance.now();
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i + step <= samples.length; i += step) {
      s.process({ samples: samples.subarray(i, i + step), sampleRate: rate });
      frames++;
    }
  }
  const us = ((performance.now() - started) * 1000) / frames;
  s.close();
  return us;
}

function denoiseAligned(d: Denoiser, samples: Int16Array, rate: number): Int16Array {
  const step = rate / 50;
  const s = d.createStream(rate);
  const y = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i += step) y.set(s.process({ samples: samples.subarray(i, i + step), sampleRate: rate }).samples, i);
  s.close();
  const out = new Int16Array(samples.length);
  out.set(y.subarray(Math.round((d.delayMs * rate) / 1000)));
  return out;
}

export default async function bench(ctx: Ctx): Promise<void> {
  const { print, quick } = ctx;
  const rnnoise = await createRnnoise();
  const safe = withFailsafe(rnnoise, { logger: silentLogger });
  print(`rnnoise: delay ${rnnoise.delayMs} ms (resample quality ${rnnoise.quality}), 480-sample frames at 48 kHz`);

  const scenes = new Map<number, Int16Array>();
  for (const rate of [8_000, 16_000, 48_000]) {
    const clean = await buildScene(['agent-pass', 'conf-getpin'], { sampleRate: rate });
    scenes.set(rate, mixNoise(clean, 10, 'white', 3).chunk.samples);
  }
  const passes = quick ? 2 : 8;
  // Warm-up.
  for (const rate of [8_000, 16_000, 48_000]) perFrame(rnnoise, scenes.get(rate)!, rate, 1);

  // The engine alone: bare rnnoise_process_frame calls, no framing, conversion or resampling.
  const mod = rnnoise.mod;
  const state = mod._rnnoise_create(0);
  const hi = Float32Array.from(scenes.get(48_000)!);
  const bare = (): number => {
    const t0 = performance.now();
    let frames = 0;
    for (let i = 0; i + 480 <= hi.length; i += 480) {
      mod.HEAPF32.set(hi.subarray(i, i + 480), rnnoise.inPtr >> 2);
      mod._rnnoise_process_frame(state, rnnoise.outPtr, rnnoise.inPtr);
      frames++;
    }
    return ((performance.now() - t0) * 1000 * 2) / frames;
  };
  bare();
  // Rounds alternate the cases so that load from other processes spreads evenly over them.
  let raw20 = 0;
  let at48 = 0;
  let at16 = 0;
  let at8 = 0;
  let safe16 = 0;
  for (let r = 0; r < passes; r++) {
    raw20 += bare() / passes;
    at48 += perFrame(rnnoise, scenes.get(48_000)!, 48_000, 1) / passes;
    at16 += perFrame(rnnoise, scenes.get(16_000)!, 16_000, 1) / passes;
    at8 += perFrame(rnnoise, scenes.get(8_000)!, 8_000, 1) / passes;
    safe16 += perFrame(safe, scenes.get(16_000)!, 16_000, 1) / passes;
  }
  mod._rnnoise_destroy(state);
  print(`bare RNNoise WASM: ${raw20.toFixed(1)} µs per 20 ms (two 480-sample frames)`);
  print(`48 kHz input (no resampling): ${at48.toFixed(1)} µs per 20 ms frame (+${(at48 - raw20).toFixed(1)} µs of framing and conversion), ${((at48 / FRAME_US) * 100).toFixed(2)} % of a core per call`);
  print(`16 kHz input: ${at16.toFixed(1)} µs per 20 ms frame incl. resampling (+${(at16 - at48).toFixed(1)} µs against 48 kHz input), ${((at16 / FRAME_US) * 100).toFixed(2)} % of a core per call, ${(FRAME_US / at16).toFixed(0)}× real time`);
  print(`8 kHz input: ${at8.toFixed(1)} µs per 20 ms frame incl. resampling (+${(at8 - at48).toFixed(1)} µs), ${((at8 / FRAME_US) * 100).toFixed(2)} % of a core per call, ${(FRAME_US / at8).toFixed(0)}× real time`);
  print(`fail-safe wrapper at 16 kHz: ${safe16.toFixed(1)} µs per frame (${(safe16 - at16).toFixed(1)} µs over the bare engine, within this machine's noise)`);
  // Its own cost, without RNNoise's noise on top: around an engine that returns its input.
  const identity: Denoiser = { name: 'identity', delayMs: 31, createStream: () => ({ process: (f) => f, close: () => {} }) };
  const wrapped = withFailsafe(identity, { logger: silentLogger });
  const s16 = scenes.get(16_000)!;
  perFrame(wrapped, s16, 16_000, 2);
  const own = perFrame(wrapped, s16, 16_000, quick ? 10 : 50);
  print(`fail-safe wrapper's own cost (around an identity engine): ${own.toFixed(2)} µs per 20 ms frame`);

  const conds = quick ? ([['white', 10]] as const) : ([['white', 10], ['pink', 10], ['white', 5], ['pink', 5]] as const);
  for (const rate of [16_000, 8_000]) {
    for (const [kind, snr] of conds) {
      const clean = await buildScene(['agent-pass', 'conf-getpin'], { sampleRate: rate });
      const noisy = mixNoise(clean, snr, kind, 3);
      const out = { samples: denoiseAligned(rnnoise, noisy.chunk.samples, rate), sampleRate: rate };
      const totalMs = (noisy.chunk.samples.length * 1000) / rate;
      const pauses = gaps(clean.truth, totalMs, 100).filter((r) => r.startMs >= 300);
      const removed = regionDb(noisy.chunk, pauses) - regionDb(out, pauses);
      const speechLoss = regionDb(clean.chunk, clean.truth) - regionDb(out, clean.truth);
      print(`${rate / 1000} kHz, ${kind} noise at ${snr} dB SNR: pauses ${removed.toFixed(1)} dB quieter, speech ${speechLoss.toFixed(2)} dB below the clean prompt`);
    }
  }

  const N = quick ? 2_000 : 10_000;
  const t = performance.now();
  for (let i = 0; i < N; i++) rnnoise.createStream(16_000).close();
  print(`stream open + close at 16 kHz: ${(((performance.now() - t) * 1000) / N).toFixed(1)} µs (RNNoise state + two resamplers)`);
}
