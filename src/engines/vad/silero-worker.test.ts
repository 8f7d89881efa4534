/**
 * Silero inference on its worker thread: the same bits as on the main thread,
 * a dead thread fails the streams (and calls) that used it and a new one serves
 * the rest, and closing the VAD ends the thread.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { buildScene, mixNoise, type Scene } from '../../../test/fixtures/vad-audio.js';
import { hangup, listen, loadTestEngines, say, ScriptedDialog, sessionEngines, speech, startCall } from '../../call/test-support.js';
import { PalabreError } from '../../errors.js';
import { createSileroVad, type SileroFrameResult, type SileroVad } from './silero.js';
import { sileroModelPath } from './silero-model.js';
import { SileroThread } from './silero-thread.js';

const SETS = [['hello-world'], ['conf-onlyperson'], ['agent-pass', 'conf-getpin'], ['queue-thankyou', 'vm-goodbye']];

/** Every window's probability, feeding 20 ms frames one at a time. */
async function probabilitiesAlone(vad: SileroVad, samples: Int16Array): Promise<number[]> {
  const step = vad.sampleRate / 50;
  const stream = vad.createStream();
  const out: number[] = [];
  for (let i = 0; i < samples.length; i += step) out.push(...(await stream.process({ samples: samples.subarray(i, i + step), sampleRate: vad.sampleRate })).windowProbabilities);
  stream.close();
  return out;
}

/** Every stream's frame submitted before any is awaited, as live calls in one tick. */
async function probabilitiesInterleaved(vad: SileroVad, scenes: Scene[]): Promise<number[][]> {
  const step = vad.sampleRate / 50;
  const streams = scenes.map(() => vad.createStream());
  const got: number[][] = scenes.map(() => []);
  const longest = Math.max(...scenes.map((s) => s.chunk.samples.length));
  for (let i = 0; i < longest; i += step) {
    const results = await Promise.all(
      streams.map((st, k) => (i < scenes[k].chunk.samples.length ? st.process({ samples: scenes[k].chunk.samples.subarray(i, i + step), sampleRate: vad.sampleRate }) : undefined)),
    );
    results.forEach((r, k) => r && got[k].push(...r.windowProbabilities));
  }
  streams.forEach((s) => s.close());
  return got;
}

function expectIdentical(got: number[][], want: number[][], label: string): void {
  for (let k = 0; k < want.length; k++) {
    expect(got[k].length, `${label}, stream ${k}: window count`).toBe(want[k].length);
    const firstDiff = got[k].findIndex((p, w) => !Object.is(p, want[k][w]));
    expect(firstDiff, `${label}, stream ${k} differs at window ${firstDiff}`).toBe(-1);
  }
}

async function scenesAt(sampleRate: number): Promise<Scene[]> {
  const scenes: Scene[] = [];
  for (let i = 0; i < 8; i++) {
    const s = await buildScene(SETS[i % SETS.length], { sampleRate, leadMs: 200 + 70 * i, gapMs: 300, tailMs: 300 });
    scenes.push(i % 2 ? mixNoise(s, 4 + i, i % 4 === 1 ? 'white' : 'pink', i) : s);
  }
  return scenes;
}

describe('Silero VAD on a worker thread', () => {
  it.each([16_000, 8_000])('gives the same probabilities, bit for bit, as the in-thread session on real speech at %i Hz, batched or alone', async (sampleRate) => {
    const scenes = await scenesAt(sampleRate);
    const local = await createSileroVad({ sampleRate, worker: false, batch: false });
    const threaded = await createSileroVad({ sampleRate, worker: true });
    const threadedAlone = await createSileroVad({ sampleRate, worker: true, batch: false });
    try {
      expect(local.thread).toBeUndefined();
      expect(threaded.thread).toBeInstanceOf(SileroThread);
      const want: number[][] = [];
      for (const s of scenes) want.push(await probabilitiesAlone(local, s.chunk.samples));
      const before = threaded.stats;
      expectIdentical(await probabilitiesInterleaved(threaded, scenes), want, 'worker, batched');
      const after = threaded.stats;
      expect((after.windows - before.windows) / (after.runs - before.runs), 'mean windows per ORT run').toBeGreaterThan(4);
      const alone: number[][] = [];
      for (const s of scenes) alone.push(await probabilitiesAlone(threadedAlone, s.chunk.samples));
      expectIdentical(alone, want, 'worker, one stream at a time');
      // Real content: confident speech and confident silence both occur.
      expect(want.flat().some((p) => p > 0.9)).toBe(true);
      expect(want.flat().some((p) => p < 0.1)).toBe(true);
    } finally {
      await Promise.all([local.close(), threaded.close(), threadedAlone.close()]);
    }
  });

  it('fails the streams that used a thread which died with an error naming it, and serves new streams on a new thread', async () => {
    const scene = await buildScene(['hello-world'], { leadMs: 300, tailMs: 300 });
    const samples = scene.chunk.samples;
    const local = await createSileroVad({ worker: false });
    const vad = await createSileroVad();
    try {
      const want = await probabilitiesAlone(local, samples);
      const thread = vad.thread!;
      const dying = thread.worker!;
      const busy = vad.createStream();
      const idle = vad.createStream();
      await idle.process({ samples: samples.subarray(0, 640), sampleRate: 16_000 });
      // Frames in flight when the thread goes: each one settles, none hangs.
      const inFlight: Array<Promise<SileroFrameResult>> = [];
      for (let i = 0; i < samples.length; i += 320) inFlight.push(busy.process({ samples: samples.subarray(i, i + 320), sampleRate: 16_000 }));
      const exited = once(dying, 'exit');
      await dying.terminate();
      await exited;
      const settled = await Promise.allSettled(inFlight);
      const failures = settled.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as unknown);
      expect(failures.length).toBeGreaterThan(0);
      for (const err of failures) {
        expect(err).toBeInstanceOf(PalabreError);
        expect((err as PalabreError).code).toBe('engine_failed');
        expect((err as PalabreError).message).toMatch(/Silero VAD worker thread exited/);
      }
      // Both streams were on the dead thread, busy or not: their recurrent state is not to be trusted to a new one.
      for (const s of [busy, idle]) {
        await expect(s.process({ samples: samples.subarray(0, 512), sampleRate: 16_000 })).rejects.toThrow(/Silero VAD worker thread exited/);
      }
      // A stream started now runs on the replacement, with the same results as ever.
      expect(await probabilitiesAlone(vad, samples)).toEqual(want);
      expect(thread.starts).toBe(2);
      expect(thread.worker).not.toBe(dying);
      // reset() forgets the past, the dead thread included.
      idle.reset();
      const again: number[] = [];
      for (let i = 0; i < samples.length; i += 320) again.push(...(await idle.process({ samples: samples.subarray(i, i + 320), sampleRate: 16_000 })).windowProbabilities);
      expect(again).toEqual(want);
      busy.close();
      idle.close();
    } finally {
      await Promise.all([local.close(), vad.close()]);
    }
  });

  it('ends a call whose VAD thread dies with reason error, while a call started after completes', async () => {
    const engines = await loadTestEngines();
    try {
      const vad = engines.vad as SileroVad;
      const first = startCall(sessionEngines(engines), new ScriptedDialog([say('Hello.'), listen()], () => []));
      await first.io.waitForBot('silent');
      const dying = vad.thread!.worker!;
      const exited = once(dying, 'exit');
      await dying.terminate();
      await exited;
      const summary = await first.summary;
      expect(summary.endReason).toBe('error');
      expect(summary.endDetail).toMatch(/^vad: .*Silero VAD worker thread exited/);
      expect(summary.errors).toEqual([expect.objectContaining({ stage: 'vad', code: 'engine_failed' })]);

      const second = startCall(sessionEngines(engines), new ScriptedDialog([say('Are you the owner?'), listen({ endpointing: { mode: 'silence', silenceMs: 500 } })], () => [say('Thanks, goodbye.'), hangup]));
      void second.io.waitForBot('silent');
      void second.io.say(await speech('yes i am'));
      const done = await second.summary;
      expect(done.endReason).toBe('bot_hangup');
      expect(done.transcript.some((l) => l.text === 'Thanks, goodbye.')).toBe(true);
    } finally {
      await engines.close();
    }
  });

  it('ends its thread when the last VAD using it closes', async () => {
    const a = await createSileroVad();
    const b = await createSileroVad();
    const worker = a.thread!.worker!;
    expect(b.thread).toBe(a.thread);
    let exited = false;
    worker.once('exit', () => (exited = true));
    await a.close();
    const s = b.createStream();
    await s.process({ samples: new Int16Array(512), sampleRate: 16_000 });
    s.close();
    expect(exited).toBe(false);
    await b.close();
    expect(exited).toBe(true);
    expect(() => b.createStream()).toThrow(/after close/);
  });

  it('fails to start with engine_unavailable naming a model file it cannot open', async () => {
    const bad = `${sileroModelPath()}.missing`;
    const err = await SileroThread.start(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe('engine_unavailable');
    expect((err as PalabreError).message).toContain(bad);
  });

  it.runIf(process.platform === 'linux')('runs the thread at the niceness asked for, so the event loop wins contended cores', async () => {
    const t = await SileroThread.start(sileroModelPath(), { nice: 7 });
    try {
      expect(t.nice).toBe(7);
      // The kernel's view: one thread of this process now has niceness 7 (field 19 of its stat line).
      const { readdirSync, readFileSync } = await import('node:fs');
      const niceness = readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]));
      expect(niceness).toContain(7);
      expect(niceness).toContain(0);
    } finally {
      await t.close();
    }
  });
});
