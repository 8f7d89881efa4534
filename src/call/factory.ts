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
import type { Logger } from '../log.js';
import { sessionEngines } from './engines.js';
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
  return async ({ io, meta, logger }) => {
    const flow = (await deps.flows()).get(meta.flow);
    const dialog = createDialogRuntime(flow, { language: meta.language, classifier: createFlowClassifier(flow), llm: deps.llm });
    const engines = sessionEngines(deps.engines, meta.language, cache, deps.config.preprocess.denoise);
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
    const session = createCallSession({ io: callIo, dialog, engines, language: meta.language, logger, options: deps.session ?? callSessionOptions(deps.config) });
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
    on: (event, listener) => session.on(event, listener),
    off: (event, listener) => session.off(event, listener),
  };
}
