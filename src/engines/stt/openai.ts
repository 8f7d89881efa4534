/**
 * Speech-to-text over an OpenAI-compatible `POST {baseUrl}/audio/transcriptions`
 * (OpenAI, Groq, speaches/faster-whisper, vLLM…): the turn's audio uploaded
 * as a 16 kHz WAV in a multipart form, with the language, the state's hints
 * as the prompt, and `verbose_json` segments and word times where the preset
 * says the model gives them. Whole utterances only: these endpoints take a
 * file, so there is no live stream.
 */
import { z } from 'zod';
import { assertRate, PIPELINE_RATE, type AudioChunk } from '../../audio/frame.js';
import { encodeWav } from '../../audio/wav.js';
import { PalabreError } from '../../errors.js';
import { createOpenAiClient, type OpenAiClient, type OpenAiServerOptions } from '../openai/client.js';
import { matchesModel, type SttQuirks } from '../openai/presets.js';
import { openAiUseSettings, type OpenAiConfig } from '../openai/settings.js';
import type { Stt, SttOptions, SttResult, SttSegment, SttWord } from './types.js';

export interface OpenAiSttOptions {
  server: OpenAiServerOptions;
  model: string;
  quirks: SttQuirks;
  /** Language assumed when a request names none; default: the server detects it. */
  language?: string;
}

/** Whisper's prompt holds about 224 tokens; hints beyond this many characters are dropped. */
const MAX_PROMPT_CHARS = 800;

const wordSchema = z.object({ word: z.string(), start: z.number(), end: z.number() });
const transcriptionSchema = z.object({
  text: z.string(),
  language: z.string().optional(),
  duration: z.union([z.number(), z.string()]).optional(),
  segments: z
    .array(
      z.object({
        id: z.number().optional(),
        start: z.number(),
        end: z.number(),
        text: z.string(),
        avg_logprob: z.number().optional(),
        words: z.array(wordSchema).nullish(),
      }),
    )
    .nullish(),
  words: z.array(wordSchema).nullish(),
});

/** verbose_json names the language ("english"); the rest of palabre uses codes. */
const LANGUAGE_CODES: Record<string, string> = {
  english: 'en',
  french: 'fr',
  spanish: 'es',
  german: 'de',
  italian: 'it',
  portuguese: 'pt',
  dutch: 'nl',
  arabic: 'ar',
  chinese: 'zh',
  japanese: 'ja',
  russian: 'ru',
  polish: 'pl',
  turkish: 'tr',
};

function languageCode(reported: string | undefined, asked: string | undefined): string {
  if (reported) {
    const lower = reported.toLowerCase();
    if (LANGUAGE_CODES[lower]) return LANGUAGE_CODES[lower];
    if (/^[a-z]{2,3}(-[a-z0-9]+)*$/i.test(reported)) return reported;
  }
  return asked ?? reported ?? 'und';
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function toWords(words: ReadonlyArray<z.infer<typeof wordSchema>>): SttWord[] {
  // Whisper words carry their leading space.
  return words.map((w) => ({ word: w.word.trim(), start: round(w.start), end: round(w.end) })).filter((w) => w.word !== '');
}

export class OpenAiStt implements Stt {
  readonly name = 'openai';
  readonly sampleRate = PIPELINE_RATE;
  /** Multilingual models: any language is taken at its word. */
  readonly languages: readonly string[] = [];
  readonly streaming = false;
  readonly model: string;
  private readonly client: OpenAiClient;

  constructor(private readonly options: OpenAiSttOptions) {
    this.client = createOpenAiClient(options.server);
    this.model = options.model;
  }

  async transcribe(audio: AudioChunk, options: SttOptions = {}): Promise<SttResult> {
    assertRate(audio, this.sampleRate, 'openai speech-to-text');
    const { quirks, model } = this.options;
    const translate = options.task === 'translate';
    const path = translate ? 'audio/translations' : 'audio/transcriptions';
    const language = options.language ?? this.options.language;
    const verbose = matchesModel(quirks.verboseJson, model);
    const form = new FormData();
    form.append('file', new Blob([encodeWav(audio)], { type: 'audio/wav' }), 'audio.wav');
    form.append('model', model);
    if (language && !translate) form.append('language', language.split('-')[0].toLowerCase());
    const hints = (options.hints ?? []).map((h) => h.trim()).filter(Boolean);
    if (hints.length > 0) form.append('prompt', hints.join(', ').slice(0, MAX_PROMPT_CHARS));
    form.append('response_format', verbose ? 'verbose_json' : 'json');
    if (verbose && !translate) {
      // Read by speaches (and OpenAI's own multipart encoding) with the brackets in the name.
      form.append('timestamp_granularities[]', 'segment');
      if (matchesModel(quirks.wordTimestamps, model)) form.append('timestamp_granularities[]', 'word');
    }
    if (options.temperature !== undefined) form.append('temperature', String(options.temperature));

    const url = this.client.url(path);
    const what = `speech-to-text model ${model} at ${url}`;
    const json = await this.client.json(path, { form, what, signal: options.signal });
    const parsed = transcriptionSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new PalabreError('engine_failed', `${what} answered an unexpected shape: ${issue.path.join('.') || 'body'}: ${issue.message}`, { details: { url } });
    }
    const body = parsed.data;
    const audioSeconds = audio.samples.length / audio.sampleRate;
    const duration = body.duration !== undefined && Number.isFinite(Number(body.duration)) ? Number(body.duration) : audioSeconds;
    const text = body.text.trim();
    const words = body.words ? toWords(body.words) : body.segments?.some((s) => s.words) ? toWords(body.segments.flatMap((s) => s.words ?? [])) : undefined;
    const segments: SttSegment[] = body.segments
      ? body.segments.map((s, i) => {
          const segment: SttSegment = { id: s.id ?? i, start: round(s.start), end: round(s.end), text: s.text.trim() };
          if (s.avg_logprob !== undefined) segment.confidence = round(Math.min(1, Math.exp(s.avg_logprob)));
          const inside = words?.filter((w) => w.start >= s.start - 0.01 && w.end <= s.end + 0.01);
          if (inside && inside.length > 0) segment.words = inside;
          return segment;
        })
      : text === ''
        ? []
        : [{ id: 0, start: 0, end: round(duration), text }];
    const result: SttResult = { text, language: languageCode(body.language, language), segments, duration: round(duration), engine: this.name };
    if (words) result.words = words;
    return result;
  }

  async close(): Promise<void> {
    // Nothing held between requests.
  }
}

export function createOpenAiStt(options: OpenAiSttOptions): OpenAiStt {
  return new OpenAiStt(options);
}

export interface OpenAiSttConfigOptions {
  /** The `engines.openai` section. */
  config?: OpenAiConfig;
  /** Language assumed when a request names none (config `engines.stt.language`). */
  language?: string;
}

/** The engine `engines.openai` (its `stt` use) describes, or engine_unavailable saying what to set. */
export function createOpenAiSttFromConfig(options: OpenAiSttConfigOptions): OpenAiStt {
  if (!options.config) throw new PalabreError('engine_unavailable', 'the openai speech-to-text engine needs the engines.openai settings');
  const settings = openAiUseSettings(options.config, 'stt');
  return new OpenAiStt({ server: settings.server, model: settings.model, quirks: settings.preset.stt!, language: options.language });
}
