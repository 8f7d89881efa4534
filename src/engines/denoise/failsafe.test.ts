import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../audio/frame.js';
import { buildScene, mixNoise } from '../../../test/fixtures/vad-audio.js';
import { PalabreError } from '../../errors.js';
import { createDenoiser } from './index.js';
import { withFailsafe } from './failsafe.js';
import { createRnnoise } from './rnnoise.js';
import type { DenoiseStream, Denoiser } from './types.js';

const RATE = 16_000;
const STEP = 320;

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

type Fault = 'throw' | 'short' | 'nan' | 'rate' | 'none';

/**
 * A test double of our own Denoiser interface: halves the signal and delays it
 * by `delayMs` (so cleaned output and pass-through can be told apart sample by
 * sample), and misbehaves on the frames `fault` says.
 */
class FlakyDenoiser implements Denoiser {
  readonly name = 'flaky';
  readonly delayMs = 10;
  streamsCreated = 0;
  failCreate: unknown = undefined;
  constructor(private readonly fault: (streamIndex: number, frameIndex: number) => Fault) {}

  createStream(sampleRate: number): DenoiseStream {
    if (this.failCreate) throw this.failCreate;
    const index = this.streamsCreated++;
    const delay = (this.delayMs * sampleRate) / 1000;
    let line: number[] = Array<number>(delay).fill(0);
    let frames = 0;
    const fault = this.fault;
    return {
      process(frame: Frame): Frame {
        line.push(...Array.from(frame.samples, (s) => s >> 1));
        const samples = Int16Array.from(line.splice(0, frame.samples.length));
        switch (fault(index, frames++)) {
          case 'throw':
            // State left half-updated, as a real engine error might.
            line = line.slice(7);
            throw new Error('engine exploded');
          case 'short':
            return { samples: samples.subarray(1), sampleRate };
          case 'nan':
            return { samples: new Float32Array(samples.length).fill(Number.NaN) as unknown as Int16Array, sampleRate };
          case 'rate':
            return { samples, sampleRate: sampleRate * 2 };
          default:
            return { samples, sampleRate };
        }
      },
      close() {},
    };
  }
}

/** A ramp that never repeats within the test, so every output sample can be traced to its input. */
function ramp(frames: number): Int16Array {
  return Int16Array.from({ length: frames * STEP }, (_, i) => (i % 20_000) + 1);
}

function runFrames(stream: DenoiseStream, input: Int16Array): Int16Array {
  const out = new Int16Array(input.length);
  for (let i = 0; i < input.length; i += STEP) out.set(stream.process({ samples: input.subarray(i, i + STEP), sampleRate: RATE }).samples, i);
  return out;
}

/** For each frame: 'clean' if every sample is the delayed input halved, 'orig' if the delayed input itself. */
function classify(input: Int16Array, out: Int16Array, delay: number): string[] {
  const kinds: string[] = [];
  for (let f = 0; f * STEP < out.length; f++) {
    let clean = true;
    let orig = true;
    for (let i = f * STEP; i < (f + 1) * STEP; i++) {
      const src = i >= delay ? input[i - delay] : 0;
      if (out[i] !== src >> 1) clean = false;
      if (out[i] !== src) orig = false;
    }
    kinds.push(clean ? 'clean' : orig ? 'orig' : 'mixed');
  }
  return kinds;
}

describe('fail-safe denoiser', () => {
  it('passes the original audio through, on the engine timeline, for the frame that threw and the retry pause after it', () => {
    const inner = new FlakyDenoiser((stream, frame) => (stream === 0 && frame === 5 ? 'throw' : 'none'));
    const { logger, lines } = capturingLogger();
    const d = withFailsafe(inner, { logger, retryAfterFrames: 3 });
    expect(d.delayMs).toBe(10);
    const input = ramp(20);
    const out = runFrames(d.createStream(RATE), input);
    const kinds = classify(input, out, 160);
    // Frames 0–4 cleaned; 5 failed; 6–8 paused; 9 is a new inner stream whose first
    // 10 ms (its own zero prefill) is covered by the original: half orig, half clean.
    expect(kinds.slice(0, 5)).toEqual(Array(5).fill('clean'));
    expect(kinds.slice(5, 9)).toEqual(Array(4).fill('orig'));
    expect(kinds[9]).toBe('mixed');
    for (let i = 9 * STEP; i < 9 * STEP + 160; i++) expect(out[i]).toBe(input[i - 160]);
    for (let i = 9 * STEP + 160; i < 10 * STEP; i++) expect(out[i]).toBe(input[i - 160] >> 1);
    expect(kinds.slice(10)).toEqual(Array(10).fill('clean'));
    expect(inner.streamsCreated).toBe(2);
    expect(d.stats).toMatchObject({ processed: 20, errors: 1, fallbacks: 4 });
    expect(d.stats.totalProcessingMs).toBeGreaterThan(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, engine: 'flaky', msg: 'denoiser failed on a frame: passing the original audio through' });
    expect(JSON.stringify(lines[0].err)).toMatch(/engine exploded/);
  });

  it.each([
    ['short', /output has 319 samples for 320 in/],
    ['nan', /output contains NaN/],
    ['rate', /output is at 32000 Hz, input at 16000 Hz/],
  ] as const)('treats %s output as an engine error', (fault, message) => {
    const inner = new FlakyDenoiser((stream, frame) => (stream === 0 && frame === 2 ? fault : 'none'));
    const { logger, lines } = capturingLogger();
    const d = withFailsafe(inner, { logger, retryAfterFrames: 0 });
    const input = ramp(6);
    const out = runFrames(d.createStream(RATE), input);
    expect(classify(input, out, 160)).toEqual(['clean', 'clean', 'orig', 'mixed', 'clean', 'clean']);
    expect(d.stats).toMatchObject({ processed: 6, errors: 1, fallbacks: 1 });
    expect(JSON.stringify(lines[0].err)).toMatch(message);
  });

  it('keeps retrying a persistently broken engine, once per pause, and never loses audio', () => {
    const inner = new FlakyDenoiser(() => 'throw');
    const { logger, lines } = capturingLogger();
    const d = withFailsafe(inner, { logger, retryAfterFrames: 4 });
    const input = ramp(50);
    const out = runFrames(d.createStream(RATE), input);
    expect(new Set(classify(input, out, 160))).toEqual(new Set(['orig']));
    // Tried on frames 0, 5, 10, …, 45.
    expect(d.stats).toMatchObject({ processed: 50, errors: 10, fallbacks: 50 });
    expect(inner.streamsCreated).toBe(10);
    expect(lines).toHaveLength(10);
  });

  it('does not swallow caller bugs: a frame at the wrong rate throws rate_mismatch and counts no engine error', () => {
    const d = withFailsafe(new FlakyDenoiser(() => 'none'), { logger: capturingLogger().logger });
    const s = d.createStream(RATE);
    let err: unknown;
    try {
      s.process({ samples: new Int16Array(160), sampleRate: 8_000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe('rate_mismatch');
    expect(d.stats).toMatchObject({ processed: 0, errors: 0, fallbacks: 0 });
    s.close();
    expect(() => s.process({ samples: new Int16Array(STEP), sampleRate: RATE })).toThrow(/after close/);
  });

  it('rethrows a rate the engine refuses at createStream, but survives an engine that cannot open a stream', async () => {
    const rnnoise = withFailsafe(await createRnnoise(), { logger: capturingLogger().logger });
    expect(() => rnnoise.createStream(4_000)).toThrow(/not 4000 Hz/);

    const inner = new FlakyDenoiser(() => 'none');
    inner.failCreate = new PalabreError('engine_failed', 'out of WASM memory');
    const { logger, lines } = capturingLogger();
    const d = withFailsafe(inner, { logger, retryAfterFrames: 2 });
    const s = d.createStream(RATE);
    inner.failCreate = undefined;
    const input = ramp(6);
    const out = runFrames(s, input);
    // Passed through for the pause, then the engine opened and took over.
    expect(classify(input, out, 160)).toEqual(['orig', 'orig', 'mixed', 'clean', 'clean', 'clean']);
    expect(d.stats.errors).toBe(1);
    expect(lines[0].msg).toMatch(/could not open a stream/);
  });

  it('around real RNNoise, changes nothing while the engine works', async () => {
    const bare = await createRnnoise();
    const safe = await createDenoiser('rnnoise');
    expect(safe?.delayMs).toBe(bare.delayMs);
    const scene = mixNoise(await buildScene(['hello-world'], { leadMs: 300, tailMs: 300 }), 10, 'white', 2);
    const a = bare.createStream(RATE);
    const b = safe!.createStream(RATE);
    for (let i = 0; i < scene.chunk.samples.length; i += STEP) {
      const frame = { samples: scene.chunk.samples.subarray(i, i + STEP), sampleRate: RATE };
      expect(b.process(frame).samples).toEqual(a.process(frame).samples);
    }
    a.close();
    b.close();
    expect(await createDenoiser('none')).toBeNull();
  });
});
