/**
 * Loads the engines named in the configuration once per process. An engine
 * that cannot load is recorded with the reason instead of failing start-up,
 * so /health and `palabre doctor` can say what is missing and the rest works.
 */
import { loadResampler, type ResamplerFactory } from '../audio/resample.js';
import type { Config } from '../config.js';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { createDenoiseStats, createDenoiser } from './denoise/index.js';
import type { DenoiseStats, Denoiser } from './denoise/types.js';
import { STT_ENGINE_NAMES, createStt } from './stt/index.js';
import type { Stt } from './stt/types.js';
import { TTS_ENGINES, createTts } from './tts/index.js';
import type { Tts } from './tts/types.js';
import type { EngineKind, EngineStatus } from './types.js';
import { createVad } from './vad/index.js';
import type { Vad } from './vad/types.js';


export interface Engines {
  resampler: ResamplerFactory;
  vad?: Vad;
  denoiser?: Denoiser;
  /** Frame-level counters of the fail-safe denoiser (errors, fallbacks, time). */
  denoiseStats: DenoiseStats;
  tts: Map<string, Tts>;
  stt: Map<string, Stt>;
  statuses: EngineStatus[];
  defaultTts: string;
  defaultStt: string;
  close(): Promise<void>;
}

export interface LoadEnginesOptions {
  /** Kinds to load; the CLI loads only what a command needs. Default: all. */
  kinds?: readonly EngineKind[];
  /** Load every known STT engine instead of only the configured one (doctor). */
  allStt?: boolean;
  /** Load only these TTS engines (a CLI command that needs one); default: all. */
  ttsEngines?: readonly string[];
  /** Also load these STT engines besides the configured one (a CLI `--engine` flag). */
  sttEngines?: readonly string[];
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function loadEngines(config: Config, logger: Logger, options: LoadEnginesOptions = {}): Promise<Engines> {
  const kinds = new Set(options.kinds ?? (['vad', 'denoise', 'tts', 'stt'] as const));
  const statuses: EngineStatus[] = [];
  const resampler = await loadResampler();
  const e = config.engines;
  const denoiseStats = createDenoiseStats();

  async function attempt<T>(kind: EngineKind, name: string, load: () => Promise<T | null | undefined>, info?: (engine: T) => Record<string, unknown>): Promise<T | undefined> {
    const started = performance.now();
    try {
      const engine = await load();
      if (engine == null) {
        statuses.push({ kind, name, loaded: false, reason: 'disabled in configuration' });
        return undefined;
      }
      statuses.push({ kind, name, loaded: true, info: { loadMs: Math.round(performance.now() - started), ...info?.(engine) } });
      return engine;
    } catch (err) {
      logger.warn({ kind, engine: name, err: reasonOf(err) }, 'engine did not load');
      statuses.push({ kind, name, loaded: false, reason: reasonOf(err) });
      return undefined;
    }
  }

  const vad = kinds.has('vad') ? await attempt('vad', e.vad.engine, () => createVad(e.vad.engine, { mode: e.vad.webrtcMode, batch: e.vad.batch, batchWaitMs: e.vad.batchWaitMs, worker: e.vad.worker, workerNice: e.vad.workerNice })) : undefined;
  const denoiser = kinds.has('denoise')
    ? await attempt('denoise', e.denoise.engine, () => createDenoiser(e.denoise.engine, { logger, stats: denoiseStats, failsafe: e.denoise.failsafe, quality: config.audio.resampleQuality }), (d) => ({ delayMs: d.delayMs }))
    : undefined;

  const tts = new Map<string, Tts>();
  if (kinds.has('tts')) {
    for (const name of TTS_ENGINES) {
      if (options.ttsEngines && !options.ttsEngines.includes(name)) continue;
      const ttsOptions = { voices: e.tts.voices, language: e.tts.language, logger: logger.child({ module: `tts-${name}` }) };
      const el = e.tts.elevenlabs;
      if (name === 'elevenlabs' && !el.apiKey) {
        statuses.push({ kind: 'tts', name, loaded: false, reason: 'not configured (set PALABRE_ENGINES_TTS_ELEVENLABS_API_KEY and PALABRE_ENGINES_TTS_ELEVENLABS_VOICE_ID)' });
        continue;
      }
      if (name === 'openai' && e.tts.engine !== 'openai' && !e.tts.fallback.includes('openai') && !options.ttsEngines?.includes('openai')) {
        statuses.push({ kind: 'tts', name, loaded: false, reason: 'not configured (set PALABRE_ENGINES_TTS_ENGINE=openai and the engines.openai settings)' });
        continue;
      }
      const load = (): Promise<Tts> => {
        if (name === 'espeak') return createTts('espeak', ttsOptions);
        if (name === 'openai') return createTts('openai', { config: e.openai, language: e.tts.language, resampler });
        if (name === 'elevenlabs') return createTts('elevenlabs', { ...el, apiKey: el.apiKey ?? '', logger: ttsOptions.logger });
        return createTts('flite', { logger: ttsOptions.logger });
      };
      const engine = await attempt('tts', name, load, (t) => ({ sampleRate: t.sampleRate, voices: t.voices().length, languages: t.languages }));
      if (engine) tts.set(name, engine);
    }
  }

  const stt = new Map<string, Stt>();
  if (kinds.has('stt')) {
    for (const name of STT_ENGINE_NAMES) {
      const wanted = name === e.stt.engine || e.stt.fallback.includes(name) || options.allStt || options.sttEngines?.includes(name) || (name === 'sherpa' && e.stt.sherpa.model !== '') || (name === 'deepgram' && !!e.stt.deepgram.apiKey);
      if (name === 'deepgram' && !e.stt.deepgram.apiKey) {
        statuses.push({ kind: 'stt', name, loaded: false, reason: 'not configured (set PALABRE_ENGINES_STT_DEEPGRAM_API_KEY)' });
        continue;
      }
      if (!wanted) {
        statuses.push({ kind: 'stt', name, loaded: false, reason: `not configured (set PALABRE_ENGINES_STT_ENGINE=${name})` });
        continue;
      }
      const engine = await attempt(
        'stt',
        name,
        () =>
          createStt(name, {
            pocketsphinx: e.stt.pocketsphinx,
            sherpa: { ...e.stt.sherpa, modelsDir: config.models.dir },
            openai: { config: e.openai, language: e.stt.language },
            deepgram: e.stt.deepgram,
            logger: logger.child({ module: `stt-${name}` }),
          }),
        (s) => ({ languages: s.languages, streaming: s.streaming }),
      );
      if (engine) stt.set(name, engine);
    }
  }

  return {
    resampler,
    vad,
    denoiser,
    denoiseStats,
    tts,
    stt,
    statuses,
    defaultTts: e.tts.engine,
    defaultStt: e.stt.engine,
    async close() {
      await Promise.allSettled([vad?.close(), ...[...tts.values()].map((t) => t.close()), ...[...stt.values()].map((s) => s.close())]);
    },
  };
}

/** The named engine, or the default one; a clear 503 naming why when it is not loaded. */
export function pickEngine<T>(map: Map<string, T>, statuses: EngineStatus[], kind: EngineKind, name: string): T {
  const engine = map.get(name);
  if (engine) return engine;
  const status = statuses.find((s) => s.kind === kind && s.name === name);
  const known = statuses.filter((s) => s.kind === kind).map((s) => s.name);
  if (!status) throw new PalabreError('bad_request', `unknown ${kind} engine "${name}"; known engines: ${known.join(', ')}`);
  throw new PalabreError('engine_unavailable', `${kind} engine "${name}" is not available: ${status.reason ?? 'not loaded'}`);
}
