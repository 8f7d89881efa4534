/**
 * Plays a caller script against a flow through the full audio pipeline: the
 * caller's lines are synthesised (or read from WAV files), streamed into an
 * in-memory line in 20 ms frames, heard by the VAD, cut into turns,
 * transcribed, understood by the flow, answered by the TTS and paced back out,
 * exactly as on a phone line. Time is simulated by default (idle stretches are
 * skipped, engine time is real), or real with `realtime`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AudioChunk, concatChunks } from '../audio/frame.js';
import { resampleWith } from '../audio/resample.js';
import { decodeWav } from '../audio/wav.js';
import { type Clock, createFastClock, realClock } from '../call/clock.js';
import type { CallEvent, CallSummary, TurnTimeline } from '../call/events.js';
import { createMemoryIO } from '../call/memory-io.js';
import { createCallSession } from '../call/session.js';
import { type Config, callSessionOptions } from '../config.js';
import { createFlowClassifier } from '../dialog/classifier.js';
import { createDialogRuntime, type DialogLlm } from '../dialog/index.js';
import type { LoadedFlow } from '../dialog/loader.js';
import { pickEngine, type Engines } from '../engines/registry.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import type { Tts } from '../engines/tts/types.js';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import type { CallerScript, CallerTurn } from './script.js';

/**
 * The caller takes the bot as done after this much quiet: the bot speaks a
 * reply sentence by sentence, and the short gaps between sentences must not
 * look like the end of its turn (a real caller waits for the question).
 */
const BOT_DONE_QUIET_MS = 900;

export interface SimulationReport {
  flow: string;
  language: string;
  clock: 'simulated' | 'real';
  /** Wall-clock seconds the simulation took. */
  wallSec: number;
  summary: CallSummary;
  /** Per answered turn, ms: end of caller speech → end-of-turn decision → STT final → first bot audio out. */
  latencies: Array<{ turn: number; endOfTurnMs?: number; sttMs?: number; firstAudioMs?: number; palabreMs?: number }>;
  expectations: Array<{ what: string; ok: boolean; detail: string }>;
  ok: boolean;
}

export interface SimulateOptions {
  flow: LoadedFlow;
  script: CallerScript;
  baseDir: string;
  language: string;
  engines: Engines;
  config: Config;
  logger: Logger;
  realtime?: boolean;
  /** Writes the replies of the flow's `llm` states; required when it has any. */
  llm?: DialogLlm;
  onEvent?: (e: CallEvent) => void;
}

async function synthesise(tts: Tts, text: string, voice: string | undefined, language: string, rate: number, engines: Engines): Promise<AudioChunk> {
  const chunks: AudioChunk[] = [];
  for await (const c of tts.synthesize(text, { voice, language })) chunks.push(c);
  return resampleWith(engines.resampler, concatChunks(chunks), rate);
}

function readWavTurn(path: string, rate: number, engines: Engines): AudioChunk {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new PalabreError('bad_request', `caller WAV ${path} cannot be read: ${(err as Error).message}`);
  }
  const wav = decodeWav(bytes);
  return resampleWith(engines.resampler, { samples: wav.samples, sampleRate: wav.sampleRate }, rate);
}

const span = (from?: number, to?: number) => (from !== undefined && to !== undefined ? Math.round(to - from) : undefined);

/** What each turn cost; `palabreMs` is the time from end of turn to first audio out that no engine accounts for. */
export function turnLatency(t: TurnTimeline): SimulationReport['latencies'][number] {
  const firstAudio = span(t.endOfTurnMs, t.firstAudioOutMs);
  const stt = span(t.sttStartMs, t.sttFinalMs) ?? 0;
  const dialog = span(t.dialogStartMs, t.dialogDoneMs) ?? 0;
  const tts = span(t.ttsRequestMs, t.firstTtsAudioMs) ?? 0;
  return {
    turn: t.turn,
    endOfTurnMs: span(t.speechEndMs, t.endOfTurnMs),
    sttMs: span(t.sttStartMs, t.sttFinalMs),
    firstAudioMs: firstAudio,
    palabreMs: firstAudio === undefined ? undefined : Math.max(0, firstAudio - stt - dialog - tts),
  };
}

function checkExpectations(script: CallerScript, summary: CallSummary): SimulationReport['expectations'] {
  const out: SimulationReport['expectations'] = [];
  const e = script.expect;
  if (!e) return out;
  const finalState = summary.states[summary.states.length - 1];
  if (e.final_state !== undefined) out.push({ what: 'final_state', ok: finalState === e.final_state, detail: `expected ${e.final_state}, got ${finalState ?? '(none)'}` });
  if (e.states) {
    // In order, other states may come between.
    let i = 0;
    for (const s of summary.states) if (s === e.states[i]) i++;
    out.push({ what: 'states', ok: i === e.states.length, detail: `expected ${e.states.join(' → ')} in order, visited ${summary.states.join(' → ')}` });
  }
  for (const want of e.records ?? []) {
    const match = summary.records.find((r) => r.kind === want.kind && Object.entries(want.fields).every(([k, v]) => JSON.stringify(r.data[k]) === JSON.stringify(v)));
    out.push({ what: `record ${want.kind}`, ok: match !== undefined, detail: match ? JSON.stringify(match.data) : `no ${want.kind} with ${JSON.stringify(want.fields)}; saved: ${JSON.stringify(summary.records)}` });
  }
  if (e.end_reason !== undefined) out.push({ what: 'end_reason', ok: summary.endReason === e.end_reason, detail: `expected ${e.end_reason}, got ${summary.endReason}` });
  return out;
}

export async function simulate(opts: SimulateOptions): Promise<SimulationReport> {
  const { flow, script, engines, config, language } = opts;
  const clock: Clock = opts.realtime ? realClock : createFastClock();
  const io = createMemoryIO({ clock, afterScript: 'silence' });
  const vad = engines.vad;
  if (!vad) throw new PalabreError('engine_unavailable', 'simulate needs a VAD: none loaded (engines.vad.engine)');
  const stt = pickEngine(engines.stt, engines.statuses, 'stt', engines.defaultStt);
  const botTts = pickEngine(engines.tts, engines.statuses, 'tts', engines.defaultTts);
  const callerTts = pickEngine(engines.tts, engines.statuses, 'tts', script.caller.engine);
  const cache = new PhraseCache({ maxEntries: config.engines.tts.cacheEntries, maxBytes: config.engines.tts.cacheBytes, resampler: engines.resampler });
  const dialog = createDialogRuntime(flow, { language, classifier: createFlowClassifier(flow), llm: opts.llm });
  const session = createCallSession({
    io,
    dialog,
    engines: { vad, stt, tts: botTts, cache, denoiser: config.preprocess.denoise ? engines.denoiser : undefined, resampler: engines.resampler },
    language,
    logger: opts.logger,
    clock,
    options: callSessionOptions(config),
  });
  if (opts.onEvent) session.on('event', opts.onEvent);

  // Prepare the caller's audio before the call starts, so synthesis time does not count as caller silence.
  const prepared: Array<{ turn: CallerTurn; audio?: AudioChunk }> = [];
  for (const turn of script.turns) {
    if (turn.say) prepared.push({ turn, audio: await synthesise(callerTts, turn.say, script.caller.voice, language, io.sampleRate, engines) });
    else if (turn.wav) prepared.push({ turn, audio: readWavTurn(resolve(opts.baseDir, turn.wav), io.sampleRate, engines) });
    else prepared.push({ turn });
  }

  const started = performance.now();
  const done = session.run();
  const caller = (async () => {
    for (const { turn, audio } of prepared) {
      if (turn.when === 'bot_speaking') {
        await io.waitForBot('speaking', { timeoutMs: script.timeout_ms });
        if (turn.after_ms > 0) await io.silence(turn.after_ms);
      } else {
        // The bot answers the previous turn after STT and the dialog: wait for it to start, then to finish.
        await io.waitForBot('speaking', { timeoutMs: script.timeout_ms });
        await io.waitForBot('silent', { quietMs: BOT_DONE_QUIET_MS, timeoutMs: script.timeout_ms });
      }
      if (turn.pause_ms) await io.silence(turn.pause_ms);
      if (audio) await io.say(audio, { label: turn.say ?? turn.wav });
      else if (turn.dtmf) await io.dtmf(turn.dtmf, { gapMs: 150 });
      else if (turn.silent) continue; // the next turn's wait covers the no-input reprompt
      else if (turn.hangup) {
        await io.hangup();
        return;
      }
    }
  })();
  // The script ends; the flow gets `timeout_ms` more to finish the call on its own.
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  const callerDone = caller.then(
    () => {
      timer = clock.setTimeout(() => void session.end('timeout', `the call had not ended ${script.timeout_ms} ms after the caller's script`), script.timeout_ms);
    },
    (err: unknown) => session.end('error', `caller script failed: ${(err as Error).message}`),
  );
  const summary = await done;
  if (timer !== undefined) clock.clearTimeout(timer);
  await callerDone.catch(() => undefined);

  const latencies = summary.turns.map(turnLatency);
  const expectations = checkExpectations(script, summary);
  return {
    flow: flow.definition.id,
    language,
    clock: opts.realtime ? 'real' : 'simulated',
    wallSec: Number(((performance.now() - started) / 1000).toFixed(2)),
    summary,
    latencies,
    expectations,
    ok: expectations.every((e) => e.ok),
  };
}
