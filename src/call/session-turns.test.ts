/**
 * Turn-taking in a whole call, with real engines on real speech: Silero VAD,
 * PocketSphinx, flite through the phrase cache, a flite caller laid out on a
 * timeline, and the fast clock (idle time skipped, engine time real).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupSpeech } from '../engines/stt/test-support.js';
import { hangup, listen, loadTestEngines, say, ScriptedDialog, sessionEngines, soundBounds, speech, SpyStt, startCall, type TestEngines } from './test-support.js';

let engines: TestEngines;

beforeAll(async () => {
  engines = await loadTestEngines();
});

afterAll(async () => {
  await engines?.close();
  cleanupSpeech();
});

const ANSWER = 'yes i am the owner of the house';

describe('endpointing by silence', () => {
  /** Runs one question-answer call; returns how long after the voice stopped the turn ended, by the VAD and by the audio itself. */
  async function answerWith(silenceMs: number): Promise<{ afterVad: number; afterSound: number }> {
    const answer = await speech(ANSWER);
    const dialog = new ScriptedDialog([say('Are you the owner?'), listen({ endpointing: { mode: 'silence', silenceMs }, minSpeechMs: 200 })], () => [say('Thank you.'), hangup]);
    const call = startCall(sessionEngines(engines), dialog);
    void call.io.waitForBot('silent', { quietMs: 300 });
    void call.io.say(answer, { label: 'answer' });
    const summary = await call.summary;

    expect(dialog.utterances()).toEqual([expect.stringContaining('owner')]);
    // PocketSphinx streams: its partial hypotheses come while the caller speaks.
    expect(call.of('partial').length).toBeGreaterThan(0);
    expect(summary.endReason).toBe('bot_hangup');
    expect(summary.transcript.map((l) => l.role)).toEqual(['bot', 'caller', 'bot']);
    const said = call.io.callerLog.find((e) => e.kind === 'audio');
    if (!said || said.kind !== 'audio') throw new Error('the caller never spoke');
    const turn = summary.turns.find((t) => t.kind === 'speech');
    if (!turn?.speechEndMs) throw new Error('no speech turn');
    expect(turn.endReason).toBe('silence');
    // Where the voice really stops inside the clip, on the session's timeline.
    const soundEnd = said.startMs + soundBounds(answer).endMs - call.offset();
    // Timeline times are rounded to 0.1 ms.
    return { afterVad: Math.round(turn.endOfTurnMs - turn.speechEndMs), afterSound: turn.endOfTurnMs - soundEnd };
  }

  it('ends the turn 500 ms after the speech stops for a yes/no question, 1200 ms for an open one', async () => {
    const short = await answerWith(500);
    const long = await answerWith(1200);
    // From the last frame the VAD heard as speech: the configured silence, to a frame.
    expect(short.afterVad).toBeGreaterThanOrEqual(500);
    expect(short.afterVad).toBeLessThanOrEqual(500 + 60);
    expect(long.afterVad).toBeGreaterThanOrEqual(1200);
    expect(long.afterVad).toBeLessThanOrEqual(1200 + 60);
    // From where the voice stops in the audio: plus the VAD's tail (its probability decays over a few 32 ms windows).
    expect(short.afterSound).toBeGreaterThanOrEqual(500 - 20);
    expect(short.afterSound).toBeLessThanOrEqual(500 + 200);
    expect(long.afterSound - short.afterSound).toBeGreaterThan(700 - 100);
    expect(long.afterSound - short.afterSound).toBeLessThan(700 + 100);
  });
});

describe('minimum speech and maximum utterance', () => {
  it('ignores a vocal sound shorter than minSpeechMs: nothing reaches the STT or the dialog', async () => {
    const uh = await speech('uh'); // about 280 ms of voice for the VAD
    const run = async (minSpeechMs: number): Promise<{ spy: SpyStt; dialog: ScriptedDialog; ignored: number }> => {
      const spy = new SpyStt(engines.stt);
      const dialog = new ScriptedDialog([say('Hello.'), listen({ minSpeechMs, noInputMs: 60_000 })], () => [hangup]);
      const call = startCall(sessionEngines(engines, spy), dialog);
      void call.io.waitForBot('silent');
      void call.io.say(uh);
      void call.io.silence(2000);
      void call.io.hangup();
      await call.summary;
      return { spy, dialog, ignored: call.of('speech-ignored').filter((e) => e.reason === 'too-short').length };
    };
    const strict = await run(400);
    expect(strict.ignored).toBe(1);
    expect(strict.spy.calls).toEqual([]);
    expect(strict.dialog.events).toEqual([]);
    // The same sound is a turn when the state accepts shorter speech.
    const lax = await run(150);
    expect(lax.ignored).toBe(0);
    expect(lax.spy.calls.length).toBe(1);
  });

  it('cuts a turn at maxUtteranceMs and hands what was said so far to the STT', async () => {
    const long = await speech('i would like to speak to an agent please about my last invoice');
    const spy = new SpyStt(engines.stt);
    const dialog = new ScriptedDialog([say('How can I help?'), listen({ maxUtteranceMs: 1500, minSpeechMs: 200 })], (e, n) => (n === 1 ? [say('One moment.'), hangup] : []));
    const call = startCall(sessionEngines(engines, spy), dialog);
    void call.io.waitForBot('silent');
    void call.io.say(long);
    const summary = await call.summary;
    const turn = summary.turns.find((t) => t.kind === 'speech');
    expect(turn?.endReason).toBe('max-length');
    const length = Math.round((turn?.endOfTurnMs ?? 0) - (turn?.speechStartMs ?? 0));
    expect(length).toBeGreaterThanOrEqual(1500);
    expect(length).toBeLessThanOrEqual(1500 + 60);
    const first = dialog.utterances()[0] ?? '';
    expect(first).toMatch(/would like/);
    expect(first).not.toMatch(/invoice/);
    // Pre-roll (300 ms) + 1.5 s, not the whole 4 s sentence.
    expect(spy.calls[0]?.audioMs).toBeLessThan(2000);
  });
});

describe('no-input', () => {
  it('tells the dialog noInputMs after the bot stopped speaking, and again after the reprompt', async () => {
    const dialog = new ScriptedDialog([say('What is your name?'), listen({ noInputMs: 1500 })], (e, n) =>
      n === 1 ? [say('Are you still there?'), listen({ noInputMs: 1500 })] : [say('Goodbye.'), hangup],
    );
    const call = startCall(sessionEngines(engines), dialog);
    const summary = await call.summary;
    expect(dialog.events).toEqual([{ type: 'no-input' }, { type: 'no-input' }]);
    const stops = call.of('bot-audio').filter((e) => e.phase === 'end');
    const noInputs = call.of('no-input');
    expect(noInputs.map((e) => e.count)).toEqual([1, 2]);
    for (let i = 0; i < 2; i++) {
      const waited = Math.round(noInputs[i].atMs - stops[i].atMs);
      expect(waited).toBeGreaterThanOrEqual(1500);
      expect(waited).toBeLessThanOrEqual(1500 + 40);
    }
    expect(summary.endReason).toBe('bot_hangup');
    expect(summary.turns.map((t) => t.kind)).toEqual(['no-input', 'no-input']);
  });
});

describe('digits', () => {
  const digitsListen = listen({ endpointing: { mode: 'digits', count: 5, interDigitMs: 3000 }, dtmf: true, noInputMs: 10_000 });

  it('collects keypad digits and ends the turn as soon as the fifth is pressed', async () => {
    const dialog = new ScriptedDialog([say('Please type your zip code.'), digitsListen], () => [say('Thanks.'), hangup]);
    const call = startCall(sessionEngines(engines), dialog);
    void call.io.waitForBot('silent');
    void call.io.dtmf('75001', { gapMs: 300 });
    const summary = await call.summary;
    expect(dialog.events).toEqual([{ type: 'dtmf', digits: '75001' }]);
    const last = call.io.callerLog.filter((e) => e.kind === 'dtmf').pop();
    const turn = summary.turns.find((t) => t.kind === 'dtmf');
    expect(turn?.endReason).toBe('count');
    expect((turn?.endOfTurnMs ?? NaN) - ((last?.kind === 'dtmf' ? last.atMs : NaN) - call.offset())).toBeLessThan(20);
    expect(call.of('dtmf').map((e) => e.digit).join('')).toBe('75001');
  });

  it('takes spoken digits through the STT and checks the count', async () => {
    const zip = await speech('seven five zero zero one');
    const dialog = new ScriptedDialog([say('Please say your zip code.'), digitsListen], () => [say('Thanks.'), hangup]);
    const call = startCall(sessionEngines(engines), dialog);
    void call.io.waitForBot('silent');
    void call.io.say(zip);
    await call.summary;
    expect(dialog.events).toHaveLength(1);
    expect(dialog.events[0]).toMatchObject({ type: 'utterance', text: expect.stringMatching(/seven five zero zero one/) });
    // Complete on the count, not after the 3 s inter-digit wait.
    const turn = (await call.summary).turns.find((t) => t.dialogStartMs !== undefined);
    expect(turn?.endReason).toBe('count');
    expect((turn?.dialogStartMs ?? NaN) - (turn?.sttFinalMs ?? NaN)).toBeLessThan(100);
  });

  it('in a state with silence endpointing, hands keys to the dialog together once the caller stops typing', async () => {
    const dialog = new ScriptedDialog([say('Type your ticket number, or press 0 for an agent.'), listen({ endpointing: { mode: 'silence', silenceMs: 1200 }, dtmf: true })], () => [hangup]);
    const call = startCall(sessionEngines(engines), dialog);
    void call.io.waitForBot('silent');
    void call.io.dtmf('123456', { gapMs: 250 });
    const summary = await call.summary;
    expect(dialog.events).toEqual([{ type: 'dtmf', digits: '123456' }]);
    const last = call.io.callerLog.filter((e) => e.kind === 'dtmf').pop();
    const turn = summary.turns.find((t) => t.kind === 'dtmf');
    expect(turn?.endReason).toBe('inter-digit');
    const waited = Math.round((turn?.endOfTurnMs ?? NaN) - ((last?.kind === 'dtmf' ? last.atMs : NaN) - call.offset()));
    expect(waited).toBeGreaterThanOrEqual(1200);
    expect(waited).toBeLessThanOrEqual(1200 + 40);
  });
});
