/**
 * However a call ends, it leaves nothing behind (timers, listeners, VAD and
 * STT streams, syntheses, pending engine calls), and one call's failure never
 * touches another running beside it.
 */
import { createHook } from 'node:async_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { cleanupSpeech } from '../engines/stt/test-support.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import type { DialogOutput } from '../dialog/types.js';
import { FastClock, realClock, type Clock } from './clock.js';
import type { CallEndReason } from './io.js';
import { countingVad, hangup, listen, loadTestEngines, say, ScriptedDialog, speech, SpyStt, SpyTts, startCall, type TestCall, type TestEngines } from './test-support.js';

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

/** Timers and immediates created while `watching`, and not yet cleared or run, with where they were made. */
const timers = new Map<number, string>();
let watching = false;
createHook({
  init(id, type) {
    if (watching && (type === 'Timeout' || type === 'Immediate')) timers.set(id, `${type} ${new Error().stack?.split('\n').slice(4, 9).join(' ‹ ') ?? ''}`);
  },
  destroy(id) {
    timers.delete(id);
  },
}).enable();

/** Active handles other than timers (sockets, workers, ports, child processes), by kind. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (r !== 'Timeout' && r !== 'Immediate') counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

async function settle(): Promise<void> {
  // Lets handles closed at the very end (a worker message, an immediate) go.
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
}

interface Harness {
  call: TestCall;
  stt: SpyStt;
  tts: SpyTts;
  vad: ReturnType<typeof countingVad>;
  dialog: ScriptedDialog;
}

function harness(dialog: ScriptedDialog, clock?: Clock): Harness {
  const stt = new SpyStt(engines.stt);
  const tts = new SpyTts(engines.tts);
  const vad = countingVad(engines.vad);
  const call = startCall({ vad, stt, tts, cache: new PhraseCache({ resampler: engines.resampler }), resampler: engines.resampler }, dialog, {}, clock);
  return { call, stt, tts, vad, dialog };
}

async function expectNothingLeft(h: Harness): Promise<void> {
  const { call, stt, tts, vad, dialog } = h;
  expect(call.io.listenerCount('dtmf')).toBe(0);
  expect(call.io.listenerCount('hangup')).toBe(0);
  if (call.clock instanceof FastClock) expect(call.clock.pending).toBe(0);
  expect(vad.created).toBe(1);
  expect(vad.closed).toBe(1);
  expect(stt.openStreams).toBe(0);
  expect(call.io.isClosed).toBe(true);
  for (const s of dialog.signals) expect(s.aborted).toBe(true);
  // A synthesis still running when the call ended was aborted, and is gone within a moment.
  for (let i = 0; i < 50 && tts.active > 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(tts.active).toBe(0);
}

/** Scenarios ending a call in each possible way. */
const endings: Array<{ name: string; reason: CallEndReason; run: () => Promise<Harness> }> = [
  {
    name: 'the caller hangs up while the bot speaks',
    reason: 'caller_hangup',
    run: async () => {
      const h = harness(new ScriptedDialog([say(PROMPT), listen()], () => []));
      void h.call.io.waitForBot('speaking');
      void h.call.io.silence(700);
      void h.call.io.hangup();
      return h;
    },
  },
  {
    name: 'the caller hangs up in the middle of a turn, on the real clock (the session timers are real timers)',
    reason: 'caller_hangup',
    run: async () => {
      const h = harness(new ScriptedDialog([say('Hi.'), listen({ noInputMs: 5000 })], () => []), realClock);
      const long = await speech('i would like to speak to an agent please');
      void h.call.io.waitForBot('silent', { quietMs: 100 });
      void h.call.io.say({ samples: long.samples.subarray(0, 16_000), sampleRate: long.sampleRate });
      void h.call.io.hangup();
      return h;
    },
  },
  {
    name: 'the bot hangs up after an answer',
    reason: 'bot_hangup',
    run: async () => {
      const h = harness(new ScriptedDialog([say('Are you the owner?'), listen({ endpointing: { mode: 'silence', silenceMs: 500 } })], () => [say('Thanks, goodbye.'), hangup]));
      void h.call.io.waitForBot('silent');
      void h.call.io.say(await speech('yes i am'));
      return h;
    },
  },
  {
    name: 'the transport fails in the middle of a caller turn (STT stream open)',
    reason: 'transport_error',
    run: async () => {
      const h = harness(new ScriptedDialog([say('Hello.'), listen()], () => []));
      const long = await speech('i would like to speak to an agent please about my last invoice');
      void h.call.io.waitForBot('silent');
      void h.call.io.say({ samples: long.samples.subarray(0, 16_000 * 2), sampleRate: long.sampleRate });
      void h.call.io.fail(new Error('socket reset by peer'));
      return h;
    },
  },
  {
    name: 'the dialog throws',
    reason: 'error',
    run: async () => {
      const h = harness(
        new ScriptedDialog([say('Hello.'), listen()], () => {
          throw new Error('flow state "ask_zip" has no transition for intent "yes"');
        }),
      );
      void h.call.io.waitForBot('silent');
      void h.call.io.say(await speech('yes'));
      return h;
    },
  },
  {
    name: 'the server ends the call while the dialog is thinking',
    reason: 'server_shutdown',
    run: async () => {
      let release: () => void = () => undefined;
      const dialog = new ScriptedDialog([say('Hello.'), listen()], (_e) => new Promise<DialogOutput[]>((r) => (release = () => r([say('late answer')]))));
      const h = harness(dialog);
      void h.call.io.waitForBot('silent');
      void h.call.io.say(await speech('yes i am'));
      h.call.session.on('event', (e) => {
        // A dialog that ignores its abort signal does not hold the end of the call.
        if (e.type === 'speech' && e.phase === 'end') setTimeout(() => void h.call.session.end('server_shutdown', 'shutting down').then(() => setTimeout(release, 100)), 700);
      });
      return h;
    },
  },
];

describe('a call leaves nothing behind', () => {
  it('warms up: one whole call first, so the engines start their lazy workers before counting', async () => {
    const h = harness(new ScriptedDialog([say('Hello.'), listen({ endpointing: { mode: 'silence', silenceMs: 400 } })], () => [say('Bye.'), hangup]));
    void h.call.io.waitForBot('silent');
    void h.call.io.say(await speech('yes i am'));
    expect((await h.call.summary).endReason).toBe('bot_hangup');
    // Both PocketSphinx decoders of the pool exist from now on (the pool starts its second one on demand).
    const clip = await speech('yes i am');
    await Promise.all([engines.stt.transcribe(clip), engines.stt.transcribe(clip)]);
    await settle();
  });

  for (const ending of endings) {
    it(`when ${ending.name}`, async () => {
      await settle();
      const before = handles();
      timers.clear();
      watching = true;
      const h = await ending.run();
      const summary = await h.call.summary;
      watching = false;
      expect(summary.endReason).toBe(ending.reason);
      expect(h.call.of('call-ended')).toEqual([expect.objectContaining({ reason: ending.reason })]);
      expect(h.call.events[h.call.events.length - 1].type).toBe('call-ended');
      await expectNothingLeft(h);
      await settle();
      expect(handles()).toEqual(before);
      expect([...timers.values()]).toEqual([]);
      // Every event is plain JSON.
      expect(JSON.parse(JSON.stringify(h.call.events))).toEqual(h.call.events);
    });
  }

  it('reports a dialog failure as an error event naming the stage', async () => {
    const h = harness(
      new ScriptedDialog([say('Hello.'), listen()], () => {
        throw new PalabreError('internal', 'flow state "ask_zip" has no transition');
      }),
    );
    void h.call.io.waitForBot('silent');
    void h.call.io.say(await speech('yes'));
    const summary = await h.call.summary;
    expect(summary.errors).toEqual([expect.objectContaining({ stage: 'dialog', code: 'internal', message: expect.stringContaining('no transition') })]);
    expect(summary.endDetail).toMatch(/^dialog: /);
  });
});

describe('calls are isolated', () => {
  it('runs two calls side by side where one STT fails: the other completes untouched', async () => {
    const answer = await speech('my internet connection stopped working this morning');
    const broken = new SpyStt(engines.stt);
    broken.failWith = new PalabreError('engine_failed', 'decoder crashed');
    const question: DialogOutput[] = [say('What is the problem?'), listen({ endpointing: { mode: 'silence', silenceMs: 600 } })];
    const failing = new ScriptedDialog(question, (e) => (e.type === 'repeat' ? question : [hangup]));
    const healthy = new ScriptedDialog(question, () => [say('I see, thank you.'), hangup]);
    const cache = new PhraseCache({ resampler: engines.resampler });
    const a = startCall({ vad: engines.vad, stt: broken, tts: engines.tts, cache, resampler: engines.resampler }, failing);
    const b = startCall({ vad: engines.vad, stt: new SpyStt(engines.stt), tts: engines.tts, cache, resampler: engines.resampler }, healthy);
    // The failing caller answers three times: each time the STT fails and the bot asks again; the third time the flow's error path runs.
    for (let i = 0; i < 3; i++) {
      void a.io.waitForBot('speaking');
      void a.io.waitForBot('silent');
      void a.io.say(answer);
    }
    void b.io.waitForBot('silent');
    void b.io.say(answer);
    const [sa, sb] = await Promise.all([a.summary, b.summary]);

    expect(sa.endReason).toBe('bot_hangup');
    expect(sa.errors.map((e) => e.stage)).toEqual(['stt', 'stt', 'stt']);
    expect(failing.events).toEqual([{ type: 'repeat' }, { type: 'repeat' }, { type: 'error', reason: 'stt: decoder crashed' }]);

    expect(sb.endReason).toBe('bot_hangup');
    expect(sb.errors).toEqual([]);
    expect(healthy.utterances()).toEqual([expect.stringMatching(/internet connection/)]);
    expect(sb.transcript.map((l) => l.role)).toEqual(['bot', 'caller', 'bot']);
  });
});

describe('when the engines fail', () => {
  it('the bot whose voice fails says the cached apology and the flow\'s error path transfers the caller', async () => {
    const apology = { text: 'Sorry, we are having a technical problem.', language: 'en' };
    const voice = new SpyTts(engines.tts);
    const cache = new PhraseCache({ resampler: engines.resampler });
    // As the call factory does at start-up, while the voice still works.
    await cache.preload(voice, [apology], { encoding: 'pcm16', sampleRate: 16_000 });
    voice.failWith = new PalabreError('engine_failed', 'every text-to-speech engine failed: cloudvoice: 503');
    const dialog = new ScriptedDialog([say('Welcome to the support line.'), listen()], (e) => (e.type === 'error' ? [say('I am transferring you.'), { type: 'transfer', target: 'agents', reason: 'error' }] : []));
    const call = startCall({ vad: engines.vad, stt: engines.stt, tts: voice, cache, resampler: engines.resampler, apology }, dialog);
    const summary = await call.summary;
    expect(summary.endReason).toBe('transfer');
    expect(dialog.events).toEqual([{ type: 'error', reason: expect.stringMatching(/^tts: every text-to-speech engine failed/) }]);
    // The apology was played (the caller heard it, whole); the prompts the dead voice could not say were not.
    expect(summary.transcript).toEqual([expect.objectContaining({ role: 'bot', text: apology.text })]);
    expect(call.io.playedMs()).toBeGreaterThan(1000);
    expect(summary.errors.map((e) => e.stage)).toEqual(['tts', 'tts']);
  });
});
