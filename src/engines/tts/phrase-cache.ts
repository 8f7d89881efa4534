/**
 * Rendered phrases, ready to send in the format a call or client needs. A flow's fixed
 * prompts are rendered once at start-up (static tier, never evicted); anything else is
 * kept in a bounded LRU after its first synthesis. A miss streams to the caller while it
 * fills the cache, requests for a phrase being synthesised share that synthesis, and a
 * synthesis that is aborted or fails stores nothing.
 *
 * An engine that says when each word is spoken (TimedAudioChunk / EncodedTtsChunk `words`)
 * has its timings kept with the audio, in both tiers, so a call cut by a barge-in can
 * tell which words were heard. Timings count in ms from the start of the phrase's audio
 * and in characters of its whitespace-normalised text: resampling does not move them,
 * and the chunks of one synthesis already carry times from its start.
 *
 * An engine that delivers the asked format itself (canSynthesizeAs, e.g. ElevenLabs'
 * ulaw_8000 for a telephone line) is asked for it directly: no PCM is decoded,
 * resampled and re-encoded here.
 */
import { LRUCache } from 'lru-cache';
import { assertRate } from '../../audio/frame.js';
import { encodeG711 } from '../../audio/g711.js';
import { encodeAudioAs, type OutputFormat } from '../../audio/output-format.js';
import { loadResampler, type ResamplerFactory } from '../../audio/resample.js';
import { decodeSlinLe, encodeSlinLe } from '../../audio/slin.js';
import { PalabreError } from '../../errors.js';
import { Flight } from './flight.js';
import { normaliseText } from './text.js';
import {
  canResolveVoice,
  canSynthesizeAs,
  outputFormatOf,
  SPEAKING_STYLES,
  type SpeakingStyle,
  type DirectFormatTts,
  type TimedAudioChunk,
  type Tts,
  type TtsOutputFormat,
  type TtsWordTiming,
} from './types.js';

export type CacheEncoding = 'pcm16' | 'ulaw' | 'alaw';
export const CACHE_ENCODINGS: readonly CacheEncoding[] = ['pcm16', 'ulaw', 'alaw'];

/** How cached audio is stored and returned: pcm16 is little-endian signed 16-bit. */
export interface CacheFormat {
  encoding: CacheEncoding;
  sampleRate: number;
}

export interface PhraseRequest {
  text: string;
  voice?: string;
  language?: string;
  style?: SpeakingStyle;
}

export interface CachedPhrase {
  bytes: Uint8Array;
  format: CacheFormat;
  durationSec: number;
  /** The voice the phrase was spoken with, as the engine resolved it. */
  voice: string;
  /** When each word is heard (ms from the start of `bytes`), for engines that say so. */
  words?: readonly TtsWordTiming[];
}

/** A phrase's audio as it comes, with the word timings known so far. */
export interface PhraseStream {
  /** hit: stored audio; joined: a synthesis already running; miss: a new synthesis. */
  source: 'hit' | 'joined' | 'miss';
  voice: string;
  chunks: AsyncIterable<Uint8Array>;
  /** Timings of the words complete so far (all of them once the chunks are done); empty for engines without timings. */
  words(): readonly TtsWordTiming[];
}

export interface PhraseCacheOptions {
  /** Dynamic phrases kept (static ones do not count). 0 disables the dynamic tier. Default 500. */
  maxEntries?: number;
  /** Byte bound of the dynamic tier. Default 64 MiB. */
  maxBytes?: number;
  /** Shared resampler factory; loaded on first need otherwise. */
  resampler?: ResamplerFactory;
  /** Speex quality for the engine-rate → format-rate conversion. Default 5. */
  resampleQuality?: number;
}

export interface PhraseCacheStats {
  /** Requests answered from stored audio. */
  hits: number;
  /** Requests that started a synthesis. */
  misses: number;
  /** Requests that joined a synthesis already running for the same phrase. */
  joined: number;
  /** Dynamic phrases dropped to respect the bounds. */
  evictions: number;
  entries: number;
  bytes: number;
  staticEntries: number;
  staticBytes: number;
}

export interface RenderedPhrase {
  bytes: Uint8Array;
  contentType: string;
  sampleRate: number;
  durationSec: number;
  voice: string;
  /** True when no new synthesis was run for this request. */
  cached: boolean;
}

/** A synthesis under way: the shared audio and the word timings found so far. */
interface Production {
  flight: Flight;
  words: TtsWordTiming[];
}

/** What the cache's synthesis yields: bytes in the cache's format, and the words completed with them. */
interface Rendered {
  bytes: Uint8Array;
  words?: readonly TtsWordTiming[];
}

function checkFormat(format: CacheFormat): void {
  if (!CACHE_ENCODINGS.includes(format.encoding)) {
    throw new PalabreError('bad_request', `phrase cache encoding must be one of ${CACHE_ENCODINGS.join(', ')}, got '${String(format.encoding)}'`);
  }
  if (!Number.isInteger(format.sampleRate) || format.sampleRate < 1000 || format.sampleRate > 384_000) {
    throw new PalabreError('bad_request', `phrase cache sample rate must be a whole number of Hz between 1000 and 384000, got ${format.sampleRate}`);
  }
}

function bytesPerSample(encoding: CacheEncoding): number {
  return encoding === 'pcm16' ? 2 : 1;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function keyFor(tts: Tts, voice: string, req: PhraseRequest, format: CacheFormat): string {
  return JSON.stringify([tts.name, voice, req.style ?? 'neutre', format.encoding, format.sampleRate, normaliseText(req.text)]);
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  yield bytes;
}

export class PhraseCache {
  private readonly staticTier = new Map<string, CachedPhrase>();
  private readonly dynamicTier: LRUCache<string, CachedPhrase> | undefined;
  private readonly flights = new Map<string, Production>();
  private resampler: Promise<ResamplerFactory> | undefined;
  private readonly counters = { hits: 0, misses: 0, joined: 0, evictions: 0 };

  constructor(private readonly options: PhraseCacheOptions = {}) {
    const maxEntries = options.maxEntries ?? 500;
    const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    if (options.resampler) this.resampler = Promise.resolve(options.resampler);
    if (maxEntries > 0 && maxBytes > 0) {
      this.dynamicTier = new LRUCache<string, CachedPhrase>({
        max: maxEntries,
        maxSize: maxBytes,
        sizeCalculation: (v) => Math.max(1, v.bytes.byteLength),
        dispose: (_v, _k, reason) => {
          if (reason === 'evict') this.counters.evictions++;
        },
      });
    }
  }

  /** The cache key: engine, resolved voice, style, output format and whitespace-normalised text. */
  keyOf(tts: Tts, req: PhraseRequest, format: CacheFormat): string {
    return keyFor(tts, this.voiceOf(tts, req), req, format);
  }

  /** Stored audio for a phrase, without synthesising. */
  peek(tts: Tts, req: PhraseRequest, format: CacheFormat): CachedPhrase | undefined {
    const key = this.keyOf(tts, req, format);
    return this.staticTier.get(key) ?? this.dynamicTier?.peek(key);
  }

  /**
   * The phrase's audio in `format`, as chunks: the stored bytes when cached, else the
   * synthesis as it is produced (stored once complete).
   */
  async *get(tts: Tts, req: PhraseRequest & { signal?: AbortSignal }, format: CacheFormat): AsyncGenerator<Uint8Array, void, undefined> {
    yield* this.open(tts, req, format).chunks;
  }

  /** Like get(), with the phrase's word timings alongside (see PhraseStream). Throws at once on a bad format, style or voice. */
  stream(tts: Tts, req: PhraseRequest & { signal?: AbortSignal }, format: CacheFormat): PhraseStream {
    return this.open(tts, req, format);
  }

  /** Renders every phrase into the static tier; fails naming the first phrase that cannot be spoken. */
  async preload(tts: Tts, phrases: readonly PhraseRequest[], format: CacheFormat): Promise<{ phrases: number; bytes: number }> {
    checkFormat(format);
    let bytes = 0;
    for (const phrase of phrases) {
      const key = this.keyOf(tts, phrase, format);
      let entry = this.staticTier.get(key) ?? this.dynamicTier?.peek(key);
      if (!entry) {
        try {
          const opened = this.open(tts, phrase, format);
          const parts: Uint8Array[] = [];
          for await (const chunk of opened.chunks) parts.push(chunk);
          entry = this.entryOf(concat(parts), format, opened.voice, opened.words());
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new PalabreError(e instanceof PalabreError ? e.code : 'engine_failed', `could not pre-render the phrase "${phrase.text.slice(0, 60)}": ${why}`, { cause: e });
        }
      }
      this.dynamicTier?.delete(key);
      this.staticTier.set(key, entry);
      bytes += entry.bytes.byteLength;
    }
    return { phrases: phrases.length, bytes };
  }

  /** A whole phrase in an HTTP-ready container (WAV adds its header to cached PCM). */
  async render(tts: Tts, req: PhraseRequest & { signal?: AbortSignal }, out: { container: OutputFormat; sampleRate: number }): Promise<RenderedPhrase> {
    const encoding: CacheEncoding = out.container === 'ulaw' || out.container === 'alaw' ? out.container : 'pcm16';
    const format = { encoding, sampleRate: out.sampleRate };
    const opened = this.open(tts, req, format);
    const parts: Uint8Array[] = [];
    for await (const chunk of opened.chunks) parts.push(chunk);
    const raw = concat(parts);
    const cached = opened.source !== 'miss';
    if (out.container === 'wav') {
      const wav = await encodeAudioAs({ samples: decodeSlinLe(raw), sampleRate: out.sampleRate }, 'wav', out.sampleRate);
      return { ...wav, voice: opened.voice, cached };
    }
    // Encoding nothing gives the content type exactly as the output module names it.
    const { contentType } = await encodeAudioAs({ samples: new Int16Array(0), sampleRate: out.sampleRate }, out.container, out.sampleRate);
    return { bytes: raw, contentType, sampleRate: out.sampleRate, durationSec: raw.length / bytesPerSample(encoding) / out.sampleRate, voice: opened.voice, cached };
  }

  stats(): PhraseCacheStats {
    let staticBytes = 0;
    for (const v of this.staticTier.values()) staticBytes += v.bytes.byteLength;
    const dynamicEntries = this.dynamicTier?.size ?? 0;
    const dynamicBytes = this.dynamicTier?.calculatedSize ?? 0;
    return {
      ...this.counters,
      entries: this.staticTier.size + dynamicEntries,
      bytes: staticBytes + dynamicBytes,
      staticEntries: this.staticTier.size,
      staticBytes,
    };
  }

  /** Drops the dynamic tier (the static tier stays: it is the flows' fixed prompts). */
  clear(): void {
    this.dynamicTier?.clear();
  }

  private open(tts: Tts, req: PhraseRequest & { signal?: AbortSignal }, format: CacheFormat): PhraseStream {
    checkFormat(format);
    const voice = this.voiceOf(tts, req);
    const key = keyFor(tts, voice, req, format);
    const stored = this.staticTier.get(key) ?? this.dynamicTier?.get(key);
    if (stored) {
      this.counters.hits++;
      const words = stored.words ?? [];
      return { source: 'hit', voice, chunks: once(stored.bytes), words: () => words };
    }
    let production = this.flights.get(key);
    let source: PhraseStream['source'] = 'joined';
    if (production?.flight.joinable) {
      this.counters.joined++;
    } else {
      this.counters.misses++;
      source = 'miss';
      production = { flight: new Flight(), words: [] };
      this.flights.set(key, production);
      void this.produce(key, production, tts, req, format, voice);
    }
    const words = production.words;
    return { source, voice, chunks: production.flight.follow(req.signal), words: () => words };
  }

  private async produce(key: string, production: Production, tts: Tts, req: PhraseRequest, format: CacheFormat, voice: string): Promise<void> {
    const { flight, words } = production;
    try {
      for await (const chunk of this.synthesize(tts, req, format, flight.controller.signal)) {
        // Words first: a follower woken by the audio then finds the timings that came with it.
        if (chunk.words) words.push(...chunk.words);
        if (chunk.bytes.length > 0) flight.push(chunk.bytes);
      }
      const entry = this.entryOf(concat(flight.chunks), format, voice, words);
      if (entry.bytes.length > 0) this.dynamicTier?.set(key, entry);
      flight.finish();
    } catch (e) {
      flight.finish(e);
    } finally {
      if (this.flights.get(key)?.flight === flight) this.flights.delete(key);
    }
  }

  private synthesize(tts: Tts, req: PhraseRequest, format: CacheFormat, signal: AbortSignal): AsyncGenerator<Rendered, void, undefined> {
    const named = outputFormatOf(format.encoding, format.sampleRate);
    if (named && canSynthesizeAs(tts, named)) return this.synthesizeNative(tts, named, req, signal);
    return this.synthesizePcm(tts, req, format, signal);
  }

  /** The engine delivers the format itself: its bytes are stored as they come. */
  private async *synthesizeNative(tts: DirectFormatTts, format: TtsOutputFormat, req: PhraseRequest, signal: AbortSignal): AsyncGenerator<Rendered, void, undefined> {
    for await (const chunk of tts.synthesizeAs(req.text, format, { voice: req.voice, language: req.language, style: req.style, signal })) {
      if (chunk.format !== format) {
        throw new PalabreError('engine_failed', `${tts.name} was asked for ${format} audio and delivered ${String(chunk.format)}`);
      }
      yield chunk.words ? { bytes: chunk.bytes, words: chunk.words } : { bytes: chunk.bytes };
    }
  }

  /** PCM at the engine's rate, resampled and encoded here; word times in ms hold at any rate. */
  private async *synthesizePcm(tts: Tts, req: PhraseRequest, format: CacheFormat, signal: AbortSignal): AsyncGenerator<Rendered, void, undefined> {
    const encode = (samples: Int16Array): Uint8Array => (format.encoding === 'pcm16' ? encodeSlinLe(samples) : encodeG711(format.encoding, samples));
    const resampler =
      tts.sampleRate === format.sampleRate
        ? undefined
        : (await (this.resampler ??= loadResampler())).create(tts.sampleRate, format.sampleRate, { quality: this.options.resampleQuality ?? 5 });
    try {
      const chunks: AsyncIterable<TimedAudioChunk> = tts.synthesize(req.text, { voice: req.voice, language: req.language, style: req.style, signal });
      for await (const chunk of chunks) {
        assertRate(chunk, tts.sampleRate, `phrase cache (${tts.name})`);
        const pcm = resampler ? resampler.process(chunk.samples) : chunk.samples;
        if (pcm.length > 0 || chunk.words) yield { bytes: pcm.length > 0 ? encode(pcm) : new Uint8Array(0), ...(chunk.words ? { words: chunk.words } : {}) };
      }
      const tail = resampler?.flush();
      if (tail && tail.length > 0) yield { bytes: encode(tail) };
    } finally {
      resampler?.close();
    }
  }

  private entryOf(bytes: Uint8Array, format: CacheFormat, voice: string, words: readonly TtsWordTiming[] = []): CachedPhrase {
    const entry: CachedPhrase = { bytes, format: { ...format }, durationSec: bytes.length / bytesPerSample(format.encoding) / format.sampleRate, voice };
    if (words.length > 0) entry.words = [...words];
    return entry;
  }

  private voiceOf(tts: Tts, req: PhraseRequest): string {
    if (req.style !== undefined && !SPEAKING_STYLES.includes(req.style)) {
      throw new PalabreError('bad_request', `unknown speaking style '${String(req.style)}'; known styles: ${SPEAKING_STYLES.join(', ')}`);
    }
    if (canResolveVoice(tts)) return tts.resolveVoice({ voice: req.voice, language: req.language });
    return req.voice ?? `language:${req.language ?? ''}`;
  }
}
