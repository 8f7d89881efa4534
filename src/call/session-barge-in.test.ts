/**
 * Barge-in with real engines: a flite caller talks over a long flite prompt;
 * Silero hears it, the bot's audio stops, the cut is recorded with what was
 * actually played, and a false interruption makes the bot resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_MS } from '../audio/frame.js';
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

const PROMPT =
  'Thank you for calling the support line. Please listen carefully, as our menu options have changed. ' +
  'You can ask about your bill, your internet connection, or your mobile phone. You can also ask to speak to an agent at any time.';

describe('barge-in allowed', () => {
  it('stops the bot within 100 ms of the caller speech being detected, and records the cut with what was heard', async () => {
    const caller = await speech('i would like to speak to an agent please');
    const minSpeechMs = 300;
    const spy = new SpyStt(engines.stt);
    const dialog = new ScriptedDialog([say(PROMPT), listen({ bargeIn: { allowed: true, minSpeechMs, minWords: 1 } })], () => [
      say('Transferring you now.'),
      { type: 'transfer', target: 'agents', reason: 'caller asked' },
    ]);
    const call = startCall(sessionEngines(engines, spy), dialog);
    void call.io.waitForBot('speaking');
    void call.io.silence(1500);
    void call.io.say(caller, { label: 'interruption' });
    const summary = await call.summary;

    const detected = call.of('barge-in').find((e) => e.outcome === 'detected');
    expect(detected).toBeDefined();
    expect(call.of('barge-in').map((e) => e.outcome)).toEqual(['detected', 'confirmed']);
    const turn = summary.turns.find((t) => t.bargeIn);
    if (!turn?.bargeIn) throw new Error('no barge-in turn');

    // When the prompt's audio really stopped, from the memory IO's frame log (IO time).
    const clear = call.io.clears[0];
    const promptFrames = call.io.sent.filter((f) => f.sentAtMs <= clear.atMs);
    const stoppedAt = promptFrames[promptFrames.length - 1].playEndMs;
    const detectedAt = turn.bargeIn.detectedAtMs + call.offset();
    expect(stoppedAt - detectedAt).toBeLessThanOrEqual(100);
    // The IO held its write-ahead (about 500 ms), dropped here; the player dropped the rest of the prompt it held back. None of it went out (below).
    expect(clear.droppedMs).toBeGreaterThan(0);
    // Measured from where the caller's voice really starts: VAD onset lag + minSpeechMs + the last frame playing out.
    const said = call.io.callerLog.find((e) => e.kind === 'audio');
    const voiceAt = (said?.kind === 'audio' ? said.startMs : NaN) + soundBounds(caller).startMs;
    console.log(`barge-in: bot stopped ${(stoppedAt - voiceAt - minSpeechMs).toFixed(0)} ms beyond minSpeechMs after the voice began, ${(stoppedAt - detectedAt).toFixed(0)} ms after detection`);
    expect(stoppedAt - voiceAt).toBeGreaterThanOrEqual(minSpeechMs);
    expect(stoppedAt - voiceAt - minSpeechMs).toBeLessThanOrEqual(150);
    // Nothing more of the prompt went out after the clear.
    const next = call.io.sent.find((f) => f.sentAtMs > clear.atMs);
    expect(next === undefined || next.sentAtMs > stoppedAt + 300).toBe(true);

    // The cut is recorded with what was played: about 1.8 s of a 12 s prompt, so its first words only.
    const cutLine = summary.transcript.find((l) => l.role === 'bot' && l.cut);
    expect(cutLine?.text).toBe(PROMPT);
    const heard = cutLine?.heard ?? '';
    expect(PROMPT.startsWith(heard)).toBe(true);
    const playedMs = promptFrames.length * FRAME_MS;
    const words = heard.split(' ').length;
    expect(playedMs).toBeGreaterThan(1500);
    expect(playedMs).toBeLessThan(2600);
    expect(words).toBeGreaterThanOrEqual(2);
    expect(words).toBeLessThanOrEqual(9);

    expect(dialog.utterances()).toEqual([expect.stringContaining('agent')]);
    expect(summary.endReason).toBe('transfer');
    expect(call.io.closedWith?.detail).toEqual({ transferTarget: 'agents' });
    expect(summary.bargeIns).toEqual({ total: 1, false: 0 });
  });

  it('resumes the interrupted sentence after a false interruption (a short vocal sound with no words)', async () => {
    const ah = await speech('ah'); // about 340 ms of voice for the VAD, no word for PocketSphinx
    const spy = new SpyStt(engines.stt);
    const dialog = new ScriptedDialog([say(PROMPT), listen({ bargeIn: { allowed: true, minSpeechMs: 200, minWords: 1 }, noInputMs: 1000 })], (e) =>
      e.type === 'no-input' ? [say('Goodbye.'), hangup] : [say('Sorry?'), hangup],
    );
    const call = startCall(sessionEngines(engines, spy), dialog);
    void call.io.waitForBot('speaking');
    void call.io.silence(3500);
    void call.io.say(ah, { label: 'cough' });
    const summary = await call.summary;

    expect(call.of('barge-in').map((e) => e.outcome)).toEqual(['detected', 'false']);
    expect(spy.calls).toHaveLength(1);
    expect(spy.calls[0].text).toBe('');
    // The dialog never heard of it: the bot took up where it was cut, then the call went on.
    expect(dialog.events).toEqual([{ type: 'no-input' }]);
    const bot = summary.transcript.filter((l) => l.role === 'bot');
    expect(bot[0]).toMatchObject({ text: PROMPT, cut: true });
    const heard = bot[0].heard ?? '';
    // Cut in the second sentence (3.5 s in): the resumed text starts with that sentence.
    expect(heard).toMatch(/^Thank you for calling the support line\. Please/);
    expect(bot[1].cut).toBeUndefined();
    expect(bot[1].text.startsWith('Please listen carefully')).toBe(true);
    expect(PROMPT.endsWith(bot[1].text)).toBe(true);
    expect(bot[2].text).toBe('Goodbye.');
    const falseOne = call.of('barge-in').find((e) => e.outcome === 'false');
    expect(falseOne?.resumed).toBe(bot[1].text);
    // The bot was silent between the cut and the resumption only while the caller's turn was being decided.
    const segments = call.io.botSegments();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    expect(segments[1].startMs - segments[0].endMs).toBeLessThan(3000);
    expect(summary.bargeIns).toEqual({ total: 1, false: 1 });
  });
});

describe('barge-in not allowed', () => {
  it('plays the prompt to the end and sends none of the caller audio spoken over it to the STT', async () => {
    const caller = await speech('i would like to speak to an agent please');
    const spy = new SpyStt(engines.stt);
    const dialog = new ScriptedDialog([say(PROMPT), listen({ bargeIn: { allowed: false, minSpeechMs: 300, minWords: 1 }, noInputMs: 1000 })], () => [say('Goodbye.'), hangup]);
    const call = startCall(sessionEngines(engines, spy), dialog);
    void call.io.waitForBot('speaking');
    void call.io.silence(1500);
    void call.io.say(caller);
    const summary = await call.summary;

    expect(spy.calls).toEqual([]);
    expect(call.io.clears).toEqual([]);
    expect(call.of('barge-in')).toEqual([]);
    expect(call.of('speech-ignored').map((e) => e.reason)).toContain('bot-speaking');
    expect(summary.transcript.filter((l) => l.role === 'bot').map((l) => [l.text, l.cut])).toEqual([
      [PROMPT, undefined],
      ['Goodbye.', undefined],
    ]);
    expect(dialog.events).toEqual([{ type: 'no-input' }]);
  });
});
