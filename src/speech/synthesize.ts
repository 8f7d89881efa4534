/** One synthesis request, shared by the HTTP route and `palabre say`. */
import { PalabreError } from '../errors.js';
import type { SpeakingStyle } from '../engines/tts/types.js';
import { pickEngine } from '../engines/registry.js';
import { timeEngine } from '../server/metrics.js';
import type { SpeechContext } from './transcribe.js';
import type { PhraseCache } from '../engines/tts/phrase-cache.js';

export const OUTPUT_FORMATS = ['wav', 'pcm', 'ulaw', 'alaw'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface SynthesizeRequest {
  text: string;
  voice?: string;
  language?: string;
  style?: SpeakingStyle;
  format?: OutputFormat;
  /** Default: 8 kHz for G.711, the pipeline's 16 kHz otherwise. */
  sampleRate?: number;
  engine?: string;
  signal?: AbortSignal;
}

export interface SynthesizeResponse {
  bytes: Uint8Array;
  contentType: string;
  sampleRate: number;
  durationSec: number;
  latencySec: number;
  engine: string;
  voice: string;
  cached: boolean;
}

export const MAX_TEXT_CHARS = 5000;

export async function synthesizeText(ctx: SpeechContext & { cache: PhraseCache }, req: SynthesizeRequest): Promise<SynthesizeResponse> {
  const started = performance.now();
  const text = req.text.replace(/\s+/g, ' ').trim();
  if (text === '') throw new PalabreError('bad_request', 'text is empty');
  if (text.length > MAX_TEXT_CHARS) throw new PalabreError('bad_request', `text has ${text.length} characters; at most ${MAX_TEXT_CHARS} are accepted`);
  const format = req.format ?? 'wav';
  const sampleRate = req.sampleRate ?? (format === 'ulaw' || format === 'alaw' ? 8000 : 16000);
  if ((format === 'ulaw' || format === 'alaw') && sampleRate !== 8000) {
    throw new PalabreError('bad_request', `${format} audio is 8000 Hz by definition; got sample_rate ${sampleRate}`);
  }
  const name = req.engine ?? ctx.engines.defaultTts;
  const tts = pickEngine(ctx.engines.tts, ctx.engines.statuses, 'tts', name);
  const language = req.language ?? ctx.config.engines.tts.language;
  const configured = ctx.config.engines.tts.voices[language] ?? ctx.config.engines.tts.voices[language.split('-')[0]];
  // The voices map names voices of one engine (espeak by default); another engine picks its own voice for the language.
  const voice = req.voice ?? (configured !== undefined && tts.voices().some((v) => v.id === configured) ? configured : undefined);
  const out = await timeEngine(ctx.metrics, { kind: 'tts', engine: tts.name, op: 'synthesize' }, () =>
    ctx.cache.render(tts, { text, voice, language, style: req.style, signal: req.signal }, { container: format, sampleRate }),
  );
  ctx.metrics?.audioSeconds.inc({ kind: 'tts', engine: tts.name }, out.durationSec);
  return {
    bytes: out.bytes,
    contentType: out.contentType,
    sampleRate: out.sampleRate,
    durationSec: out.durationSec,
    latencySec: (performance.now() - started) / 1000,
    engine: tts.name,
    voice: out.voice,
    cached: out.cached,
  };
}
