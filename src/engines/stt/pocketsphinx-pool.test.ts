import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioChunk } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { createPocketSphinx, type PocketSphinxStt } from './pocketsphinx.js';
import { FLITE_SENTENCES, cleanupSpeech, fliteSpeech, withPauses } from './test-support.js';
import { wordErrorRate } from './wer.js';

let pair: PocketSphinxStt;
let single: PocketSphinxStt;
let long: AudioChunk;

beforeAll(async () => {
  [pair, single] = await Promise.all([createPocketSphinx({ poolSize: 2 }), createPocketSphinx({ poolSize: 1, maxQueue: 1, queueTimeoutMs: 300 })]);
  long = await withPauses([await fliteSpeech(FLITE_SENTENCES[0]), await fliteSpeech(FLITE_SENTENCES[4]), await fliteSpeech(FLITE_SENTENCES[1])], 300);
});

afterAll(async () => {
  await Promise.all([pair?.close(), single?.close()]);
  cleanupSpeech();
});

async function rejection(p: Promise<unknown>): Promise<PalabreError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return err as PalabreError;
  }
  throw new Error('expected a rejection');
}

/** Largest delay of a 10 ms timer while `work` runs: how long the event loop was blocked. */
async function maxTimerLag<T>(work: () => Promise<T>): Promise<{ lag: number; value: T }> {
  let lag = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lag = Math.max(lag, now - last - 10);
    last = now;
  }, 10);
  try {
    const value = await work();
    return { lag, value };
  } finally {
    clearInterval(timer);
  }
}

describe('the decoder pool', () => {
  it('serves 4 parallel requests with 2 decoders, all correct, without blocking the event loop', async () => {
    const sentences = [FLITE_SENTENCES[0], FLITE_SENTENCES[1], FLITE_SENTENCES[3], FLITE_SENTENCES[4]];
    const audios = await Promise.all(sentences.map((s) => fliteSpeech(s)));
    const started = performance.now();
    const { lag, value: results } = await maxTimerLag(() => Promise.all([...audios.map((a) => pair.transcribe(a)), pair.transcribe(long)]));
    const elapsed = performance.now() - started;
    for (let i = 0; i < sentences.length; i++) expect(wordErrorRate(sentences[i], results[i].text)).toBeLessThanOrEqual(0.12);
    expect(pair.stats()).toMatchObject({ size: 2, started: 2, busy: 0, waiting: 0 });
    // Decoding the 10 s clip alone takes about 2 s of CPU; in the main thread the timer would wait that long.
    console.log(`pool of 2: 5 requests in ${elapsed.toFixed(0)} ms, largest event-loop lag ${lag.toFixed(0)} ms`);
    expect(lag).toBeLessThan(250);
  });

  it('refuses a request beyond the queue bound at once', async () => {
    const first = single.transcribe(long);
    // The second waits (and times out after 300 ms, since the first takes about 2 s).
    const second = single.transcribe(long).catch((e: unknown) => e);
    const third = await rejection(single.transcribe(long));
    expect(third.code).toBe('engine_unavailable');
    expect(third.message).toMatch(/busy: all 1 decoders are in use and 1 requests are already waiting/);
    await first;
    expect(await second).toBeInstanceOf(PalabreError);
  });

  it('gives up waiting after queueTimeoutMs', async () => {
    const first = single.transcribe(long);
    const waited = await rejection(single.transcribe(long));
    expect(waited.code).toBe('engine_unavailable');
    expect(waited.message).toMatch(/no PocketSphinx decoder became free within 300 ms/);
    await first;
  });

  it('an abort while queued or while decoding rejects at once and leaves the pool usable', async () => {
    const busy = single.transcribe(long);
    const queued = new AbortController();
    const waiting = single.transcribe(long, { signal: queued.signal });
    queued.abort();
    expect((await rejection(waiting)).code).toBe('aborted');
    await busy;

    const running = new AbortController();
    const job = single.transcribe(long, { signal: running.signal });
    await new Promise((r) => setTimeout(r, 100));
    const at = performance.now();
    running.abort();
    const err = await rejection(job);
    expect(err.code).toBe('aborted');
    expect(performance.now() - at).toBeLessThan(50);
    // The decoder finishes its C search, then comes back to the pool.
    expect(single.stats().busy).toBe(1);
    while (single.stats().busy > 0) await new Promise((r) => setTimeout(r, 20));
    const after = await single.transcribe(await fliteSpeech('thank you'));
    expect(after.text).toBe('thank you');
    expect(single.stats()).toMatchObject({ started: 1, busy: 0, waiting: 0 });
  });

  it('an already aborted signal is refused before any work', async () => {
    const err = await rejection(single.transcribe(long, { signal: AbortSignal.abort() }));
    expect(err.code).toBe('aborted');
  });
});

describe('loading and limits', () => {
  it('names a missing acoustic model', async () => {
    const err = await rejection(createPocketSphinx({ hmm: '/nonexistent/en-us' }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(/acoustic model \/nonexistent\/en-us/);
  });

  it('names a library that does not load', async () => {
    const err = await rejection(createPocketSphinx({ library: 'libpocketsphinx-missing.so.9' }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(/cannot load the PocketSphinx library libpocketsphinx-missing\.so\.9/);
  });

  it('refuses audio longer than maxAudioSeconds', async () => {
    const err = await rejection(single.transcribe({ samples: new Int16Array(16_000 * 601), sampleRate: 16_000 }));
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toMatch(/601\.0 s long; pocketsphinx accepts at most 600 s/);
  });
});
