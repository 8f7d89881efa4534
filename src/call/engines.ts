/** Which loaded engines a call in a given language uses, or a 503 naming what is missing. */
import { pickEngine, type Engines } from '../engines/registry.js';
import type { Stt } from '../engines/stt/types.js';
import type { PhraseCache } from '../engines/tts/phrase-cache.js';
import type { Tts } from '../engines/tts/types.js';
import { PalabreError } from '../errors.js';
import { type Breakers, type ChainHooks, FallbackStt, FallbackTts } from '../engines/fallback.js';
import { type CallUsage, meteredStt, meteredTts } from '../engines/usage.js';
import type { SessionEngines } from './session.js';

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

/**
 * The call's recogniser and voice, each backed by the configured fallbacks
 * that serve `language` (`engines.stt.fallback`, `engines.tts.fallback`); the
 * engines themselves unchanged when no fallback applies.
 */
export function withFallbacks(
  chosen: SessionEngines,
  engines: Engines,
  fallbacks: { stt: readonly string[]; tts: readonly string[] },
  language: string,
  breakers: Breakers,
  hooks: ChainHooks,
  /** Counts what the call uses of each engine of the chains. */
  usage?: CallUsage,
): SessionEngines {
  const primary = language.split('-')[0];
  const fits = (languages: readonly string[]): boolean => languages.length === 0 || languages.some((l) => l === language || l.split('-')[0] === primary);
  const sttChain = [chosen.stt, ...fallbacks.stt.map((n) => engines.stt.get(n)).filter((s): s is Stt => s !== undefined && s !== chosen.stt && s.sampleRate === chosen.stt.sampleRate && fits(s.languages))];
  const ttsChain = [chosen.tts, ...fallbacks.tts.map((n) => engines.tts.get(n)).filter((t): t is Tts => t !== undefined && t !== chosen.tts && fits(t.languages))];
  const stts = usage ? sttChain.map((s) => meteredStt(s, usage)) : sttChain;
  const ttss = usage ? ttsChain.map((t) => meteredTts(t, usage)) : ttsChain;
  return {
    ...chosen,
    stt: stts.length > 1 ? new FallbackStt(stts, breakers, hooks) : stts[0],
    tts: ttss.length > 1 ? new FallbackTts(ttss, breakers, engines.resampler, hooks) : ttss[0],
  };
}
