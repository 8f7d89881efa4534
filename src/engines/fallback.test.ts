/**
 * Fallback chains with real local engines (PocketSphinx, flite) behind a primary that fails the way
 * a remote service does (an engine_failed error, before or during a stream).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioChunk, Frame } from '../audio/frame.js';
import { loadResampler, type ResamplerFactory } from '../audio/resample.js';
import { PalabreError } from '../errors.js';
import { Breakers, CircuitBreaker, FallbackStt, FallbackTts, type FallbackInfo } from './fallback.js';
import { createStt } from './stt/index.js';
import { cleanupSpeech, fliteSpeech } from './stt/test-support.js';
import type { Stt, SttOptions, SttResult, SttStream } from './stt/types.js';
import { createTts } from './tts/index.js';
import { collect } from './tts/test-support.js';
import type { Tts, TtsOptions } from './tts/types.js';

let sphinx: Stt;
let flite: Tts;
let resampler: ResamplerFactory;
let hello: AudioChunk;

beforeAll(async () => {
  [sphinx, flite, resampler] = await Promise.all([createStt('pocketsphinx', { pocketsphinx: { poolSize: 1 } }), createTts('flite'), loadResampler()]);
  hello = await fliteSpeech('the weather is nice today');
});

afterAll(async () => {
  await Promise.allSettled([sphinx?.close(), flite?.close()]);
  cleanupSpeech();
});

const outage = () => new PalabreError('engine_failed', 'cloud answered 503 Service Unavailable');

/** A remote recogniser that is down: every request fails, as an HTTP 503 would make it. */
function downStt(name = 'cloud', calls = { n: 0 }): Stt & { calls: { n: number } } {
  return {
    name,
    sampleRate: 16_000,
    languages: ['en'],
    streaming: true,
    calls,
    async transcribe() {
      calls.n++;
      throw outage();
    },
    stream(): SttStream {
      calls.n++;
      let pushed = 0;
      return {
        push: (f: Frame) => void (pushed += f.samples.length),
        async *events() {
          yield { type: 'partial' as const, text: 'the' };
        },
        // The connection drops at the end of the turn, after the audio went out.
        finish: async (): Promise<SttResult> => {
          throw new PalabreError('engine_failed', `cloud stream closed after ${pushed} samples`);
        },
        close: () => undefined,
      };
    },
    close: async () => undefined,
  };
}

function frames(chunk: AudioChunk): Frame[] {
  const out: Frame[] = [];
  for (let i = 0; i + 320 <= chunk.samples.length; i += 320) out.push({ samples: chunk.samples.slice(i, i + 320), sampleRate: chunk.sampleRate });
  return out;
}

describe('CircuitBreaker', () => {
  it('opens after failures in a row, lets one try through after the cool-down, and closes on success', () => {
    let now = 0;
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 1000, now: () => now });
    b.failed();
    expect(b.state).toBe('closed');
    b.failed();
    expect([b.state, b.allows()]).toEqual(['open', false]);
    now = 1000;
    expect([b.state, b.allows()]).toEqual(['half-open', true]);
    b.failed();
    expect(b.allows()).toBe(false);
    now = 2500;
    b.succeeded();
    expect(b.state).toBe('closed');
  });
});

describe('FallbackStt', () => {
  it('transcribes with the local recogniser when the remote one fails, and says so', async () => {
    const seen: FallbackInfo[] = [];
    const stt = new FallbackStt([downStt(), sphinx], new Breakers({ failures: 3, cooldownMs: 60_000 }), { onFallback: (i) => seen.push(i) });
    const result = await stt.transcribe(hello, { language: 'en' });
    expect(result.text).toMatch(/weather/);
    expect(seen).toEqual([{ kind: 'stt', from: 'cloud', to: 'pocketsphinx', reason: 'cloud answered 503 Service Unavailable' }]);
  });

  it('skips a remote engine whose breaker is open, so later calls do not wait for it', async () => {
    const calls = { n: 0 };
    const breakers = new Breakers({ failures: 2, cooldownMs: 60_000 });
    for (let i = 0; i < 3; i++) await new FallbackStt([downStt('cloud', calls), sphinx], breakers).transcribe(hello);
    // Two failures opened the breaker: the third call went straight to the local engine.
    expect(calls.n).toBe(2);
    expect(breakers.states()).toEqual({ cloud: 'open', pocketsphinx: 'closed' });
  });

  it('re-transcribes the kept audio of a stream that failed at the end of the turn', async () => {
    const seen: FallbackInfo[] = [];
    const stt = new FallbackStt([downStt(), sphinx], new Breakers({ failures: 3, cooldownMs: 60_000 }), { onFallback: (i) => seen.push(i) });
    expect(stt.streaming).toBe(true);
    const stream = stt.stream({ language: 'en' });
    const partials: string[] = [];
    const reading = (async () => {
      for await (const e of stream.events()) if (e.type === 'partial') partials.push(e.text);
    })();
    for (const f of frames(hello)) stream.push(f);
    const result = await stream.finish();
    stream.close();
    await reading;
    expect(result.text).toMatch(/weather/);
    expect(partials).toEqual(['the']);
    expect(seen.map((s) => `${s.from}>${s.to}`)).toEqual(['cloud>pocketsphinx']);
  });

  it('tries a rate-limited engine once more before falling back, unless it asks to wait longer than a second', async () => {
    let calls = 0;
    const flaky = (retryAfterMs: number): Stt => ({
      ...downStt('cloud'),
      transcribe: async (audio: AudioChunk, o?: SttOptions) => {
        if (++calls === 1) throw new PalabreError('engine_failed', 'cloud answered 429 Too Many Requests', { details: { retryable: true, retryAfterMs } });
        return sphinx.transcribe(audio, o);
      },
    });
    const seen: FallbackInfo[] = [];
    const stt = new FallbackStt([flaky(100), sphinx], new Breakers({ failures: 3, cooldownMs: 60_000 }), { onFallback: (i) => seen.push(i) });
    expect((await stt.transcribe(hello)).text).toMatch(/weather/);
    expect([calls, seen.length]).toEqual([2, 0]);
    calls = 0;
    const patient = new FallbackStt([flaky(30_000), sphinx], new Breakers({ failures: 3, cooldownMs: 60_000 }), { onFallback: (i) => seen.push(i) });
    expect((await patient.transcribe(hello)).text).toMatch(/weather/);
    expect([calls, seen.map((s) => s.to)]).toEqual([1, ['pocketsphinx']]);
  });

  it('never falls back on a cancelled request, and names every engine when all fail', async () => {
    const controller = new AbortController();
    controller.abort();
    const slowDown: Stt = { ...downStt(), transcribe: async (_a: AudioChunk, o?: SttOptions) => Promise.reject(o?.signal?.aborted ? new PalabreError('aborted', 'cancelled') : outage()) };
    const seen: FallbackInfo[] = [];
    await expect(new FallbackStt([slowDown, sphinx], new Breakers({ failures: 3, cooldownMs: 1 }), { onFallback: (i) => seen.push(i) }).transcribe(hello, { signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
    expect(seen).toEqual([]);
    await expect(new FallbackStt([downStt('a'), downStt('b')], new Breakers({ failures: 3, cooldownMs: 1 })).transcribe(hello)).rejects.toThrow(/every speech-to-text engine failed: a: cloud answered 503.*; b: cloud answered 503/);
    expect(() => new FallbackStt([], new Breakers({ failures: 1, cooldownMs: 1 }))).toThrow(/at least one engine/);
  });
});

describe('FallbackTts', () => {
  /** A remote voice at 16 kHz that fails before any audio, or after its first chunk. */
  function cloudTts(mode: 'down' | 'drops'): Tts {
    return {
      name: 'cloudvoice',
      sampleRate: 16_000,
      languages: ['en', 'fr'],
      voices: () => [{ id: 'rachel', language: 'en' }],
      async *synthesize(_text: string, _o?: TtsOptions) {
        if (mode === 'drops') yield { samples: new Int16Array(1600).fill(1000), sampleRate: 16_000 };
        throw outage();
      },
      close: async () => undefined,
    };
  }

  it('speaks with the local voice at the chain rate when the remote voice is down', async () => {
    const seen: FallbackInfo[] = [];
    const tts = new FallbackTts([cloudTts('down'), flite], new Breakers({ failures: 3, cooldownMs: 60_000 }), resampler, { onFallback: (i) => seen.push(i) });
    expect(tts.name).toBe('cloudvoice>flite');
    const audio = await collect(tts.synthesize('the weather is nice today', { language: 'en', voice: 'rachel' }));
    expect(audio.sampleRate).toBe(16_000);
    expect(audio.samples.length / 16_000).toBeGreaterThan(0.8);
    expect((await sphinx.transcribe(audio)).text).toMatch(/weather|nice|today/);
    expect(seen).toEqual([{ kind: 'tts', from: 'cloudvoice', to: 'flite', reason: 'cloud answered 503 Service Unavailable' }]);
  });

  it('keeps the error of an engine that failed after it was heard, and names all engines when all fail', async () => {
    const tts = new FallbackTts([cloudTts('drops'), flite], new Breakers({ failures: 3, cooldownMs: 60_000 }), resampler);
    await expect(collect(tts.synthesize('hello there', { language: 'en' }))).rejects.toThrow(/503/);
    const none = new FallbackTts([cloudTts('down')], new Breakers({ failures: 3, cooldownMs: 60_000 }), resampler);
    await expect(collect(none.synthesize('hello', { language: 'en' }))).rejects.toThrow(/every text-to-speech engine failed: cloudvoice: cloud answered 503/);
  });
});
