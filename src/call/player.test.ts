import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_MS, type Frame } from '../audio/frame.js';
import { loadResampler, type ResamplerFactory } from '../audio/resample.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import { createTts } from '../engines/tts/index.js';
import type { Tts } from '../engines/tts/types.js';
import { PalabreError } from '../errors.js';
import { createFastClock, sleep } from './clock.js';
import { charsHeard, sentenceSpans, wholeWordsWithin } from './heard.js';
import { createMemoryIO } from './memory-io.js';
import { Player, type UtteranceOutcome } from './player.js';
import { SpyTts } from './test-support.js';

let flite: Tts;
let resampler: ResamplerFactory;

beforeAll(async () => {
  [flite, resampler] = await Promise.all([createTts('flite'), loadResampler()]);
});

afterAll(async () => {
  await flite?.close();
});

const TEXT = 'Thank you for calling the support line. Please listen carefully, as our menu options have changed. You can ask about your bill or your internet connection.';
const SENTENCES = ['Thank you for calling the support line.', 'Please listen carefully, as our menu options have changed.', 'You can ask about your bill or your internet connection.'];

function setup(options: { maxAheadMs?: number; writeAheadMs?: number; cache?: PhraseCache } = {}) {
  const clock = createFastClock();
  const io = createMemoryIO({ clock });
  const tts = new SpyTts(flite);
  const cache = options.cache ?? new PhraseCache({ resampler });
  const speaking: Array<[boolean, number]> = [];
  const player = new Player({ io, tts, cache, clock, maxAheadMs: options.maxAheadMs, writeAheadMs: options.writeAheadMs, onSpeaking: (s, at) => speaking.push([s, at]) });
  return { clock, io, tts, cache, player, speaking };
}

/** How long flite speaks `text` once framed, in ms. */
async function framedMs(text: string): Promise<number> {
  let samples = 0;
  for await (const c of flite.synthesize(text)) samples += c.samples.length;
  return Math.ceil(samples / 320) * FRAME_MS;
}

describe('Player', () => {
  it('speaks a multi-sentence answer one sentence at a time, playing the first before the last is synthesised', async () => {
    const { io, tts, player, speaking } = setup();
    let startedAtFirstFrame = -1;
    const outcome = await player.say({ text: TEXT, language: 'en' }, { onFirstFrame: () => (startedAtFirstFrame = tts.started) });
    expect(outcome.status).toBe('played');
    expect(outcome.heard).toBe(TEXT);
    expect(tts.started).toBe(3);
    expect(startedAtFirstFrame).toBe(1);
    const expected = (await Promise.all(SENTENCES.map(framedMs))).reduce((a, b) => a + b, 0);
    expect(io.playedMs()).toBe(expected);
    expect(outcome.audioMs).toBe(expected);
    // One stretch of speech, reported as it started and ended (even if a slow synthesis left a gap between sentences).
    expect(speaking.map(([s]) => s)).toEqual([true, false]);
    expect(outcome.firstFrameAtMs).toBeGreaterThanOrEqual(outcome.firstChunkAtMs ?? Infinity);
  });

  it('stops at once when interrupted, aborting the synthesis, and reports what was heard', async () => {
    const { io, tts, player, clock } = setup({ maxAheadMs: 500 });
    const first = await framedMs(SENTENCES[0]);
    const pending = player.say({ text: TEXT, language: 'en' });
    while (io.sent.length === 0) await sleep(clock, 5);
    await sleep(clock, first + 600); // into the second sentence
    const [cut] = player.interrupt();
    const sentAtCut = io.sent.length;
    const started = tts.started;
    const outcome = await pending;
    expect(outcome).toEqual(cut);
    expect(cut.status).toBe('cut');
    expect(cut.playedMs).toBe(sentAtCut * FRAME_MS);
    // The pacer does not burst after a stall of the event loop (a loaded machine), so it may lag the clock a little.
    expect(Math.abs(cut.playedMs - (first + 600))).toBeLessThanOrEqual(200);
    // The first sentence whole, then a few words of the second (600 ms of its ~3.5 s).
    expect(cut.heard.startsWith(`${SENTENCES[0]} Please`)).toBe(true);
    expect(cut.heard.length).toBeLessThan(SENTENCES[0].length + 25);
    expect(TEXT.startsWith(cut.heard)).toBe(true);
    expect(cut.rest).toBe(`${SENTENCES[1]} ${SENTENCES[2]}`);
    await sleep(clock, 2000);
    expect(io.sent.length).toBe(sentAtCut);
    expect(tts.started).toBe(started);
    expect(tts.active).toBe(0);
    expect(player.speaking).toBe(false);
  });

  it('plays a text cached whole as it is, and maps the cut in it by characters', async () => {
    const cache = new PhraseCache({ resampler });
    await cache.preload(flite, [{ text: TEXT, language: 'en' }], { encoding: 'pcm16', sampleRate: 16_000 });
    const { io, tts, player, clock } = setup({ cache });
    const whole = await framedMs(TEXT);
    const pending = player.say({ text: TEXT, language: 'en' });
    while (io.sent.length === 0) await sleep(clock, 5);
    await sleep(clock, whole / 2);
    player.interrupt();
    const sentAtCut = io.sent.length;
    const outcome = await pending;
    expect(tts.started).toBe(0);
    // Seconds of it were rendered and held back, not written yet: dropped with the IO's queue, none of it sent later.
    expect(outcome.playedMs).toBe(sentAtCut * FRAME_MS);
    await sleep(clock, 3000);
    expect(io.sent.length).toBe(sentAtCut);
    expect(clock.pending).toBe(0);
    const share = outcome.heard.length / TEXT.length;
    expect(share).toBeGreaterThan(0.4);
    expect(share).toBeLessThan(0.55);
    // The rest starts at the sentence the cut fell in.
    expect(SENTENCES.some((s) => outcome.rest.startsWith(s))).toBe(true);
  });

  it('reports a failed synthesis and goes on with the next utterance', async () => {
    const { tts, player } = setup();
    tts.failWith = new PalabreError('engine_failed', 'flite crashed');
    const failed = await player.say({ text: 'Hello there.', language: 'en' });
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'engine_failed', message: 'flite crashed' });
    tts.failWith = undefined;
    const ok = await player.say({ text: 'Hello again.', language: 'en' });
    expect(ok.status).toBe('played');
  });

  it.each([
    { maxAheadMs: 1000, writeAheadMs: 300 },
    { maxAheadMs: 3000, writeAheadMs: undefined },
  ])('keeps synthesis at most $maxAheadMs ms ahead of playout and the IO topped up $writeAheadMs ms ahead, without a gap', async ({ maxAheadMs, writeAheadMs }) => {
    const { io, tts, player } = setup({ maxAheadMs, writeAheadMs });
    const writeAhead = writeAheadMs ?? 500;
    let written = 0;
    let worst = 0;
    let dry = 0;
    const write = io.write.bind(io);
    io.write = (frame: Frame) => {
      // Nothing queued in the IO and its last frame already over: the caller would hear a gap.
      const playingUntil = io.sent.at(-1)?.playEndMs ?? Infinity;
      if (written <= io.playedMs() && playingUntil <= io.nowMs()) dry++;
      write(frame);
      written += FRAME_MS;
      worst = Math.max(worst, written - io.playedMs());
    };
    // What had played when each sentence's synthesis began: the one before it was all framed by then.
    const playedAtStart: number[] = [];
    const synthesize = tts.synthesize.bind(tts);
    tts.synthesize = (text, options) => {
      playedAtStart.push(io.playedMs());
      return synthesize(text, options);
    };
    const outcome = await player.say({ text: TEXT, language: 'en' });
    expect(outcome.status).toBe('played');
    expect(worst).toBeLessThanOrEqual(writeAhead + FRAME_MS);
    expect(worst).toBeGreaterThanOrEqual(writeAhead);
    const lengths = await Promise.all(SENTENCES.map(framedMs));
    expect(playedAtStart).toHaveLength(3);
    expect(playedAtStart[1]).toBeGreaterThanOrEqual(lengths[0] - maxAheadMs - FRAME_MS);
    expect(playedAtStart[2]).toBeGreaterThanOrEqual(lengths[0] + lengths[1] - maxAheadMs - FRAME_MS);
    // Topped up as it played, before the IO ran dry: the caller hears the answer without a gap.
    expect(dry).toBe(0);
    expect(io.sent.length * FRAME_MS).toBe(outcome.audioMs);
  });

  it('reports an IO that refuses audio while being topped up as a failed utterance, and goes on', async () => {
    const { io, player } = setup();
    const write = io.write.bind(io);
    let writes = 0;
    io.write = (frame: Frame) => {
      // Frame 40 is past the first 500 ms, so it is written from the top-up timer, not from the synthesis loop.
      if (++writes === 40) throw new PalabreError('payload_too_large', 'outbound queue is full');
      write(frame);
    };
    const failed = await player.say({ text: SENTENCES[0], language: 'en' });
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'payload_too_large', message: 'outbound queue is full' });
    expect(io.sent).toHaveLength(39);
    const ok = await player.say({ text: 'Hello again.', language: 'en' });
    expect(ok.status).toBe('played');
    expect(io.sent.length * FRAME_MS).toBe(39 * FRAME_MS + ok.audioMs);
  });

  it('plays queued utterances back to back and cuts them all on interrupt', async () => {
    const { io, player, clock } = setup();
    const a = player.say({ text: 'First answer.', language: 'en' });
    const b = player.say({ text: 'Second answer, which will be cut.', language: 'en' });
    const c = player.say({ text: 'Third answer, never heard.', language: 'en' });
    const firstMs = await framedMs('First answer.');
    while (io.sent.length === 0) await sleep(clock, 5);
    await sleep(clock, firstMs + 300);
    const outcomes = player.interrupt();
    const results: UtteranceOutcome[] = await Promise.all([a, b, c]);
    expect(outcomes.map((o) => o.status)).toEqual(['played', 'cut', 'dropped']);
    expect(results.map((o) => o.status)).toEqual(['played', 'cut', 'dropped']);
    expect(results[2].heard).toBe('');
    expect(results[2].rest).toBe('Third answer, never heard.');
  });
});

describe('heard text', () => {
  it('splits sentences with their offsets', () => {
    const text = 'Hello. How are you? Fine: thanks';
    expect(sentenceSpans(text).map((s) => text.slice(s.start, s.end))).toEqual(['Hello.', 'How are you?', 'Fine:', 'thanks']);
  });

  it('keeps only whole words', () => {
    expect(wholeWordsWithin('please listen carefully', 10)).toBe('please');
    expect(wholeWordsWithin('please listen carefully', 13)).toBe('please listen');
    expect(wholeWordsWithin('please listen carefully', 0)).toBe('');
    expect(wholeWordsWithin('please listen carefully', 99)).toBe('please listen carefully');
  });

  it('maps played time to characters in proportion', () => {
    expect(charsHeard(100, 500, 2000)).toBe(25);
    expect(charsHeard(100, 3000, 2000)).toBe(100);
    expect(charsHeard(100, -5, 2000)).toBe(0);
  });
});
