/**
 * Text-to-speech over an OpenAI-compatible `POST {baseUrl}/audio/speech`
 * (OpenAI, Kokoro-FastAPI, speaches…), asking for `pcm` — 16-bit mono
 * little-endian at 24 kHz, no header — and handing the audio on as it
 * arrives, so the first words play while the server is still speaking the
 * rest. Resampled when the engine is declared at another rate. The voice
 * comes from the request or from the voice configured for its language, the
 * speed from the speaking style.
 */
import type { AudioChunk } from '../../audio/frame.js';
import { loadResampler, type Resampler, type ResamplerFactory } from '../../audio/resample.js';
import { decodeSlinLe } from '../../audio/slin.js';
import { PalabreError } from '../../errors.js';
import { createOpenAiClient, type OpenAiClient, type OpenAiServerOptions } from '../openai/client.js';
import type { TtsQuirks } from '../openai/presets.js';
import { openAiUseSettings, type OpenAiConfig } from '../openai/settings.js';
import { prosodyFor } from './styles.js';
import { checkText, DEFAULT_MAX_TEXT_CHARS, splitSentences } from './text.js';
import type { TtsOptions, TtsVoice, VoiceResolvingTts } from './types.js';

export interface OpenAiTtsOptions {
  server: OpenAiServerOptions;
  model: string;
  quirks: TtsQuirks;
  /** Voice per language, over the preset's. */
  voices?: Readonly<Record<string, string>>;
  /** Language of requests that name none. */
  language?: string;
  /** Rate of the chunks synthesize() yields; default the server's PCM rate (24 kHz). */
  sampleRate?: number;
  /** Needed when `sampleRate` differs from the server's; default: loaded on creation. */
  resampler?: ResamplerFactory;
}

/** OpenAI's `input` limit (openai-openapi CreateSpeechRequest: maxLength 4096); longer text goes in several requests. */
const MAX_INPUT_CHARS = 4096;

const primary = (language: string) => language.toLowerCase().split(/[-_]/u)[0];

/** Sentences packed into requests of at most `max` characters (a sentence longer than that is cut at spaces). */
export function packSentences(text: string, max: number): string[] {
  const parts: string[] = [];
  let current = '';
  const push = (piece: string) => {
    if (current === '') current = piece;
    else if (current.length + 1 + piece.length <= max) current += ` ${piece}`;
    else {
      parts.push(current);
      current = piece;
    }
  };
  for (const sentence of splitSentences(text)) {
    if (sentence.length <= max) {
      push(sentence);
      continue;
    }
    let rest = sentence;
    while (rest.length > max) {
      const cut = rest.lastIndexOf(' ', max) > 0 ? rest.lastIndexOf(' ', max) : max;
      push(rest.slice(0, cut));
      rest = rest.slice(cut).trim();
    }
    if (rest) push(rest);
  }
  if (current) parts.push(current);
  return parts;
}

export class OpenAiTts implements VoiceResolvingTts {
  readonly name = 'openai';
  readonly sampleRate: number;
  readonly languages: readonly string[];
  readonly model: string;
  private readonly client: OpenAiClient;
  private readonly voiceByLanguage: Readonly<Record<string, string>>;
  private readonly language?: string;

  constructor(
    private readonly options: OpenAiTtsOptions,
    private readonly resampler: ResamplerFactory | undefined,
  ) {
    this.client = createOpenAiClient(options.server);
    this.model = options.model;
    this.sampleRate = options.sampleRate ?? options.quirks.pcmRate;
    const voices: Record<string, string> = { ...options.quirks.voices };
    for (const [language, voice] of Object.entries(options.voices ?? {})) voices[language.toLowerCase()] = voice;
    this.voiceByLanguage = voices;
    this.languages = Object.keys(voices);
    this.language = options.language;
  }

  voices(): readonly TtsVoice[] {
    return Object.entries(this.voiceByLanguage).map(([language, id]) => ({ id, language }));
  }

  resolveVoice(options: TtsOptions = {}): string {
    if (options.voice !== undefined) {
      if (options.voice.trim() === '') throw new PalabreError('bad_request', 'openai text-to-speech: the voice is empty');
      // The server knows its voices (and Kokoro mixes them, "af_bella(2)+af_sky"): it judges the name.
      return options.voice.trim();
    }
    const language = options.language ?? this.language;
    if (language === undefined) throw new PalabreError('bad_request', 'openai text-to-speech: name a voice or a language');
    const voice = this.voiceByLanguage[language.toLowerCase()] ?? this.voiceByLanguage[primary(language)];
    if (voice === undefined) {
      throw new PalabreError('bad_request', `openai text-to-speech has no voice for "${language}"; voices are set for ${this.languages.join(', ') || 'no language'}: add one to engines.openai.tts.voices (PALABRE_ENGINES_OPENAI_TTS_VOICES=${primary(language)}=<voice>)`, {
        details: { language },
      });
    }
    return voice;
  }

  async *synthesize(text: string, options: TtsOptions = {}): AsyncGenerator<AudioChunk, void, undefined> {
    const clean = checkText(text, 'openai', DEFAULT_MAX_TEXT_CHARS);
    const voice = this.resolveVoice(options);
    const [low, high] = this.options.quirks.speed;
    const speed = Math.min(high, Math.max(low, prosodyFor(options.style).rate));
    const resampler = this.sampleRate === this.options.quirks.pcmRate ? undefined : this.resampler!.create(this.options.quirks.pcmRate, this.sampleRate);
    try {
      for (const input of packSentences(clean, MAX_INPUT_CHARS)) yield* this.request(input, voice, speed, resampler, options.signal);
      const tail = resampler?.flush();
      if (tail && tail.length > 0) yield { samples: tail, sampleRate: this.sampleRate };
    } finally {
      resampler?.close();
    }
  }

  private async *request(input: string, voice: string, speed: number, resampler: Resampler | undefined, signal: AbortSignal | undefined): AsyncGenerator<AudioChunk> {
    const { quirks, model } = this.options;
    const body: Record<string, unknown> = { model, input, voice, response_format: 'pcm', ...quirks.extraBody };
    if (speed !== 1) body.speed = speed;
    const url = this.client.url('audio/speech');
    const what = `text-to-speech model ${model} at ${url}`;
    const reply = await this.client.open('audio/speech', { json: body, what, accept: 'audio/pcm, application/octet-stream', signal });
    const pcmRate = quirks.pcmRate;
    let bytes = 0;
    let carry: number | undefined;
    try {
      const type = reply.headers.get('content-type') ?? '';
      if (/json|text\/|audio\/(mpeg|mp3|wav|x-wav|ogg|opus|aac|flac)/i.test(type)) {
        throw new PalabreError('engine_failed', `${what} answered ${type} instead of raw PCM audio (response_format pcm)`, { details: { url, contentType: type } });
      }
      reply.progress = 'after 0 ms of audio';
      for await (const chunk of reply.chunks()) {
        // A 16-bit sample may straddle two network chunks.
        let view = chunk;
        if (carry !== undefined) {
          view = new Uint8Array(chunk.length + 1);
          view[0] = carry;
          view.set(chunk, 1);
          carry = undefined;
        }
        if (view.length % 2 === 1) {
          carry = view[view.length - 1];
          view = view.subarray(0, view.length - 1);
        }
        if (view.length === 0) continue;
        bytes += view.length;
        reply.progress = `after ${Math.round((bytes / 2 / pcmRate) * 1000)} ms of audio`;
        const samples = decodeSlinLe(view);
        const out = resampler ? resampler.process(samples) : samples;
        if (out.length > 0) yield { samples: out, sampleRate: this.sampleRate };
      }
      if (carry !== undefined) throw new PalabreError('engine_failed', `${what} ended its audio in the middle of a 16-bit sample (${bytes + 1} bytes)`, { details: { url } });
      if (bytes === 0) throw new PalabreError('engine_failed', `${what} answered no audio for ${JSON.stringify(input.slice(0, 60))}`, { details: { url } });
    } finally {
      reply.close();
    }
  }

  async close(): Promise<void> {
    // Nothing held between requests.
  }
}

export async function createOpenAiTts(options: OpenAiTtsOptions): Promise<OpenAiTts> {
  const rate = options.sampleRate ?? options.quirks.pcmRate;
  const resampler = rate === options.quirks.pcmRate ? undefined : (options.resampler ?? (await loadResampler()));
  return new OpenAiTts(options, resampler);
}

export interface OpenAiTtsConfigOptions {
  /** The `engines.openai` section. */
  config?: OpenAiConfig;
  /** Language of requests that name none (config `engines.tts.language`). */
  language?: string;
  resampler?: ResamplerFactory;
}

/** The engine `engines.openai` (its `tts` use) describes, or engine_unavailable saying what to set. */
export function createOpenAiTtsFromConfig(options: OpenAiTtsConfigOptions): Promise<OpenAiTts> {
  if (!options.config) throw new PalabreError('engine_unavailable', 'the openai text-to-speech engine needs the engines.openai settings');
  const config = options.config;
  const settings = openAiUseSettings(config, 'tts');
  return createOpenAiTts({
    server: settings.server,
    model: settings.model,
    quirks: settings.preset.tts!,
    voices: config.tts.voices,
    language: options.language,
    sampleRate: config.tts.sampleRate,
    resampler: options.resampler,
  });
}
