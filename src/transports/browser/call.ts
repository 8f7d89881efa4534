/**
 * The real call behind a browser session: the flow's dialog with its intent
 * chain, and the server's loaded engines (VAD, STT, a TTS that
 * speaks the session's language, a phrase cache shared by browser calls).
 */
import { createCallSession, type CallSessionOptions, type SessionEngines } from '../../call/session.js';
import { type Config, callSessionOptions } from '../../config.js';
import { createFlowClassifier } from '../../dialog/classifier.js';
import type { DialogLlm } from '../../dialog/llm.js';
import type { FlowRegistry } from '../../dialog/loader.js';
import { createDialogRuntime } from '../../dialog/runtime.js';
import { pickEngine, type Engines } from '../../engines/registry.js';
import type { Stt } from '../../engines/stt/types.js';
import { PhraseCache } from '../../engines/tts/phrase-cache.js';
import type { Tts } from '../../engines/tts/types.js';
import { PalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CallFactory, CallHandle } from './sessions.js';

export interface BrowserCallDeps {
  config: Config;
  engines: Engines;
  logger: Logger;
  flows: () => Promise<FlowRegistry>;
  /** Passed to every call session. */
  session?: CallSessionOptions;
  /** Writes the replies of `llm` states; flows that need one do not load without it. */
  llm?: DialogLlm;
}

/** The configured TTS when it speaks `language`, else the first loaded one that does. */
export function ttsFor(engines: Engines, language: string): Tts {
  const primary = language.split('-')[0];
  const speaks = (t: Tts): boolean => t.languages.some((l) => l === language || l.split('-')[0] === primary);
  const preferred = engines.tts.get(engines.defaultTts);
  if (preferred && speaks(preferred)) return preferred;
  for (const t of engines.tts.values()) if (speaks(t)) return t;
  const loaded = [...engines.tts.entries()].map(([name, t]) => `${name} (${t.languages.join(', ')})`);
  throw new PalabreError('engine_unavailable', `no loaded text-to-speech engine speaks "${language}"; loaded: ${loaded.join('; ') || 'none'}`);
}

/** The configured STT when it understands `language`, else the first loaded one that does. */
export function sttFor(engines: Engines, language: string): Stt {
  const primary = language.split('-')[0];
  // An engine listing no language (a multilingual model) is taken at its word for any.
  const understands = (s: Stt): boolean => s.languages.length === 0 || s.languages.some((l) => l === language || l.split('-')[0] === primary);
  const preferred = pickEngine(engines.stt, engines.statuses, 'stt', engines.defaultStt);
  if (understands(preferred)) return preferred;
  for (const s of engines.stt.values()) if (understands(s)) return s;
  const loaded = [...engines.stt.entries()].map(([name, s]) => `${name} (${s.languages.join(', ')})`);
  throw new PalabreError('engine_unavailable', `no loaded speech-to-text engine understands "${language}"; loaded: ${loaded.join('; ')}. Configure sherpa with a model for that language`);
}

/** Throws a 503 naming what is missing when the engines cannot carry a call in `language`. */
export function checkCallEngines(engines: Engines, language: string): void {
  sessionEngines(engines, language, undefined as unknown as PhraseCache);
}

/** The engines a call needs, or a 503 naming what is missing. */
export function sessionEngines(engines: Engines, language: string, cache: PhraseCache, denoise = false): SessionEngines {
  if (!engines.vad) {
    const status = engines.statuses.find((s) => s.kind === 'vad');
    throw new PalabreError('engine_unavailable', `a call needs a voice activity detector and none is loaded${status?.reason ? `: ${status.reason}` : ''}`);
  }
  return { vad: engines.vad, stt: sttFor(engines, language), tts: ttsFor(engines, language), cache, denoiser: denoise ? engines.denoiser : undefined, resampler: engines.resampler };
}

export function createBrowserCallFactory(deps: BrowserCallDeps): CallFactory {
  const cache = new PhraseCache({ maxEntries: deps.config.engines.tts.cacheEntries, maxBytes: deps.config.engines.tts.cacheBytes, resampler: deps.engines.resampler, resampleQuality: deps.config.audio.resampleQuality });
  return async ({ io, flow: flowId, language, logger }): Promise<CallHandle> => {
    const flow = (await deps.flows()).get(flowId);
    // The flow's intent chain is built once per flow and shared by its calls.
    const dialog = createDialogRuntime(flow, { language, classifier: createFlowClassifier(flow), llm: deps.llm });
    // As in `simulate`: the noise suppressor runs when preprocessing asks for it (the page's own is on too).
    const engines = sessionEngines(deps.engines, language, cache, deps.config.preprocess.denoise);
    return createCallSession({ io, dialog, engines, language, logger, options: deps.session ?? callSessionOptions(deps.config) });
  };
}
