/**
 * One way to build a call for every transport (AudioSocket, ARI/RTP, Twilio,
 * browser): the flow's dialog with its intent chain, the server's engines,
 * one phrase cache shared by the calls of this factory, and the observers
 * that keep what a call produces (the store, the recorder).
 */
import { createCallSession, type CallSession, type CallSessionOptions } from './session.js';
import { createRealtimeSession, realtimeSettingsFor } from './realtime-session.js';
import { type Config, callSessionOptions } from '../config.js';
import { createFlowClassifier } from '../dialog/classifier.js';
import type { DialogLlm } from '../dialog/llm.js';
import type { FlowRegistry } from '../dialog/loader.js';
import { createDialogRuntime } from '../dialog/runtime.js';
import type { Engines } from '../engines/registry.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import type { Tts } from '../engines/tts/types.js';
import { PIPELINE_RATE } from '../audio/frame.js';
import { decodeSlinLe } from '../audio/slin.js';
import type { Logger } from '../log.js';
import { Breakers, type FallbackInfo } from '../engines/fallback.js';
import { CallUsage, costOf, meteredLlm } from '../engines/usage.js';
import type { Metrics } from '../server/metrics.js';
import { sessionEngines, withFallbacks } from './engines.js';
import type { SessionEngines } from './session-core.js';
import type { CallEvent, CallSummary } from './events.js';
import type { CallIO } from './io.js';

export type TransportName = 'audiosocket' | 'ari' | 'twilio' | 'browser' | 'simulate';

/** Who and what a call is, as the transport knows it before the call runs. */
export interface CallMeta {
  transport: TransportName;
  flow: string;
  language: string;
  /** The caller's number or address, when the transport tells it. */
  callerId?: string;
  /** The transport's own id (AudioSocket UUID, Twilio CallSid, Asterisk channel id). */
  externalId?: string;
}

/** What an observer does with one call: may wrap its IO, hears its events, is told when it ended. */
export interface CallObservation {
  /** The IO the session will use instead (a recorder taps both directions here). */
  io?: CallIO;
  onEvent?(event: CallEvent): void;
  /** After the call has ended (summary undefined when it could not run at all). Never throws into the call. */
  finish?(summary: CallSummary | undefined): Promise<void>;
}

export interface CallObserver {
  /** Called once per call before it runs. A throw here is logged and the observer skipped for that call. */
  open(callId: string, meta: CallMeta, io: CallIO, logger: Logger): CallObservation | undefined;
}

export interface CallFactoryDeps {
  config: Config;
  engines: Engines;
  flows: () => Promise<FlowRegistry>;
  session?: CallSessionOptions;
  llm?: DialogLlm;
  observers?: CallObserver[];
  /** Usage counters per finished call (requests, characters, tokens, audio, cost). */
  metrics?: Metrics;
}

export interface CallFactoryArgs {
  io: CallIO;
  meta: CallMeta;
  logger: Logger;
}

export type CallFactory = ((args: CallFactoryArgs) => Promise<CallSession>) & {
  /**
   * `text` in the voice a call in `language` speaks with (its fallbacks too), through
   * the calls' phrase cache: PCM16 at the pipeline rate. For what a transport says
   * before the flow runs (the ARI `tts:` welcome); billed to no call.
   */
  renderPhrase?: (text: string, language: string, signal?: AbortSignal) => Promise<Int16Array>;
};

export function createCallFactory(deps: CallFactoryDeps): CallFactory {
  // Greetings and prompts repeat from call to call: one cache for all of them.
  const cache = new PhraseCache({ maxEntries: deps.config.engines.tts.cacheEntries, maxBytes: deps.config.engines.tts.cacheBytes, resampler: deps.engines.resampler, resampleQuality: deps.config.audio.resampleQuality });
  // Shared by every call: an engine that keeps failing is skipped by all of them for a while.
  const breakers = new Breakers(deps.config.engines.breaker);
  const apologies = new Map<string, Promise<boolean>>();
  /**
   * Renders the apology of `language` into the cache once per voice chain (in the background: no call waits
   * for it). `name` is the chain's (the cache key); `voice` builds an unmetered chain only when rendering.
   */
  const prepareApology = (name: string, voice: () => Tts, language: string, logger: Logger): { text: string; language: string } | undefined => {
    const texts: Record<string, string> = deps.config.call.apology;
    const text = texts[language] ?? texts[language.split('-')[0]];
    if (!text) return undefined;
    const key = `${name}|${language}`;
    if (!apologies.has(key)) {
      const ready = cache.preload(voice(), [{ text, language }], { encoding: 'pcm16', sampleRate: PIPELINE_RATE }).then(
        () => true,
        (err: unknown) => {
          logger.warn({ err: err instanceof Error ? err.message : String(err), language }, 'could not render the apology; the next call tries again');
          apologies.delete(key);
          return false;
        },
      );
      apologies.set(key, ready);
    }
    return { text, language };
  };
  const fallbacks = { stt: deps.config.engines.stt.fallback, tts: deps.config.engines.tts.fallback };
  const renderPhrase = async (text: string, language: string, signal?: AbortSignal): Promise<Int16Array> => {
    const voice = withFallbacks(sessionEngines(deps.engines, language, cache), deps.engines, fallbacks, language, breakers, {}).tts;
    const chunks: Uint8Array[] = [];
    for await (const chunk of cache.get(voice, { text, language, signal }, { encoding: 'pcm16', sampleRate: PIPELINE_RATE })) chunks.push(chunk);
    return decodeSlinLe(Buffer.concat(chunks));
  };
  const create: CallFactory = async ({ io, meta, logger }) => {
    const flow = (await deps.flows()).get(meta.flow);
    const usage = new CallUsage();
    // The call itself is readable in texts and prompts ({caller_id}, {transport}, {call_id}, {call_date}, {call_time}).
    const context = { callerId: meta.callerId, transport: meta.transport, callId: io.id, startedAt: new Date() };
    const dialog = createDialogRuntime(flow, { language: meta.language, classifier: createFlowClassifier(flow), llm: deps.llm ? meteredLlm(deps.llm, usage) : undefined, context });
    // The engines are only used by the session, so it exists by the time one falls back.
    const current: { session?: CallSession } = {};
    const onFallback = (i: FallbackInfo): void => {
      logger.warn({ stage: i.kind, from: i.from, to: i.to, reason: i.reason }, 'engine failed; the next one of the chain takes over');
      current.session?.report({ type: 'fallback', stage: i.kind, from: i.from, to: i.to, reason: i.reason });
    };
    const dialogEngines = (): SessionEngines => {
      const base = sessionEngines(deps.engines, meta.language, cache, deps.config.preprocess.denoise);
      const chosen = withFallbacks(base, deps.engines, fallbacks, meta.language, breakers, { onFallback }, usage);
      // Rendered by the same chain (same cache key) but not billed to, nor reported in, the call that happens to come first.
      const apology = prepareApology(chosen.tts.name, () => withFallbacks(base, deps.engines, fallbacks, meta.language, breakers, {}).tts, meta.language, logger);
      return apology ? { ...chosen, apology } : chosen;
    };
    // A realtime call needs no local recogniser nor voice (the model hears and speaks), so none is asked for.
    const realtime = flow.definition.mode === 'realtime';
    const engines = realtime ? undefined : dialogEngines();
    const observations: CallObservation[] = [];
    let callIo = io;
    for (const observer of deps.observers ?? []) {
      try {
        const o = observer.open(io.id, meta, callIo, logger);
        if (!o) continue;
        observations.push(o);
        if (o.io) callIo = o.io;
      } catch (err) {
        logger.error({ err }, 'a call observer failed to open; the call goes on without it');
      }
    }
    const options = deps.session ?? callSessionOptions(deps.config);
    // A `mode: realtime` flow is talked through by the Realtime model; the dialog above stays unused.
    const session = (current.session = !engines
      ? createRealtimeSession({ io: callIo, language: meta.language, logger, realtime: realtimeSettingsFor(flow, deps.config.engines.realtime, meta.language), engines: { resampler: deps.engines.resampler, denoiser: deps.config.preprocess.denoise ? deps.engines.denoiser : undefined }, usage, maxCallMs: options.maxCallMs })
      : createCallSession({ io: callIo, dialog, engines, language: meta.language, logger, options }));
    for (const o of observations) if (o.onEvent) session.on('event', o.onEvent.bind(o));
    return observed(session, observations, logger, (summary) => account(summary, usage, deps.config.pricing, deps.metrics));
  };
  create.renderPhrase = renderPhrase;
  return create;
}

/** The call's usage (and cost, priced with the table when enabled) into its summary and the metrics. */
function account(summary: CallSummary, usage: CallUsage, pricing: Config['pricing'], metrics: Metrics | undefined): void {
  summary.usage = usage.snapshot();
  if (pricing.enabled) summary.cost = costOf(summary.usage, pricing);
  if (!metrics) return;
  for (const u of summary.usage) {
    metrics.engineRequests.inc({ kind: u.kind, engine: u.engine }, u.requests);
    if (u.audioSeconds > 0) metrics.audioSeconds.inc({ kind: u.kind, engine: u.engine }, u.audioSeconds);
    if (u.characters > 0) metrics.engineCharacters.inc({ kind: u.kind, engine: u.engine }, u.characters);
    if (u.promptTokens > 0) metrics.engineTokens.inc({ engine: u.engine, type: 'prompt' }, u.promptTokens);
    if (u.completionTokens > 0) metrics.engineTokens.inc({ engine: u.engine, type: 'completion' }, u.completionTokens);
  }
  if (summary.cost && summary.cost.total > 0) metrics.callCost.inc({ currency: summary.cost.currency }, summary.cost.total);
}

/** The session, with its summary completed and the observers told of its end once run() has settled. */
function observed(session: CallSession, observations: CallObservation[], logger: Logger, complete: (summary: CallSummary) => void): CallSession {
  let finished: Promise<void> | undefined;
  const finish = (summary: CallSummary | undefined): Promise<void> =>
    (finished ??= Promise.all(
      observations.map(async (o) => {
        try {
          await o.finish?.(summary);
        } catch (err) {
          logger.error({ err }, 'a call observer failed at the end of the call');
        }
      }),
    ).then(() => undefined));
  return {
    id: session.id,
    async run() {
      const summary = await session.run();
      try {
        complete(summary);
      } catch (err) {
        logger.error({ err }, 'could not account for the call\'s usage');
      }
      await finish(summary);
      return summary;
    },
    end: (reason, detail) => session.end(reason, detail),
    report: (event) => session.report(event),
    on: (event, listener) => session.on(event, listener),
    off: (event, listener) => session.off(event, listener),
  };
}
