/**
 * ElevenLabs text-to-speech, streamed.
 *
 * Two ways in, for two kinds of text:
 * - synthesize() / synthesizeAs(): the whole text is known (a flow's prompt, one
 *   sentence of an answer). One HTTP `POST /v1/text-to-speech/{voice}/stream`
 *   (`/stream/with-timestamps` when word timings are wanted, the default), audio
 *   yielded as it arrives.
 * - synthesizeTextStream(): the text is still being written (an LLM's reply, one
 *   sentence at a time) and should sound like one utterance. One stream-input
 *   WebSocket; each piece is flushed as it arrives so its audio starts at once.
 *
 * Audio is asked for in the format the caller needs (`ulaw_8000` for a telephone
 * line, so nothing is resampled or re-encoded); synthesize() gets PCM at the
 * engine's `sampleRate`. Speaking styles become voice settings (styles.ts). Word
 * timings from ElevenLabs' character alignment ride on the chunks, so a barge-in can
 * tell which words were heard. Every request is counted (requests, characters,
 * audio, failures) for usage and cost. The API key goes in the `xi-api-key` header
 * and nowhere else: not in logs, not in error messages.
 */
import http from 'node:http';
import https from 'node:https';
import { decodeSlinLe } from '../../audio/slin.js';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { parseHttpAlignment, WordTracker } from './elevenlabs-alignment.js';
import { malformed, type FailureContext } from './elevenlabs-errors.js';
import { postStream } from './elevenlabs-http.js';
import { decodeBase64Audio, streamInput } from './elevenlabs-ws.js';
import { elevenLabsVoiceSettings } from './styles.js';
import { checkText, DEFAULT_MAX_TEXT_CHARS, normaliseText } from './text.js';
import {
  outputFormatInfo,
  TTS_OUTPUT_FORMATS,
  type DirectFormatTts,
  type EncodedTtsChunk,
  type TextStreamTts,
  type TimedAudioChunk,
  type TtsOptions,
  type TtsOutputFormat,
  type TtsVoice,
  type TtsWordTiming,
  type VoiceResolvingTts,
} from './types.js';

export const ELEVENLABS_DEFAULT_BASE_URL = 'https://api.elevenlabs.io';
export const ELEVENLABS_DEFAULT_MODEL = 'eleven_flash_v2_5';

/** Languages of the v2.5 models (flash, turbo), from ElevenLabs' model list. */
const V25_LANGUAGES = ['en', 'ja', 'zh', 'de', 'hi', 'fr', 'ko', 'pt', 'it', 'es', 'id', 'nl', 'tr', 'fil', 'pl', 'sv', 'bg', 'ro', 'ar', 'cs', 'el', 'fi', 'hr', 'ms', 'sk', 'da', 'ta', 'uk', 'ru', 'hu', 'no', 'vi'];
/** Models that speak English only. */
const ENGLISH_ONLY = /^eleven_(flash_v2|turbo_v2|monolingual_v1)$/u;
/** Models that accept `language_code`; others reject or ignore it. */
const TAKES_LANGUAGE_CODE = /_v2_5$/u;

export interface ElevenLabsUsage {
  requests: number;
  /** Characters of text sent (what ElevenLabs bills). */
  characters: number;
  /** Audio received, in ms. */
  audioMs: number;
  /** Requests that failed (not counting cancellations). */
  failures: number;
}

export interface ElevenLabsUsageEvent {
  transport: 'http' | 'websocket';
  characters: number;
  audioMs: number;
  outcome: 'ok' | 'failed' | 'aborted';
}

export interface ElevenLabsOptions {
  apiKey: string;
  /** Default https://api.elevenlabs.io (a regional or local server otherwise). */
  baseUrl?: string;
  /** Voice used when a request names none and its language has none in `voices`. */
  voiceId?: string;
  /** Voice id per language ("fr", "en-GB"…). */
  voices?: Record<string, string>;
  /** Default eleven_flash_v2_5. */
  modelId?: string;
  /** Rate of synthesize()'s PCM; default 16 000. */
  sampleRate?: number;
  /** Ask for character alignment (word timings) on HTTP; default true. */
  withTimestamps?: boolean;
  /** Default 5 000 ms. */
  connectTimeoutMs?: number;
  /** Longest wait for the first audio byte, and on HTTP between chunks; default 5 000 ms. */
  firstByteTimeoutMs?: number;
  /** Longest a whole synthesis may take; default 30 000 ms. */
  timeoutMs?: number;
  /** ElevenLabs' deprecated latency/quality trade-off, 0–4; not sent when unset. */
  optimizeStreamingLatency?: number;
  /** stream-input's generation_config.chunk_length_schedule (each 50–500); ElevenLabs' default when unset. */
  chunkLengthSchedule?: number[];
  /** stream-input: flush after each piece (default true, for sentence pieces) rather than follow the chunk schedule. */
  flushEachPiece?: boolean;
  maxTextChars?: number;
  logger?: Logger;
  /** Called once per request when it ends. */
  onUsage?: (event: ElevenLabsUsageEvent) => void;
}

/** Per-request extras ElevenLabs understands, besides the common options. */
export interface ElevenLabsRequestOptions extends TtsOptions {
  /** Text spoken just before / after this one, for continuity across separate requests. */
  previousText?: string;
  nextText?: string;
  seed?: number;
}

export interface ElevenLabsTts extends VoiceResolvingTts, DirectFormatTts, TextStreamTts {
  readonly modelId: string;
  synthesize(text: string, options?: ElevenLabsRequestOptions): AsyncIterable<TimedAudioChunk>;
  synthesizeAs(text: string, format: TtsOutputFormat, options?: ElevenLabsRequestOptions): AsyncIterable<EncodedTtsChunk>;
  /** Totals since the engine was created. */
  usage(): ElevenLabsUsage;
}

const VOICE_ID = /^[A-Za-z0-9_-]{1,64}$/u;

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new PalabreError('config_invalid', `elevenlabs ${name} must be a positive number of ms, got ${value}`);
  return v;
}

/** Holds back a trailing odd byte so pcm chunks always hold whole samples. */
class SampleAligner {
  private odd: number | undefined;
  constructor(private readonly bytesPerSample: number) {}
  push(bytes: Uint8Array): Uint8Array {
    if (this.bytesPerSample === 1) return bytes;
    let b = bytes;
    if (this.odd !== undefined) {
      const joined = new Uint8Array(b.length + 1);
      joined[0] = this.odd;
      joined.set(b, 1);
      b = joined;
      this.odd = undefined;
    }
    if (b.length % 2 === 1) {
      this.odd = b[b.length - 1];
      b = b.subarray(0, b.length - 1);
    }
    return b;
  }
}

/** Splits a byte stream into lines; the last line may come without its newline. */
class LineSplitter {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  push(bytes: Uint8Array): string[] {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    const lines = this.buffer.split('\n');
    this.buffer = lines.pop() ?? '';
    return lines.filter((l) => l.trim() !== '');
  }
  end(): string[] {
    this.buffer += this.decoder.decode();
    const last = this.buffer.trim();
    this.buffer = '';
    return last === '' ? [] : [last];
  }
}

class ElevenLabs implements ElevenLabsTts {
  readonly name = 'elevenlabs';
  readonly outputFormats: readonly TtsOutputFormat[] = TTS_OUTPUT_FORMATS;
  readonly languages: readonly string[];
  readonly modelId: string;
  readonly sampleRate: number;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly log: Logger;
  private readonly totals: ElevenLabsUsage = { requests: 0, characters: 0, audioMs: 0, failures: 0 };
  private readonly timeouts: { connectTimeoutMs: number; firstByteTimeoutMs: number; timeoutMs: number };
  private readonly voiceMap: Map<string, string>;
  private closed = false;

  constructor(private readonly options: ElevenLabsOptions) {
    if (!options.apiKey) {
      throw new PalabreError('engine_unavailable', 'ElevenLabs needs an API key: set engines.tts.elevenlabs.apiKey (PALABRE_ENGINES_TTS_ELEVENLABS_API_KEY)');
    }
    let base: URL;
    try {
      base = new URL(options.baseUrl ?? ELEVENLABS_DEFAULT_BASE_URL);
    } catch {
      throw new PalabreError('config_invalid', `elevenlabs baseUrl '${options.baseUrl}' is not a URL`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new PalabreError('config_invalid', `elevenlabs baseUrl must be http(s), got '${base.protocol}'`);
    this.base = base;
    this.voiceMap = new Map(Object.entries(options.voices ?? {}).map(([lang, id]) => [lang.toLowerCase(), id]));
    for (const id of [options.voiceId, ...this.voiceMap.values()]) {
      if (id !== undefined && id !== '' && !VOICE_ID.test(id)) throw new PalabreError('config_invalid', `elevenlabs voice id '${id}' is not a voice id (letters, digits, - and _)`);
    }
    if (!options.voiceId && this.voiceMap.size === 0) {
      throw new PalabreError('engine_unavailable', 'ElevenLabs needs a voice: set engines.tts.elevenlabs.voiceId (PALABRE_ENGINES_TTS_ELEVENLABS_VOICE_ID) or per-language voices');
    }
    this.modelId = options.modelId || ELEVENLABS_DEFAULT_MODEL;
    this.languages = ENGLISH_ONLY.test(this.modelId) ? ['en'] : V25_LANGUAGES;
    const rate = options.sampleRate ?? 16_000;
    if (!TTS_OUTPUT_FORMATS.includes(`pcm_${rate}` as TtsOutputFormat)) {
      throw new PalabreError('config_invalid', `elevenlabs sampleRate ${rate} is not one ElevenLabs delivers; use ${TTS_OUTPUT_FORMATS.filter((f) => f.startsWith('pcm_')).map((f) => f.slice(4)).join(', ')}`);
    }
    this.sampleRate = rate;
    this.timeouts = {
      connectTimeoutMs: positive(options.connectTimeoutMs, 5_000, 'connectTimeoutMs'),
      firstByteTimeoutMs: positive(options.firstByteTimeoutMs, 5_000, 'firstByteTimeoutMs'),
      timeoutMs: positive(options.timeoutMs, 30_000, 'timeoutMs'),
    };
    for (const n of options.chunkLengthSchedule ?? []) {
      if (!Number.isInteger(n) || n < 50 || n > 500) throw new PalabreError('config_invalid', `elevenlabs chunkLengthSchedule values must be whole numbers from 50 to 500, got ${n}`);
    }
    // Kept-alive connections save a TCP and TLS handshake on every sentence.
    this.agent = base.protocol === 'https:' ? new https.Agent({ keepAlive: true, maxSockets: 256 }) : new http.Agent({ keepAlive: true, maxSockets: 256 });
    this.log = (options.logger ?? silentLogger).child({ module: 'tts.elevenlabs' });
  }

  voices(): readonly TtsVoice[] {
    const list: TtsVoice[] = [...this.voiceMap.entries()].map(([language, id]) => ({ id, language }));
    if (this.options.voiceId) list.push({ id: this.options.voiceId, language: 'mul', name: 'default voice' });
    return list;
  }

  resolveVoice(options: TtsOptions = {}): string {
    if (options.voice !== undefined) {
      if (!VOICE_ID.test(options.voice)) throw new PalabreError('bad_request', `'${options.voice}' is not an ElevenLabs voice id (letters, digits, - and _)`, { details: { voice: options.voice } });
      return options.voice;
    }
    const lang = options.language?.toLowerCase();
    if (lang !== undefined) {
      const primary = lang.split(/[-_]/u)[0];
      const byLanguage = this.voiceMap.get(lang) ?? this.voiceMap.get(primary);
      if (byLanguage) return byLanguage;
      if (!this.languages.includes(primary)) {
        throw new PalabreError('bad_request', `ElevenLabs model ${this.modelId} does not speak '${options.language}'; it speaks ${this.languages.join(', ')}`, { details: { language: options.language } });
      }
    }
    if (this.options.voiceId) return this.options.voiceId;
    throw new PalabreError('bad_request', `no ElevenLabs voice is configured for language '${options.language ?? '(none)'}'; configured: ${[...this.voiceMap.keys()].join(', ')}`, {
      details: { language: options.language },
    });
  }

  usage(): ElevenLabsUsage {
    return { ...this.totals };
  }

  async *synthesize(text: string, options: ElevenLabsRequestOptions = {}): AsyncGenerator<TimedAudioChunk, void, undefined> {
    for await (const c of this.synthesizeAs(text, `pcm_${this.sampleRate}` as TtsOutputFormat, options)) {
      yield c.words ? { samples: decodeSlinLe(c.bytes), sampleRate: this.sampleRate, words: c.words } : { samples: decodeSlinLe(c.bytes), sampleRate: this.sampleRate };
    }
  }

  async *synthesizeAs(text: string, format: TtsOutputFormat, options: ElevenLabsRequestOptions = {}): AsyncGenerator<EncodedTtsChunk, void, undefined> {
    const clean = checkText(text, 'elevenlabs', this.options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS);
    const request = this.prepare(format, options);
    const withTimestamps = this.options.withTimestamps ?? true;
    const url = new URL(`v1/text-to-speech/${encodeURIComponent(request.voice)}/stream${withTimestamps ? '/with-timestamps' : ''}`, this.baseHref());
    url.searchParams.set('output_format', format);
    if (this.options.optimizeStreamingLatency !== undefined) url.searchParams.set('optimize_streaming_latency', String(this.options.optimizeStreamingLatency));
    const body: Record<string, unknown> = { text: clean, model_id: this.modelId, voice_settings: request.voiceSettings };
    if (request.languageCode) body.language_code = request.languageCode;
    if (options.previousText) body.previous_text = normaliseText(options.previousText);
    if (options.nextText) body.next_text = normaliseText(options.nextText);
    if (options.seed !== undefined) body.seed = options.seed;
    const ctx: FailureContext = { what: `ElevenLabs text-to-speech (voice ${request.voice}, ${this.modelId})`, audioSent: false };
    const info = outputFormatInfo(format);
    const aligner = new SampleAligner(info.bytesPerSample);
    const tracker = new WordTracker(() => clean);
    const meter = this.meter('http', clean.length, info.sampleRate * info.bytesPerSample);
    const lines = new LineSplitter();
    const started = performance.now();
    let firstAt: number | undefined;
    let pending: TtsWordTiming[] = [];

    const stream = postStream({
      url,
      headers: { 'xi-api-key': this.options.apiKey, 'content-type': 'application/json', accept: withTimestamps ? 'application/json' : '*/*' },
      body: JSON.stringify(body),
      agent: this.agent,
      ...this.timeouts,
      signal: options.signal,
      ctx,
    });
    const emit = (audio: Uint8Array, words: TtsWordTiming[]): EncodedTtsChunk | undefined => {
      pending = pending.concat(words);
      const bytes = aligner.push(audio);
      if (bytes.length === 0) return undefined;
      meter.audio(bytes.length);
      const chunk: EncodedTtsChunk = pending.length > 0 ? { bytes, format, words: pending } : { bytes, format };
      pending = [];
      return chunk;
    };
    const line = (text: string): EncodedTtsChunk | undefined => {
      let msg: { audio_base64?: unknown; alignment?: unknown; normalized_alignment?: unknown };
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        throw malformed('a line that is not JSON', ctx, text);
      }
      if (typeof msg !== 'object' || msg === null || typeof msg.audio_base64 !== 'string') throw malformed('a line without audio_base64', ctx, text);
      const audio = decodeBase64Audio(msg.audio_base64);
      if (!audio) throw malformed('audio_base64 that is not base64', ctx, text);
      let words: TtsWordTiming[] = [];
      try {
        const alignment = parseHttpAlignment(msg.alignment ?? msg.normalized_alignment);
        if (alignment) words = tracker.add(alignment);
      } catch (err) {
        throw malformed((err as Error).message, ctx, text);
      }
      return emit(audio, words);
    };

    // Lines are parsed one at a time, so the audio before a malformed line is still played.
    const chunksOf = function* (bytes: Uint8Array | undefined): Generator<EncodedTtsChunk | undefined> {
      if (!withTimestamps) {
        if (bytes) yield emit(bytes, []);
        return;
      }
      for (const l of bytes ? lines.push(bytes) : lines.end()) yield line(l);
    };
    try {
      for await (const bytes of stream) {
        for (const chunk of chunksOf(bytes)) {
          if (!chunk) continue;
          // Chunks read together with the abort are not handed on.
          throwIfAborted(options.signal, ctx.what);
          firstAt ??= performance.now();
          ctx.audioSent = true;
          yield chunk;
        }
      }
      for (const rest of chunksOf(undefined)) {
        if (!rest) continue;
        ctx.audioSent = true;
        yield rest;
      }
      if (!ctx.audioSent) throw malformed('an answer with no audio', ctx, '');
      const tail = tracker.finish();
      if (tail.length > 0 || pending.length > 0) yield { bytes: new Uint8Array(0), format, words: pending.concat(tail) };
      meter.done('ok');
      this.log.debug({ voice: request.voice, chars: clean.length, format, firstAudioMs: firstAt && Math.round(firstAt - started), totalMs: Math.round(performance.now() - started) }, 'elevenlabs synthesis');
    } catch (err) {
      meter.done(err instanceof PalabreError && err.code === 'aborted' ? 'aborted' : 'failed');
      throw err;
    } finally {
      meter.done('aborted');
    }
  }

  async *synthesizeTextStream(pieces: AsyncIterable<string>, options: TtsOptions & { format?: TtsOutputFormat } = {}): AsyncGenerator<EncodedTtsChunk, void, undefined> {
    const format = options.format ?? (`pcm_${this.sampleRate}` as TtsOutputFormat);
    const request = this.prepare(format, options);
    const info = outputFormatInfo(format);
    const bytesPerSecond = info.sampleRate * info.bytesPerSample;
    const url = new URL(`v1/text-to-speech/${encodeURIComponent(request.voice)}/stream-input`, this.baseHref());
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('model_id', this.modelId);
    url.searchParams.set('output_format', format);
    url.searchParams.set('sync_alignment', 'true');
    // The server's own idle limit (20 s by default) must not cut a slow text source short of ours.
    url.searchParams.set('inactivity_timeout', String(Math.min(180, Math.max(20, Math.ceil(this.timeouts.timeoutMs / 1000)))));
    if (request.languageCode) url.searchParams.set('language_code', request.languageCode);
    const init: Record<string, unknown> = { voice_settings: request.voiceSettings };
    if (this.options.chunkLengthSchedule?.length) init.generation_config = { chunk_length_schedule: this.options.chunkLengthSchedule };

    const maxChars = this.options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS;
    let source = '';
    const ctx: FailureContext = { what: `ElevenLabs stream-input (voice ${request.voice}, ${this.modelId})`, audioSent: false };
    const meter = this.meter('websocket', 0, bytesPerSecond);
    const signal = options.signal;
    async function* cleaned(): AsyncGenerator<string, void, undefined> {
      for await (const piece of pieces) {
        throwIfAborted(signal, ctx.what);
        if (typeof piece !== 'string') throw new PalabreError('bad_request', `elevenlabs: each piece of text must be a string, got ${typeof piece}`);
        const text = normaliseText(piece);
        if (text === '') continue;
        const next = source === '' ? text : `${source} ${text}`;
        if (next.length > maxChars) throw new PalabreError('payload_too_large', `elevenlabs: streamed text passed the limit of ${maxChars} characters`, { details: { limit: maxChars } });
        source = next;
        meter.characters(text.length + 1);
        yield text;
      }
    }
    const tracker = new WordTracker(() => source);
    const aligner = new SampleAligner(info.bytesPerSample);
    let receivedBytes = 0;
    let pending: TtsWordTiming[] = [];
    try {
      for await (const msg of streamInput({ url, headers: { 'xi-api-key': this.options.apiKey }, init, pieces: cleaned(), flushEachPiece: this.options.flushEachPiece ?? true, ...this.timeouts, signal, ctx })) {
        // Alignment times count from the start of their own message's audio.
        const offsetMs = (receivedBytes / bytesPerSecond) * 1000;
        receivedBytes += msg.audio.length;
        if (msg.alignment) pending = pending.concat(tracker.add(msg.alignment, offsetMs));
        const bytes = aligner.push(msg.audio);
        if (bytes.length === 0) continue;
        meter.audio(bytes.length);
        const chunk: EncodedTtsChunk = pending.length > 0 ? { bytes, format, words: pending } : { bytes, format };
        pending = [];
        yield chunk;
      }
      if (source !== '' && receivedBytes === 0) throw malformed('a stream that ended with no audio', ctx, '');
      const tail = pending.concat(tracker.finish());
      if (tail.length > 0) yield { bytes: new Uint8Array(0), format, words: tail };
      meter.done('ok');
    } catch (err) {
      meter.done(err instanceof PalabreError && err.code === 'aborted' ? 'aborted' : 'failed');
      throw err;
    } finally {
      meter.done('aborted');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.agent.destroy();
  }

  private baseHref(): string {
    return this.base.href.endsWith('/') ? this.base.href : `${this.base.href}/`;
  }

  private prepare(format: TtsOutputFormat, options: TtsOptions): { voice: string; voiceSettings: ReturnType<typeof elevenLabsVoiceSettings>; languageCode?: string } {
    if (this.closed) throw new PalabreError('engine_unavailable', 'the ElevenLabs engine was closed');
    if (!this.outputFormats.includes(format)) {
      throw new PalabreError('bad_request', `ElevenLabs output format must be one of ${this.outputFormats.join(', ')}, got '${String(format)}'`, { details: { format } });
    }
    const voiceSettings = elevenLabsVoiceSettings(options.style);
    const voice = this.resolveVoice(options);
    throwIfAborted(options.signal, 'elevenlabs synthesis');
    const primary = options.language?.toLowerCase().split(/[-_]/u)[0];
    return { voice, voiceSettings, languageCode: primary && TAKES_LANGUAGE_CODE.test(this.modelId) ? primary : undefined };
  }

  /** Counts one request; done() reports it once, whatever ends it. */
  private meter(transport: ElevenLabsUsageEvent['transport'], characters: number, bytesPerSecond: number) {
    const totals = this.totals;
    const onUsage = this.options.onUsage;
    let chars = characters;
    let bytes = 0;
    let reported = false;
    totals.requests++;
    totals.characters += chars;
    return {
      characters(n: number) {
        chars += n;
        totals.characters += n;
      },
      audio(n: number) {
        bytes += n;
        totals.audioMs += (n / bytesPerSecond) * 1000;
      },
      done(outcome: ElevenLabsUsageEvent['outcome']) {
        if (reported) return;
        reported = true;
        if (outcome === 'failed') totals.failures++;
        onUsage?.({ transport, characters: chars, audioMs: Math.round((bytes / bytesPerSecond) * 1000), outcome });
      },
    };
  }
}

/** Checks the settings (no request is made: a key is proven by the first synthesis or `palabre doctor`). */
export async function createElevenLabsTts(options: ElevenLabsOptions): Promise<ElevenLabsTts> {
  return new ElevenLabs(options);
}
