/**
 * sherpa-onnx speech-to-text (sherpa-onnx-node) with a catalog model from the
 * models directory: streaming zipformer transducers through OnlineRecognizer
 * (partials while the caller speaks, endpoint detection splitting segments),
 * Whisper through OfflineRecognizer (one whole utterance at a time, decoded
 * off the event loop by sherpa's async decode).
 *
 * Online decoding is synchronous native code: batch requests decode in
 * slices and yield to the event loop between slices; streams decode each
 * pushed frame (a few ms of work).
 */
import { setImmediate as tick } from 'node:timers/promises';
import { assertRate, PIPELINE_RATE, type AudioChunk, type Frame } from '../../audio/frame.js';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { CatalogModel } from '../../models/catalog.js';
import { ModelManager } from '../../models/manager.js';
import { EventQueue } from './event-queue.js';
import {
  checkModelFiles,
  loadSherpaModule,
  probeRecognizer,
  recognizerConfig,
  type OfflineRecognizerLike,
  type OnlineRecognizerLike,
  type OnlineResultJson,
  type OnlineStreamLike,
} from './sherpa-load.js';
import type { Stt, SttOptions, SttResult, SttSegment, SttStream, SttWord } from './types.js';

export interface SherpaOptions {
  /** Catalog id (config `engines.stt.sherpa.model`); see `palabre models list`. */
  model: string;
  /** Config `models.dir`. */
  modelsDir: string;
  /** Config `engines.stt.sherpa.numThreads`. */
  numThreads: number;
  decodingMethod: 'greedy_search' | 'modified_beam_search';
  /** Trailing silence that closes a segment of a stream, once something was said. */
  endpointSilenceMs: number;
  /** Whisper's language ('' detects it per request). */
  whisperLanguage: string;
  /** Create the recogniser once in a child process before loading it here (see sherpa-load.ts). */
  probe: boolean;
  maxAudioSeconds: number;
  /** A pause this long between words starts a new segment (batch results). */
  segmentPauseMs: number;
  catalog?: readonly CatalogModel[];
  logger: Logger;
}

export const SHERPA_DEFAULTS: Omit<SherpaOptions, 'model' | 'modelsDir' | 'logger' | 'catalog'> = {
  numThreads: 1,
  decodingMethod: 'greedy_search',
  endpointSilenceMs: 800,
  whisperLanguage: '',
  probe: true,
  maxAudioSeconds: 600,
  segmentPauseMs: 500,
};

const TAIL_PADDING = new Float32Array(Math.round(PIPELINE_RATE * 0.3));

function toFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 32768;
  return out;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** BPE tokens to words: a token starting with a space (or "▁") opens a word. */
export function wordsFromTokens(tokens: string[], times: number[], duration: number, offset: number, logProbs?: number[]): SttWord[] {
  const words: { text: string; start: number; probs: number[] }[] = [];
  tokens.forEach((tok, i) => {
    const opens = /^[\s▁]/.test(tok) || words.length === 0;
    const text = tok.replace(/^[\s▁]+/, '');
    if (opens) {
      if (text === '') return;
      words.push({ text, start: offset + (times[i] ?? 0), probs: [] });
    } else words[words.length - 1].text += text;
    if (logProbs?.[i] !== undefined) words[words.length - 1].probs.push(logProbs[i]);
  });
  return words.map((w, i) => {
    const end = i + 1 < words.length ? words[i + 1].start : Math.min(duration, w.start + 0.4);
    const word: SttWord = { word: w.text, start: round(w.start), end: round(Math.max(end, w.start)) };
    if (w.probs.length > 0) {
      const mean = w.probs.reduce((a, b) => a + b, 0) / w.probs.length;
      // ys_probs are log probabilities; a value in (0, 1] is taken as a probability already.
      word.confidence = round(Math.min(1, Math.max(1e-4, mean <= 0 ? Math.exp(mean) : mean)), 4);
    }
    return word;
  });
}

function segmentsFromWords(words: SttWord[], pause: number): SttSegment[] {
  const segments: SttSegment[] = [];
  let current: SttWord[] = [];
  const close = (): void => {
    if (current.length === 0) return;
    const confs = current.map((w) => w.confidence).filter((c): c is number => c !== undefined);
    segments.push({
      id: segments.length,
      start: current[0].start,
      end: current[current.length - 1].end,
      text: current.map((w) => w.word).join(' '),
      confidence: confs.length ? round(confs.reduce((a, b) => a + b, 0) / confs.length, 4) : undefined,
      words: current,
    });
    current = [];
  };
  for (const w of words) {
    const prev = current[current.length - 1];
    if (prev && w.start - prev.end >= pause) close();
    current.push(w);
  }
  close();
  return segments;
}

function resultOf(words: SttWord[], text: string, duration: number, language: string, pause: number): SttResult {
  const segments = words.length > 0 ? segmentsFromWords(words, pause) : text ? [{ id: 0, start: 0, end: round(duration), text }] : [];
  const confs = words.map((w) => w.confidence).filter((c): c is number => c !== undefined);
  return {
    text,
    language,
    segments,
    words,
    duration: round(duration, 3),
    confidence: confs.length ? round(confs.reduce((a, b) => a + b, 0) / confs.length, 4) : undefined,
    engine: 'sherpa',
  };
}

abstract class SherpaBase {
  readonly name = 'sherpa';
  readonly sampleRate = PIPELINE_RATE;
  readonly languages: readonly string[];

  constructor(
    readonly model: CatalogModel,
    protected readonly options: SherpaOptions,
  ) {
    this.languages = model.languages.filter((l) => l !== 'multi');
  }

  protected check(audio: AudioChunk | undefined, options: SttOptions): void {
    if (audio) assertRate(audio, this.sampleRate, `sherpa (${this.model.id})`);
    const lang = options.language?.toLowerCase().split('-')[0];
    if (lang && !this.model.languages.includes('multi') && !this.model.languages.includes(lang)) {
      throw new PalabreError('bad_request', `sherpa model ${this.model.id} recognises ${this.languages.join(', ')}, not "${options.language}"`);
    }
    if (options.task === 'translate') throw new PalabreError('bad_request', `sherpa model ${this.model.id} does not translate; use task "transcribe"`);
    if (options.grammar) throw new PalabreError('bad_request', 'sherpa models take no JSGF grammar; use the pocketsphinx engine for grammars');
    if (audio && audio.samples.length > this.options.maxAudioSeconds * PIPELINE_RATE) {
      throw new PalabreError('payload_too_large', `audio is ${(audio.samples.length / PIPELINE_RATE).toFixed(1)} s long; sherpa accepts at most ${this.options.maxAudioSeconds} s`);
    }
  }

  protected text(raw: string): string {
    const t = raw.trim().replace(/\s+/g, ' ');
    return this.model.sherpa?.lowercase ? t.toLowerCase() : t;
  }

  async close(): Promise<void> {
    // The native recogniser is freed by the garbage collector with its JS handle.
  }
}

export class SherpaOnlineStt extends SherpaBase implements Stt {
  readonly streaming = true;

  constructor(
    model: CatalogModel,
    options: SherpaOptions,
    private readonly recognizer: OnlineRecognizerLike,
  ) {
    super(model, options);
  }

  async transcribe(audio: AudioChunk, options: SttOptions = {}): Promise<SttResult> {
    this.check(audio, options);
    throwIfAborted(options.signal, 'transcription');
    const stream = this.recognizer.createStream();
    stream.acceptWaveform({ samples: toFloat(audio.samples), sampleRate: PIPELINE_RATE });
    stream.acceptWaveform({ samples: TAIL_PADDING, sampleRate: PIPELINE_RATE });
    stream.inputFinished();
    let slice = performance.now();
    while (this.recognizer.isReady(stream)) {
      this.recognizer.decode(stream);
      if (performance.now() - slice > 20) {
        await tick();
        throwIfAborted(options.signal, 'transcription');
        slice = performance.now();
      }
    }
    const r = this.recognizer.getResult(stream);
    const duration = audio.samples.length / PIPELINE_RATE;
    const words = wordsFromTokens((r.tokens ?? []).map((t) => (this.model.sherpa?.lowercase ? t.toLowerCase() : t)), r.timestamps ?? [], duration, 0, r.ys_probs);
    return resultOf(words, this.text(r.text), duration, this.languages[0] ?? 'und', this.options.segmentPauseMs / 1000);
  }

  stream(options: SttOptions = {}): SttStream {
    this.check(undefined, options);
    throwIfAborted(options.signal, 'speech stream');
    return new SherpaOnlineStream(this, this.recognizer, this.recognizer.createStream(), options.signal);
  }

  /** For the stream: model text casing and the result shape. */
  finishResult(words: SttWord[], texts: string[], duration: number): SttResult {
    return resultOf(words, texts.filter(Boolean).join(' '), duration, this.languages[0] ?? 'und', this.options.segmentPauseMs / 1000);
  }

  clean(raw: string): string {
    return this.text(raw);
  }

  lower(tokens: string[]): string[] {
    return this.model.sherpa?.lowercase ? tokens.map((t) => t.toLowerCase()) : tokens;
  }
}

class SherpaOnlineStream implements SttStream {
  private readonly events_ = new EventQueue();
  private received = 0;
  private segmentStart = 0;
  private readonly words: SttWord[] = [];
  private readonly texts: string[] = [];
  private lastPartial = '';
  private state: 'open' | 'done' | 'closed' = 'open';
  private final?: SttResult;

  constructor(
    private readonly engine: SherpaOnlineStt,
    private readonly recognizer: OnlineRecognizerLike,
    private readonly stream: OnlineStreamLike,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', () => {
      this.events_.fail(new PalabreError('aborted', 'speech stream was cancelled', { cause: signal.reason }));
      this.close();
    }, { once: true });
  }

  private current(): OnlineResultJson {
    return this.recognizer.getResult(this.stream);
  }

  private closeSegment(r: OnlineResultJson): void {
    const text = this.engine.clean(r.text);
    if (text) {
      const end = this.received / PIPELINE_RATE;
      this.texts.push(text);
      this.words.push(...wordsFromTokens(this.engine.lower(r.tokens ?? []), r.timestamps ?? [], end, this.segmentStart, r.ys_probs));
    }
    this.recognizer.reset(this.stream);
    this.segmentStart = this.received / PIPELINE_RATE;
  }

  push(frame: Frame): void {
    if (this.state !== 'open') throw new PalabreError('bad_request', `cannot push audio to a speech stream after ${this.state === 'closed' ? 'close()' : 'finish()'}`);
    assertRate(frame, PIPELINE_RATE, `sherpa stream (${this.engine.model.id})`);
    this.received += frame.samples.length;
    this.stream.acceptWaveform({ samples: toFloat(frame.samples), sampleRate: PIPELINE_RATE });
    while (this.recognizer.isReady(this.stream)) this.recognizer.decode(this.stream);
    const r = this.current();
    if (this.recognizer.isEndpoint(this.stream)) this.closeSegment(r);
    const live = [...this.texts, this.recognizer.isEndpoint(this.stream) ? '' : this.engine.clean(r.text)].filter(Boolean).join(' ');
    if (live !== this.lastPartial && live !== '') {
      this.lastPartial = live;
      this.events_.push({ type: 'partial', text: live });
    }
  }

  events(): AsyncIterable<SttEvent> {
    return this.events_.read();
  }

  async finish(): Promise<SttResult> {
    if (this.final) return this.final;
    if (this.state === 'closed') throw new PalabreError('bad_request', 'cannot finish a speech stream after close()');
    this.state = 'done';
    this.stream.acceptWaveform({ samples: TAIL_PADDING, sampleRate: PIPELINE_RATE });
    this.stream.inputFinished();
    while (this.recognizer.isReady(this.stream)) this.recognizer.decode(this.stream);
    this.closeSegment(this.current());
    this.final = this.engine.finishResult(this.words, this.texts, this.received / PIPELINE_RATE);
    this.events_.push({ type: 'final', result: this.final });
    this.events_.end();
    return this.final;
  }

  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closed';
    this.events_.end();
  }
}

type SttEvent = Parameters<EventQueue['push']>[0];

export class SherpaOfflineStt extends SherpaBase implements Stt {
  readonly streaming = false;

  constructor(
    model: CatalogModel,
    options: SherpaOptions,
    private readonly recognizer: OfflineRecognizerLike,
  ) {
    super(model, options);
  }

  async transcribe(audio: AudioChunk, options: SttOptions = {}): Promise<SttResult> {
    this.check(audio, options);
    throwIfAborted(options.signal, 'transcription');
    const stream = this.recognizer.createStream();
    stream.acceptWaveform({ samples: toFloat(audio.samples), sampleRate: PIPELINE_RATE });
    const r = await this.recognizer.decodeAsync(stream);
    throwIfAborted(options.signal, 'transcription');
    const language = (r.lang ?? '').replace(/[<|>]/g, '') || options.language || this.options.whisperLanguage || 'und';
    return resultOf([], this.text(r.text), audio.samples.length / PIPELINE_RATE, language, this.options.segmentPauseMs / 1000);
  }
}

/** Loads a catalog model; engine_unavailable names what is missing and the command that fixes it. */
export async function createSherpa(options: Partial<SherpaOptions> & { model?: string; modelsDir?: string }): Promise<SherpaOnlineStt | SherpaOfflineStt> {
  const opts: SherpaOptions = { ...SHERPA_DEFAULTS, model: '', modelsDir: './data/models', logger: silentLogger, ...options };
  if (!opts.model) {
    throw new PalabreError('engine_unavailable', 'no sherpa model configured: set engines.stt.sherpa.model (PALABRE_ENGINES_STT_SHERPA_MODEL) to a catalog id from `palabre models list`');
  }
  const manager = new ModelManager({ dir: opts.modelsDir, catalog: opts.catalog });
  const model = manager.models().find((m) => m.id === opts.model);
  if (!model) throw new PalabreError('engine_unavailable', `unknown sherpa model "${opts.model}"; known models: ${manager.models().map((m) => m.id).join(', ')}`);
  if (!model.sherpa) throw new PalabreError('engine_unavailable', `model ${model.id} is a ${model.kind} model, not a speech recogniser`);
  const resolved = manager.resolve(model.id);
  checkModelFiles(resolved);
  const sherpa = loadSherpaModule();
  const config = recognizerConfig(resolved, model.sherpa, {
    numThreads: opts.numThreads,
    decodingMethod: opts.decodingMethod,
    endpointSilence: opts.endpointSilenceMs / 1000,
    whisperLanguage: opts.whisperLanguage,
  });
  if (opts.probe) await probeRecognizer(model, resolved, model.sherpa.type, config);
  try {
    if (model.sherpa.type === 'online-transducer') return new SherpaOnlineStt(model, opts, new sherpa.OnlineRecognizer(config));
    return new SherpaOfflineStt(model, opts, await sherpa.OfflineRecognizer.createAsync(config));
  } catch (err) {
    throw new PalabreError('engine_unavailable', `sherpa-onnx could not load model ${model.id}: ${(err as Error).message}`, { cause: err });
  }
}
