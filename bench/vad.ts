/**
 * VAD cost and quality: µs per 20 ms frame for Silero (alone, and batched
 * across 8 and 32 interleaved streams against the same streams unbatched) and
 * WebRTC; memory per Silero stream; frame accuracy against the known padding
 * of real prompts, clean and in white noise.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { findSpeechRegions } from '../src/engines/vad/index.js';
import { createSileroVad, type SileroFrameResult, type SileroVad } from '../src/engines/vad/silero.js';
import { createWebrtcVad } from '../src/engines/vad/webrtc.js';
import { buildScene, frameAccuracy, mixNoise, type Scene } from '../test/fixtures/vad-audio.js';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const RATE = 16_000;
const STEP = 320;
const FRAME_US = 20_000;

function forceGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** µs per stream-frame when `streams` streams each get every frame of `samples`, all submitted before any is awaited. */
async function sileroPerFrame(vad: SileroVad, samples: Int16Array, streams: number, passes: number): Promise<{ us: number; batch: number }> {
  const before = vad.stats;
  let frames = 0;
  const started = performance.now();
  for (let p = 0; p < passes; p++) {
    const ss = Array.from({ length: streams }, () => vad.createStream());
    for (let i = 0; i + STEP <= samples.length; i += STEP) {
      const frame = { samples: samples.subarray(i, i + STEP), sampleRate: RATE };
      if (streams === 1) await ss[0].process(frame);
      else await Promise.all(ss.map((s): Promise<SileroFrameResult> => s.process(frame)));
      frames += streams;
    }
    ss.forEach((s) => s.close());
  }
  const us = ((performance.now() - started) * 1000) / frames;
  const after = vad.stats;
  return { us, batch: (after.windows - before.windows) / (after.runs - before.runs) };
}

function pct(share: number): string {
  return `${(share * 100).toFixed(2)} %`;
}

export default async function bench(ctx: Ctx): Promise<void> {
  const { print, quick } = ctx;
  const scene = await buildScene(['agent-pass', 'conf-getpin']);
  const samples = scene.chunk.samples;
  const audioMs = (samples.length * 1000) / RATE;
  print(`audio: agent-pass + conf-getpin padded, ${(audioMs / 1000).toFixed(1)} s at 16 kHz, fed in 20 ms frames`);

  const batched = await createSileroVad({ batch: true });
  const unbatched = await createSileroVad({ batch: false });
  // Warm-up: JIT, ORT's first runs and allocator.
  await sileroPerFrame(batched, samples, 8, 1);
  await sileroPerFrame(unbatched, samples, 1, 1);

  const passes = quick ? 1 : 4;
  const alone = await sileroPerFrame(unbatched, samples, 1, passes);
  print(`silero, 1 stream: ${alone.us.toFixed(1)} µs per 20 ms frame (${(alone.us * 1.6).toFixed(0)} µs per 32 ms window), ${pct(alone.us / FRAME_US)} of a core per call, ${(FRAME_US / alone.us).toFixed(0)}× real time`);
  for (const B of [8, 32]) {
    const p = quick ? 1 : B === 8 ? 3 : 1;
    const seq = await sileroPerFrame(unbatched, samples, B, p);
    const bat = await sileroPerFrame(batched, samples, B, p);
    print(
      `silero, ${B} interleaved streams: batched ${bat.us.toFixed(1)} µs per stream-frame (mean batch ${bat.batch.toFixed(1)}) vs unbatched ${seq.us.toFixed(1)} µs: ` +
        `${(seq.us / bat.us).toFixed(2)}× cheaper; ${pct(bat.us / FRAME_US)} of a core per call, one core serves ~${Math.floor(FRAME_US / bat.us)} calls`,
    );
  }

  // Memory: 1000 streams that have each seen a frame (buffers allocated), heap + external delta after GC.
  const gc = forceGc();
  const N = 1000;
  gc();
  const m0 = process.memoryUsage();
  const held = Array.from({ length: N }, () => batched.createStream());
  await Promise.all(held.map((s) => s.process({ samples: samples.subarray(16_000, 16_000 + 600), sampleRate: RATE })));
  gc();
  const m1 = process.memoryUsage();
  const perStream = (m1.heapUsed + m1.external + m1.arrayBuffers - (m0.heapUsed + m0.external + m0.arrayBuffers)) / N;
  print(`silero memory: ${(perStream / 1024).toFixed(2)} KB per stream (heap + external + array buffers over ${N} streams; target < 64 KB; the shared session is about 10 MB once)`);
  held.forEach((s) => s.close());

  const webrtc = await createWebrtcVad({ mode: 3 });
  const ws = webrtc.createStream();
  for (let i = 0; i + STEP <= samples.length; i += STEP) ws.processSync({ samples: samples.subarray(i, i + STEP), sampleRate: RATE });
  const wPasses = quick ? 20 : 100;
  let wFrames = 0;
  let t = performance.now();
  for (let p = 0; p < wPasses; p++) {
    for (let i = 0; i + STEP <= samples.length; i += STEP) {
      ws.processSync({ samples: samples.subarray(i, i + STEP), sampleRate: RATE });
      wFrames++;
    }
  }
  const wUs = ((performance.now() - t) * 1000) / wFrames;
  wFrames = 0;
  t = performance.now();
  for (let i = 0; i + STEP <= samples.length; i += STEP) {
    await ws.process({ samples: samples.subarray(i, i + STEP), sampleRate: RATE });
    wFrames++;
  }
  const wAsyncUs = ((performance.now() - t) * 1000) / wFrames;
  ws.close();
  print(`webrtc (mode 3): ${wUs.toFixed(2)} µs per 20 ms frame sync, ${wAsyncUs.toFixed(2)} µs through the async process(); ${(alone.us / wUs).toFixed(0)}× cheaper than Silero alone`);

  // Quality against the known padding (truth: each prompt's own extent after 1 s of silence).
  const sets = quick ? [['agent-pass', 'conf-getpin']] : [['agent-pass', 'conf-getpin'], ['queue-thankyou', 'vm-goodbye'], ['conf-onlyperson'], ['hello-world']];
  for (const cond of ['clean', 'white 10 dB', 'white 5 dB'] as const) {
    const acc = { silero: 0, webrtc: 0 };
    for (const set of sets) {
      let s: Scene = await buildScene(set);
      if (cond !== 'clean') s = mixNoise(s, cond === 'white 10 dB' ? 10 : 5, 'white', 7);
      const ms = (s.chunk.samples.length * 1000) / RATE;
      acc.silero += frameAccuracy(s.truth, await findSpeechRegions(batched, s.chunk), ms) / sets.length;
      acc.webrtc += frameAccuracy(s.truth, await findSpeechRegions(webrtc, s.chunk), ms) / sets.length;
    }
    print(`frame accuracy, ${cond} (${sets.length} scene${sets.length > 1 ? 's' : ''}): silero ${pct(acc.silero)}, webrtc ${pct(acc.webrtc)}`);
  }
  await batched.close();
  await unbatched.close();
  await webrtc.close();
}
