/**
 * One way to build a call for every transport (AudioSocket, ARI/RTP, Twilio,
 * browser): the flow's dialog with its intent chain, the server's engines,
 * one phrase cache shared by the calls of this factory, and the observers
 * that keep what a call produces (the store, the recorder).
 */
import { createCallSession, type CallSession, type CallSessionOptions } from './session.js';
import { type Config, callSessionOptions } from '../config.js';
import { createFlowClassifier } from '../dialog/classifier.js';
import type { DialogLlm } from '../dialog/llm.js';
import type { FlowRegistry } from '../dialog/loader.js';
import { createDialogRuntime } from '../dialog/runtime.js';
import type { Engines } from '../engines/registry.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import type { Tts } from '../engines/tts/types.js';
import { PIPELINE_RATE } from '../audio/frame.js';
import type { Logger } from '../log.js';
import { Breakers, type FallbackInfo } from '../engines/fallback.js';
import { sessionEngines, withFallbacks } from './engines.js';
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
}

export interface CallFactoryArgs {
  io: CallIO;
  meta: CallMeta;
  logger: Logger;
}

export type CallFactory = (args: CallFactoryArgs) => Promise<CallSession>;

export function createCallFactory(deps: CallFactoryDeps): CallFactory {
  // Greetings and prompts repeat from call to call: one cache for all of them.
  const cache = new PhraseCache({ maxEntries: deps.config.engines.tts.cacheEntries, maxBytes: deps.config.engines.tts.cacheBytes, resampler: deps.engines.resampler, resampleQuality: deps.config.audio.resampleQuality });
  // Shared by every call: an engine that keeps failing is skipped by all of them for a while.
  const breakers = new Breakers(deps.config.engines.breaker);
  const apologies = new Map<string, Promise<boolean>>();
  /** Renders the apology of `language` with `tts` into the cache once (in the background: no call waits for it). */
  const prepareApology = (tts: Tts, language: string, logger: Logger): { text: string; language: string } | undefined => {
    const text = deps.config.call.apology[language] ?? deps.config.call.apology[language.split('-')[0]];
    if (!text) return undefined;
    const key = `${tts.name}|${language}`;
    if (!apologies.has(key)) {
      const ready = cache.preload(tts, [{ text, language }], { encoding: 'pcm16', sampleRate: PIPELINE_RATE }).then(
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
  return async ({ io, meta, logger }) => {
    const flow = (await deps.flows()).get(meta.flow);
    const dialog = createDialogRuntime(flow, { language: meta.language, classifier: createFlowClassifier(flow), llm: deps.llm });
    // The engines are only used by the session, so it exists by the time one falls back.
    const current: { session?: CallSession } = {};
    const onFallback = (i: FallbackInfo): void => {
      logger.warn({ stage: i.kind, from: i.from, to: i.to, reason: i.reason }, 'engine failed; the next one of the chain takes over');
      current.session?.report({ type: 'fallback', stage: i.kind, from: i.from, to: i.to, reason: i.reason });
    };
    const fallbacks = { stt: deps.config.engines.stt.fallback, tts: deps.config.engines.tts.fallback };
    const chosen = withFallbacks(sessionEngines(deps.engines, meta.language, cache, deps.config.preprocess.denoise), deps.engines, fallbacks, meta.language, breakers, { onFallback });
    const apology = prepareApology(chosen.tts, meta.language, logger);
    const engines = apology ? { ...chosen, apology } : chosen;
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
    const session = (current.session = createCallSession({ io: callIo, dialog, engines, language: meta.language, logger, options: deps.session ?? callSessionOptions(deps.config) }));
    for (const o of observations) if (o.onEvent) session.on('event', o.onEvent.bind(o));
    return observations.length === 0 ? session : observed(session, observations, logger);
  };
}

/** The session, with the observers told of its end once run() has settled. */
function observed(session: CallSession, observations: CallObservation[], logger: Logger): CallSession {
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
      await finish(summary);
      return summary;
    },
    end: (reason, detail) => session.end(reason, detail),
    report: (event) => session.report(event),
    on: (event, listener) => session.on(event, listener),
    off: (event, listener) => session.off(event, listener),
  };
}
