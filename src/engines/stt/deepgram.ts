/**
 * Deepgram speech-to-text: a batch request over the pre-recorded REST API
 * (`POST /v1/listen` with a WAV body) and live streams over the `/v1/listen`
 * WebSocket (deepgram-live.ts). Audio goes out at the engine's rate, 16 kHz
 * linear16 by default or µ-law at 8 kHz for telephone lines; hints become
 * Nova-3 keyterms (keywords on older models). Failures are PalabreErrors that
 * name the engine and say whether a retry may help (deepgram-errors.ts).
 *
 * Usage is counted per engine (requests, audio seconds, errors) and reported
 * to an optional callback after every request or stream.
 */
import { assertRate, type AudioChunk } from '../../audio/frame.js';
import { encodeWav } from '../../audio/wav.js';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { ENGINE, deepgramError, httpError } from './deepgram-errors.js';
import { DeepgramLiveStream } from './deepgram-live.js';
import { post } from './deepgram-rest.js';
import { listenQuery, parseRestResponse, toSegment, toSttWords, WireError, type DeepgramEncoding } from './deepgram-wire.js';
import type { Stt, SttOptions, SttResult, SttStream } from './types.js';

export interface DeepgramOptions {
  /** Sent as `Authorization: Token <key>`; never logged. */
  apiKey: string;
  /** REST base URL; the live socket uses the same host over ws(s). */
  baseUrl: string;
  model: string;
  /** Language asked for when a request names none. */
  language: string;
  /** How live audio is sent: 16-bit PCM, or G.711 µ-law (telephone lines, usually at 8 kHz). */
  encoding: DeepgramEncoding;
  /** Rate of the audio this engine takes (and sends). */
  sampleRate: number;
  /** Silence that ends a segment (`speech_final`); 0 turns Deepgram's endpointing off. */
  endpointingMs: number;
  /** `utterance_end_ms`; 0 leaves UtteranceEnd off. */
  utteranceEndMs: number;
  /** Ask for SpeechStarted events (barge-in). */
  vadEvents: boolean;
  smartFormat: boolean;
  connectTimeoutMs: number;
  /** Longest a REST transcription, or a stream's final after finish(), may take. */
  timeoutMs: number;
  /** KeepAlive interval while no audio is sent (must stay under Deepgram's 10 s). */
  keepAliveMs: number;
  /** Wait for the Finalize answer before asking with CloseStream instead. */
  finalizeWaitMs: number;
  /** Audio held while a live connection opens. */
  maxBufferedMs: number;
  /** Languages advertised to the engine picker; empty means any (Deepgram's models cover many). */
  languages: readonly string[];
  /** Sent as Deepgram's `tag` on every request, to label its usage reports. */
  tags?: readonly string[];
  logger: Logger;
  /** Called after every request or stream with what it used. */
  onUsage?: (usage: DeepgramUsageEvent) => void;
}

export interface DeepgramUsageEvent {
  engine: 'deepgram';
  kind: 'transcribe' | 'stream';
  audioSeconds: number;
  failed: boolean;
}

export interface DeepgramUsage {
  /** REST requests and live connections opened. */
  requests: number;
  /** Audio sent, in seconds (what Deepgram bills). */
  audioSeconds: number;
  errors: number;
}

export const DEEPGRAM_DEFAULTS: Omit<DeepgramOptions, 'apiKey' | 'logger'> = {
  baseUrl: 'https://api.deepgram.com',
  model: 'nova-3',
  language: 'en',
  encoding: 'linear16',
  sampleRate: 16_000,
  endpointingMs: 300,
  utteranceEndMs: 1000,
  vadEvents: true,
  smartFormat: false,
  connectTimeoutMs: 5000,
  timeoutMs: 15_000,
  keepAliveMs: 4000,
  finalizeWaitMs: 1500,
  maxBufferedMs: 10_000,
  languages: [],
};

/** The live socket's URL: the REST base with ws(s) in place of http(s). */
export function liveUrl(baseUrl: string, query: URLSearchParams): URL {
  const url = new URL('/v1/listen', baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : url.protocol === 'http:' ? 'ws:' : url.protocol;
  url.search = query.toString();
  return url;
}

export class DeepgramStt implements Stt {
  readonly name = ENGINE;
  readonly sampleRate: number;
  readonly languages: readonly string[];
  readonly streaming = true;
  private readonly totals: DeepgramUsage = { requests: 0, audioSeconds: 0, errors: 0 };
  private readonly live = new Set<SttStream>();

  constructor(readonly options: DeepgramOptions) {
    this.sampleRate = options.sampleRate;
    this.languages = options.languages;
  }

  /** Requests, audio seconds and errors since the engine was created. */
  usage(): DeepgramUsage {
    return { ...this.totals };
  }

  private count(kind: DeepgramUsageEvent['kind'], audioSeconds: number, failed: boolean): void {
    this.totals.requests++;
    this.totals.audioSeconds += audioSeconds;
    if (failed) this.totals.errors++;
    try {
      this.options.onUsage?.({ engine: ENGINE, kind, audioSeconds, failed });
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'deepgram usage callback failed');
    }
  }

  private endpointing(options: SttOptions): number | false {
    const ms = options.endpointingMs ?? this.options.endpointingMs;
    return ms > 0 ? Math.round(ms) : false;
  }

  private checkRequest(options: SttOptions): void {
    if (options.task === 'translate') throw deepgramError('bad_request', 'Deepgram cannot translate; use task "transcribe"', false);
    if (options.grammar !== undefined && options.grammar.trim() !== '') {
      this.options.logger.debug({ engine: ENGINE }, 'deepgram ignores grammars; the hints are sent as keyterms');
    }
  }

  async transcribe(audio: AudioChunk, options: SttOptions = {}): Promise<SttResult> {
    assertRate(audio, this.sampleRate, 'Deepgram');
    this.checkRequest(options);
    throwIfAborted(options.signal, 'transcription');
    const language = options.language ?? this.options.language;
    const query = listenQuery({ model: this.options.model, language, smartFormat: this.options.smartFormat, hints: options.hints, tags: this.options.tags });
    const url = new URL('/v1/listen', this.options.baseUrl);
    url.search = query.toString();
    const body = encodeWav(audio, { encoding: this.options.encoding === 'mulaw' ? 'mulaw' : 'pcm16' });
    const audioSeconds = audio.samples.length / audio.sampleRate;
    let failed = true;
    try {
      const res = await post(url, body, {
        headers: { Authorization: `Token ${this.options.apiKey}`, 'Content-Type': 'audio/wav', Accept: 'application/json' },
        connectTimeoutMs: this.options.connectTimeoutMs,
        timeoutMs: this.options.timeoutMs,
        signal: options.signal,
      });
      if (res.status < 200 || res.status >= 300) {
        const requestId = res.headers['dg-request-id'];
        throw httpError(res.status, res.body, 'the transcription request', typeof requestId === 'string' ? requestId : undefined);
      }
      let parsed;
      try {
        parsed = parseRestResponse(res.body);
      } catch (err) {
        if (err instanceof WireError) throw deepgramError('engine_failed', `the transcription answer is malformed: ${err.message}`, false, { status: res.status }, err);
        throw err;
      }
      failed = false;
      const text = parsed.transcript.trim();
      const duration = parsed.duration > 0 ? parsed.duration : audioSeconds;
      return {
        text,
        language: parsed.detectedLanguage ?? language,
        segments: text === '' ? [] : [toSegment(0, text, 0, duration, parsed.confidence, parsed.words)],
        words: toSttWords(parsed.words),
        duration,
        confidence: text === '' ? undefined : parsed.confidence,
        engine: ENGINE,
      };
    } finally {
      this.count('transcribe', audioSeconds, failed);
    }
  }

  stream(options: SttOptions = {}): SttStream {
    this.checkRequest(options);
    throwIfAborted(options.signal, 'speech stream');
    const language = options.language ?? this.options.language;
    const query = listenQuery({
      model: this.options.model,
      language,
      smartFormat: this.options.smartFormat,
      encoding: this.options.encoding,
      sampleRate: this.sampleRate,
      hints: options.hints,
      tags: this.options.tags,
      live: {
        interimResults: true,
        endpointing: this.endpointing(options),
        utteranceEndMs: options.utteranceEndMs ?? this.options.utteranceEndMs,
        vadEvents: this.options.vadEvents,
      },
    });
    const stream: DeepgramLiveStream = new DeepgramLiveStream({
      url: liveUrl(this.options.baseUrl, query),
      apiKey: this.options.apiKey,
      sampleRate: this.sampleRate,
      encoding: this.options.encoding,
      language,
      connectTimeoutMs: this.options.connectTimeoutMs,
      timeoutMs: this.options.timeoutMs,
      keepAliveMs: this.options.keepAliveMs,
      finalizeWaitMs: this.options.finalizeWaitMs,
      maxBufferedMs: this.options.maxBufferedMs,
      signal: options.signal,
      logger: this.options.logger,
      onDone: ({ audioSeconds, failed }) => {
        this.live.delete(stream);
        this.count('stream', audioSeconds, failed);
      },
    });
    this.live.add(stream);
    return stream;
  }

  /** Streams still open. */
  get openStreams(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    for (const s of [...this.live]) s.close();
  }
}

const ENCODINGS: readonly DeepgramEncoding[] = ['linear16', 'mulaw'];

/** Checks the settings (no network call: `palabre doctor` makes the cheap request); engine_unavailable without a key. */
export async function createDeepgram(options: Partial<DeepgramOptions> = {}): Promise<DeepgramStt> {
  const opts: DeepgramOptions = { ...DEEPGRAM_DEFAULTS, apiKey: '', logger: silentLogger, ...options };
  if (!opts.apiKey) throw new PalabreError('engine_unavailable', 'deepgram has no API key (set engines.stt.deepgram.apiKey, env PALABRE_ENGINES_STT_DEEPGRAM_API_KEY)');
  let base: URL;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    throw new PalabreError('config_invalid', `deepgram baseUrl "${opts.baseUrl}" is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new PalabreError('config_invalid', `deepgram baseUrl must be http(s), not ${base.protocol}`);
  if (!ENCODINGS.includes(opts.encoding)) throw new PalabreError('config_invalid', `deepgram encoding must be one of ${ENCODINGS.join(', ')}, not "${String(opts.encoding)}"`);
  if (!Number.isInteger(opts.sampleRate) || opts.sampleRate < 8000 || opts.sampleRate > 48_000) throw new PalabreError('config_invalid', `deepgram sampleRate must be a whole number of Hz from 8000 to 48000, got ${opts.sampleRate}`);
  if (opts.keepAliveMs <= 0 || opts.keepAliveMs >= 10_000) throw new PalabreError('config_invalid', `deepgram keepAliveMs must be under 10000 (Deepgram closes an idle stream after 10 s), got ${opts.keepAliveMs}`);
  return new DeepgramStt({ ...opts, logger: opts.logger.child({ engine: ENGINE }) });
}
