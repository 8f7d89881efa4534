/**
 * Rendered phrases, ready to send in the format a call or client needs. A flow's fixed
 * prompts are rendered once at start-up (static tier, never evicted); anything else is
 * kept in a bounded LRU after its first synthesis. A miss streams to the caller while it
 * fills the cache, requests for a phrase being synthesised share that synthesis, and a
 * synthesis that is aborted or fails stores nothing.
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
import { canResolveVoice, SPEAKING_STYLES, type SpeakingStyle, type Tts } from './types.js';

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

interface Opened {
  source: 'hit' | 'joined' | 'miss';
  voice: string;
  chunks: AsyncIterable<Uint8Array>;
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
  private readonly flights = new Map<string, Flight>();
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

  /** Renders every phrase into the static tier; fails naming the first phrase that cannot be spoken. */
  async preload(tts: Tts, phrases: readonly PhraseRequest[], format: CacheFormat): Promise<{ phrases: number; bytes: number }> {
    checkFormat(format);
    let bytes = 0;
    for (const phrase of phrases) {
      const key = this.keyOf(tts, phrase, format);
      let entry = this.staticTier.get(key) ?? this.dynamicTier?.peek(key);
      if (!entry) {
        try {
          const parts: Uint8Array[] = [];
          for await (const chunk of this.get(tts, phrase, format)) parts.push(chunk);
          entry = this.entryOf(concat(parts), format, this.voiceOf(tts, phrase));
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

  private open(tts: Tts, req: PhraseRequest & { signal?: AbortSignal }, format: CacheFormat): Opened {
    checkFormat(format);
    const voice = this.voiceOf(tts, req);
    const key = keyFor(tts, voice, req, format);
    const stored = this.staticTier.get(key) ?? this.dynamicTier?.get(key);
    if (stored) {
      this.counters.hits++;
      return { source: 'hit', voice, chunks: once(stored.bytes) };
    }
    let flight = this.flights.get(key);
    let source: Opened['source'] = 'joined';
    if (flight?.joinable) {
      this.counters.joined++;
    } else {
      this.counters.misses++;
      source = 'miss';
      flight = new Flight();
      this.flights.set(key, flight);
      void this.produce(key, flight, tts, req, format, voice);
    }
    return { source, voice, chunks: flight.follow(req.signal) };
  }

  private async produce(key: string, flight: Flight, tts: Tts, req: PhraseRequest, format: CacheFormat, voice: string): Promise<void> {
    try {
      for await (const chunk of this.synthesize(tts, req, format, flight.controller.signal)) flight.push(chunk);
      const entry = this.entryOf(concat(flight.chunks), format, voice);
      if (entry.bytes.length > 0) this.dynamicTier?.set(key, entry);
      flight.finish();
    } catch (e) {
      flight.finish(e);
    } finally {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    }
  }

  private async *synthesize(tts: Tts, req: PhraseRequest, format: CacheFormat, signal: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
    const encode = (samples: Int16Array): Uint8Array => (format.encoding === 'pcm16' ? encodeSlinLe(samples) : encodeG711(format.encoding, samples));
    const resampler =
      tts.sampleRate === format.sampleRate
        ? undefined
        : (await (this.resampler ??= loadResampler())).create(tts.sampleRate, format.sampleRate, { quality: this.options.resampleQuality ?? 5 });
    try {
      const chunks = tts.synthesize(req.text, { voice: req.voice, language: req.language, style: req.style, signal });
      for await (const chunk of chunks) {
        assertRate(chunk, tts.sampleRate, `phrase cache (${tts.name})`);
        const pcm = resampler ? resampler.process(chunk.samples) : chunk.samples;
        if (pcm.length > 0) yield encode(pcm);
      }
      const tail = resampler?.flush();
      if (tail && tail.length > 0) yield encode(tail);
    } finally {
      resampler?.close();
    }
  }

  private entryOf(bytes: Uint8Array, format: CacheFormat, voice: string): CachedPhrase {
    return { bytes, format: { ...format }, durationSec: bytes.length / bytesPerSample(format.encoding) / format.sampleRate, voice };
  }

  private voiceOf(tts: Tts, req: PhraseRequest): string {
    if (req.style !== undefined && !SPEAKING_STYLES.includes(req.style)) {
      throw new PalabreError('bad_request', `unknown speaking style '${String(req.style)}'; known styles: ${SPEAKING_STYLES.join(', ')}`);
    }
    if (canResolveVoice(tts)) return tts.resolveVoice({ voice: req.voice, language: req.language });
    return req.voice ?? `language:${req.language ?? ''}`;
  }
}
