/**
 * The call session's own latency, with real engines (Silero VAD, PocketSphinx,
 * flite through the phrase cache) on a flite caller:
 *
 * 1. Per turn, the time palabre adds between the end-of-turn decision and the
 *    first audio frame out, beyond what the engines take (STT final, dialog
 *    with its intent, TTS to first chunk), each measured in the same turn.
 *    Target: p95 < 30 ms.
 * 2. Barge-in reaction: from the first frame of the caller's voice to the
 *    bot's audio stopped (end of the last frame played), minus the configured
 *    minimum speech. Target: p95 < 100 ms.
 *
 * Both run on the fast clock: idle waits (the caller's 20 ms frames, the
 * pacer) are skipped, while time runs at real speed whenever an engine works,
 * so the figures are real milliseconds of work. The full run repeats the
 * overhead measure on the real clock as a check.
 */
import { PhraseCache } from '../src/engines/tts/phrase-cache.js';
import { cleanupSpeech } from '../src/engines/stt/test-support.js';
import { realClock, type Clock } from '../src/call/clock.js';
import type { DialogOutput } from '../src/dialog/types.js';
import { hangup, listen, loadTestEngines, say, ScriptedDialog, sessionEngines, soundBounds, speech, startCall, type TestEngines } from '../src/call/test-support.js';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const CALLER = ['my internet stopped working', 'please call me back tomorrow', 'i want a technician', 'the light is red', 'yes i am the owner'];

const PROMPT =
  'Thank you for calling the support line. Please listen carefully, as our menu options have changed. ' +
  'You can ask about your bill, your internet connection, or your mobile phone. You can also ask to speak to an agent at any time.';

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

function ms(v: number): string {
  return `${v.toFixed(1)} ms`;
}

interface TurnCost {
  overhead: number;
  total: number;
  stt: number;
  dialog: number;
  tts: number;
}

/** One call of `turns` question/answer turns; returns the cost split of each answered turn. */
async function overheadCall(engines: TestEngines, turns: number, clock?: Clock): Promise<TurnCost[]> {
  const question: DialogOutput[] = [say('What seems to be the problem?'), listen({ endpointing: { mode: 'silence', silenceMs: 600 }, noInputMs: 20_000 })];
  // Answers differ each turn so the synthesis is not a cache hit (the worst case); its first-chunk time is subtracted anyway.
  const dialog = new ScriptedDialog(question, (_e, n) =>
    n >= turns ? [say('Thank you, goodbye.'), hangup] : [say(`Answer number ${n}. I see, tell me more.`), question[1]],
  );
  const call = startCall(sessionEngines(engines), dialog, {}, clock);
  const audio = await Promise.all(CALLER.map((t) => speech(t)));
  for (let i = 0; i < turns; i++) {
    void call.io.waitForBot('speaking');
    void call.io.waitForBot('silent', { quietMs: 200 });
    void call.io.say(audio[i % audio.length]);
  }
  const summary = await call.summary;
  const out: TurnCost[] = [];
  for (const t of summary.turns) {
    if (t.firstAudioOutMs === undefined || t.sttFinalMs === undefined || t.sttStartMs === undefined) continue;
    const total = t.firstAudioOutMs - t.endOfTurnMs;
    const stt = t.sttFinalMs - t.sttStartMs;
    const dialogMs = (t.dialogDoneMs ?? 0) - (t.dialogStartMs ?? 0);
    const tts = (t.firstTtsAudioMs ?? 0) - (t.ttsRequestMs ?? 0);
    out.push({ overhead: total - stt - dialogMs - tts, total, stt, dialog: dialogMs, tts });
  }
  return out;
}

interface BargeIn {
  /** Caller voice onset → bot audio stopped, minus minSpeechMs. */
  beyondMinSpeech: number;
  /** Detection (the frame that completed minSpeechMs) → bot audio stopped. */
  afterDetection: number;
}

async function bargeInCall(engines: TestEngines, cache: PhraseCache, offsetMs: number, minSpeechMs: number): Promise<BargeIn | undefined> {
  const caller = await speech(CALLER[offsetMs % CALLER.length]);
  const dialog = new ScriptedDialog([say(PROMPT), listen({ bargeIn: { allowed: true, minSpeechMs, minWords: 1 } })], () => [hangup]);
  const call = startCall(sessionEngines(engines, engines.stt, cache), dialog);
  // Only the stop matters here: end the call once the bot is cut rather than wait for the transcript.
  call.session.on('event', (e) => {
    if (e.type === 'barge-in' && e.outcome === 'detected') void call.session.end('caller_hangup');
  });
  void call.io.waitForBot('speaking');
  void call.io.silence(offsetMs);
  void call.io.say(caller);
  const summary = await call.summary;
  const turn = summary.turns.find((t) => t.bargeIn);
  const clear = call.io.clears[0];
  const said = call.io.callerLog.find((e) => e.kind === 'audio');
  if (!turn?.bargeIn || !clear || said?.kind !== 'audio') return undefined;
  const promptFrames = call.io.sent.filter((f) => f.sentAtMs <= clear.atMs);
  const stoppedAt = promptFrames[promptFrames.length - 1].playEndMs;
  const voiceAt = said.startMs + soundBounds(caller).startMs;
  return { beyondMinSpeech: stoppedAt - voiceAt - minSpeechMs, afterDetection: stoppedAt - (turn.bargeIn.detectedAtMs + call.offset()) };
}

export default async function bench(ctx: Ctx): Promise<void> {
  const { print, quick } = ctx;
  const engines = await loadTestEngines();
  try {
    // Warm-up: loads the decoders, the ORT session and flite, outside the measures.
    await overheadCall(engines, 1);

    const turns = quick ? 6 : 30;
    const costs = await overheadCall(engines, turns);
    const over = costs.map((c) => c.overhead);
    print(`turn latency, fast clock (idle skipped, engine time real), ${costs.length} turns, each answer synthesised afresh:`);
    print(`  palabre's own time, end of turn → first frame out minus STT, dialog and TTS first chunk: p50 ${ms(pct(over, 50))}, p95 ${ms(pct(over, 95))}, max ${ms(Math.max(...over))} (target p95 < 30 ms)`);
    print(
      `  whole reply latency p50 ${ms(pct(costs.map((c) => c.total), 50))}: STT final ${ms(pct(costs.map((c) => c.stt), 50))}, dialog ${ms(pct(costs.map((c) => c.dialog), 50))}, TTS first chunk ${ms(pct(costs.map((c) => c.tts), 50))}; palabre's share ${((pct(over, 50) / pct(costs.map((c) => c.total), 50)) * 100).toFixed(1)} %`,
    );
    if (!quick) {
      const real = await overheadCall(engines, 4, realClock);
      const ro = real.map((c) => c.overhead);
      print(`  check on the real clock, ${real.length} turns: palabre's own time p50 ${ms(pct(ro, 50))}, max ${ms(Math.max(...ro))}`);
    }

    const cache = new PhraseCache({ resampler: engines.resampler });
    const trials = quick ? 8 : 30;
    const minSpeechMs = 300;
    const results: BargeIn[] = [];
    for (let i = 0; i < trials; i++) {
      // Interruptions land at different points of the prompt (and of the 20 ms frame grid).
      const r = await bargeInCall(engines, cache, 1000 + ((i * 337) % 2500), minSpeechMs);
      if (r) results.push(r);
    }
    const beyond = results.map((r) => r.beyondMinSpeech);
    const after = results.map((r) => r.afterDetection);
    print(`barge-in, fast clock, ${results.length}/${trials} interruptions over a 12 s prompt, minSpeechMs ${minSpeechMs}:`);
    print(`  caller voice onset → bot audio stopped, beyond minSpeechMs: p50 ${ms(pct(beyond, 50))}, p95 ${ms(pct(beyond, 95))}, max ${ms(Math.max(...beyond))} (target p95 < 100 ms)`);
    print(`  of which detection → stopped (clear, then the last frame sent finishes playing): p50 ${ms(pct(after, 50))}, p95 ${ms(pct(after, 95))}; the rest is the VAD's onset lag and the 20 ms frame grid`);
  } finally {
    await engines.close();
    cleanupSpeech();
  }
}
