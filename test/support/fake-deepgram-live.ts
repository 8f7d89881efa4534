/**
 * One live `/v1/listen` session of the Deepgram fake. Audio is cut into
 * 20 ms windows; an energy detector finds speech and pauses; each segment
 * (from the end of the previous final to a pause of `endpointing` ms, a
 * Finalize, a CloseStream or 15 s) is recognised by the segment recogniser
 * (PocketSphinx on the real audio, or a script). Messages go out as Deepgram
 * sends them: interim `Results` (is_final false) while a segment grows, a
 * final one (is_final true, speech_final at a pause, from_finalize after
 * Finalize), `SpeechStarted` when vad_events is on, `UtteranceEnd` a gap of
 * utterance_end_ms after the last final word, `Metadata` and a 1000 close
 * after CloseStream, and a 1011 `NET-0001` close when neither audio nor a
 * text message arrived for 10 s.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { PIPELINE_RATE, rmsDbfs } from '../../src/audio/frame.js';
import { decodeAlaw, decodeMulaw } from '../../src/audio/g711.js';
import type { Resampler, ResamplerFactory } from '../../src/audio/resample.js';
import { decodeSlinLe } from '../../src/audio/slin.js';
import { modelInfo, MODEL_UUID, spreadWords, transcriptOf, wireWords, type ListenParams, type Word } from './fake-deepgram-query.js';

/** What a segment recogniser hands back at the end of a segment; times are seconds from its first sample. */
export interface Recognised {
  text: string;
  words: Array<{ word: string; start: number; end: number; confidence?: number }>;
  confidence?: number;
}

/** Recognises one segment: 16 kHz audio in, partial texts while it grows, the words at the end. */
export interface SegmentRecognizer {
  push(samples: Int16Array): void;
  onPartial(listener: (text: string) => void): void;
  finish(): Promise<Recognised>;
  close(): void;
}

export interface LiveFault {
  /** Replace the n-th message sent (0-based) with text that is not JSON. */
  malformedAt?: number;
  /** Drop the TCP connection, without a close frame, once this much audio has arrived. */
  cutAfterMs?: number;
  /** Close with this code and reason once this much audio has arrived. */
  closeAfterMs?: { ms: number; code: number; reason: string };
  /** Do not answer Finalize (Deepgram may not when it holds little audio). */
  ignoreFinalize?: boolean;
  /** Neither answer CloseStream nor close. */
  ignoreCloseStream?: boolean;
  /** Hold every message this long before sending it. */
  delayMs?: number;
}

export interface LiveRecord {
  query: URLSearchParams;
  /** How the key came: the Authorization header or the `token` subprotocol. */
  auth: 'header' | 'subprotocol';
  requestId: string;
  audioBytes: number;
  audioSeconds: number;
  /** Client text messages by type, in order. */
  controls: string[];
  /** Server messages sent, parsed. */
  sent: Array<Record<string, unknown>>;
  closed?: { code: number; reason: string; by: 'client' | 'server' };
  /** The audio as decoded, at the session's rate, when the fake keeps it (`keepAudio`). */
  audio?: Int16Array[];
}

export interface SessionDeps {
  params: ListenParams;
  record: LiveRecord;
  fault: LiveFault;
  resampler: ResamplerFactory;
  /** A recogniser for the next segment of this session (index counts its segments). */
  recognizer(segment: number): SegmentRecognizer;
  netTimeoutMs: number;
  speechDbfs: number;
}

const WINDOW_MS = 20;
/** The energy detector cannot see pauses shorter than this (gaps between words are). */
const MIN_PAUSE_MS = 200;
const MAX_SEGMENT_S = 15;
const PREROLL_S = 0.5;

interface Segment {
  index: number;
  /** Session sample where it starts. */
  start: number;
  recognizer?: SegmentRecognizer;
  /** Session seconds of the recogniser's first sample. */
  recStart: number;
  preroll: Int16Array[];
  prerollSamples: number;
  /** Session sample where it ended, once it has. */
  end?: number;
}

interface Outgoing {
  /** The segment a Results message belongs to. */
  seg?: number;
  final?: boolean;
  /** The message, or undefined to send nothing after all. */
  make: () => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

export class LiveSession {
  private readonly rate: number;
  private readonly window: number;
  private readonly toPipeline?: Resampler;
  private carry: Uint8Array = new Uint8Array(0);
  private win: Int16Array[] = [];
  private winSamples = 0;
  private t = 0;
  private seg: Segment;
  private segments = 0;
  private inSpeech = false;
  private silenceMs = 0;
  private lastWordEnd = 0;
  private utterancePending = false;
  private lastSpeechEnd = 0;
  private speechSinceUtteranceEnd = false;
  private readonly pending: Array<Outgoing & { close?: boolean }> = [];
  private flushing = false;
  private sentCount = 0;
  private ending = false;
  private readonly hash = createHash('sha256');
  private netTimer?: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: SessionDeps,
  ) {
    this.rate = deps.params.sampleRate as number;
    this.window = Math.round((this.rate * WINDOW_MS) / 1000);
    if (this.rate !== PIPELINE_RATE) this.toPipeline = deps.resampler.create(this.rate, PIPELINE_RATE);
    this.seg = this.newSegment(0);
    this.armNetTimer();
    ws.on('message', (data, isBinary) => {
      this.armNetTimer();
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) this.audio(bytes);
      else this.control(bytes.toString('utf8'));
    });
    ws.on('close', (code, reason) => {
      this.deps.record.closed ??= { code, reason: reason.toString(), by: 'client' };
      this.dispose();
    });
    ws.on('error', () => this.dispose());
  }

  private get p(): ListenParams {
    return this.deps.params;
  }

  /**
   * The idle cut counts from the later of the client's last message and the
   * moment the fake caught up with its answers: Deepgram answers in real time,
   * so a client waiting for a result the fake is still recognising is not idle.
   */
  private armNetTimer(): void {
    if (this.netTimer) clearTimeout(this.netTimer);
    this.netTimer = undefined;
    if (this.ending || this.flushing || this.pending.length > 0) return;
    this.netTimer = setTimeout(() => this.serverClose(1011, 'NET-0001'), this.deps.netTimeoutMs);
  }

  private newSegment(start: number): Segment {
    return { index: this.segments++, start, recStart: start / this.rate, preroll: [], prerollSamples: 0 };
  }

  private audio(bytes: Buffer): void {
    if (this.ending) return;
    this.hash.update(bytes);
    this.deps.record.audioBytes += bytes.length;
    let samples: Int16Array;
    if (this.p.encoding === 'linear16') {
      const all = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes;
      const even = all.length - (all.length % 2);
      this.carry = all.subarray(even);
      samples = decodeSlinLe(all.subarray(0, even));
    } else {
      samples = this.p.encoding === 'alaw' ? decodeAlaw(bytes) : decodeMulaw(bytes);
    }
    this.deps.record.audio?.push(samples);
    this.win.push(samples);
    this.winSamples += samples.length;
    while (this.winSamples >= this.window) this.processWindow(this.takeWindow(this.window));
    const f = this.deps.fault;
    const ms = ((this.t + this.winSamples) * 1000) / this.rate;
    this.deps.record.audioSeconds = ms / 1000;
    if (f.cutAfterMs !== undefined && ms >= f.cutAfterMs) {
      this.deps.record.closed = { code: 1006, reason: 'connection dropped', by: 'server' };
      this.ws.terminate();
    } else if (f.closeAfterMs && ms >= f.closeAfterMs.ms) {
      this.serverClose(f.closeAfterMs.code, f.closeAfterMs.reason);
    }
  }

  private takeWindow(n: number): Int16Array {
    const out = new Int16Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.win[0];
      const take = Math.min(head.length, n - filled);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.win.shift();
      else this.win[0] = head.subarray(take);
    }
    this.winSamples -= n;
    return out;
  }

  private processWindow(samples: Int16Array): void {
    const startSec = this.t / this.rate;
    this.t += samples.length;
    const speech = rmsDbfs(samples) > this.deps.speechDbfs;
    const pipeline = this.toPipeline ? this.toPipeline.process(samples) : samples;
    if (speech && !this.inSpeech) {
      this.inSpeech = true;
      if (this.p.vadEvents) this.send({ type: 'SpeechStarted', channel: [0], timestamp: round(startSec) });
      if (!this.seg.recognizer) this.startRecognizer(startSec);
    }
    const seg = this.seg;
    if (seg.recognizer) seg.recognizer.push(pipeline);
    else this.keepPreroll(seg, pipeline);
    if (speech) {
      this.silenceMs = 0;
    } else if (this.inSpeech) {
      this.silenceMs += WINDOW_MS;
      if (this.p.endpointing !== false && this.silenceMs >= Math.max(MIN_PAUSE_MS, this.p.endpointing)) {
        this.inSpeech = false;
        this.finalizeSegment('endpoint');
      } else if (this.p.endpointing === false && this.silenceMs >= MIN_PAUSE_MS) {
        this.inSpeech = false;
      }
    }
    if ((this.t - this.seg.start) / this.rate >= MAX_SEGMENT_S) this.finalizeSegment('max');
    const now = this.t / this.rate;
    if (speech) {
      this.lastSpeechEnd = now;
      this.speechSinceUtteranceEnd = true;
    } else if (this.speechSinceUtteranceEnd && this.p.interimResults && this.p.utteranceEndMs && now - this.lastSpeechEnd >= this.p.utteranceEndMs / 1000) {
      // The gap is seen now; the words it follows are known once the finals queued before it are recognised.
      this.speechSinceUtteranceEnd = false;
      this.enqueue({
        make: () => {
          if (!this.utterancePending) return undefined;
          this.utterancePending = false;
          return { type: 'UtteranceEnd', channel: [0, 1], last_word_end: round(this.lastWordEnd) };
        },
      });
    }
  }

  private keepPreroll(seg: Segment, pipeline: Int16Array): void {
    seg.preroll.push(pipeline);
    seg.prerollSamples += pipeline.length;
    while (seg.prerollSamples - seg.preroll[0].length >= PREROLL_S * PIPELINE_RATE) seg.prerollSamples -= (seg.preroll.shift() as Int16Array).length;
  }

  private startRecognizer(speechStartSec: number): void {
    const seg = this.seg;
    const rec = this.deps.recognizer(seg.index);
    seg.recognizer = rec;
    seg.recStart = speechStartSec - seg.prerollSamples / PIPELINE_RATE;
    for (const chunk of seg.preroll) rec.push(chunk);
    seg.preroll = [];
    rec.onPartial((text) => {
      if (!this.p.interimResults || this.ending) return;
      // Audio can arrive faster than it is recognised: a partial may come after its segment ended, but goes out before its final.
      const end = this.seg === seg ? this.t : (seg.end ?? this.t);
      const words = wireWords(spreadWords(text, 0, Math.max(0, end / this.rate - seg.recStart)), seg.recStart, this.p.punctuate);
      const msg = this.resultsMessage(seg.start / this.rate, end / this.rate, words, { is_final: false, speech_final: false });
      this.enqueue({ seg: seg.index, make: () => msg }, this.seg === seg ? undefined : seg.index);
    });
  }

  /** Ends the current segment at the present and sends its final once recognised. */
  private finalizeSegment(kind: 'endpoint' | 'finalize' | 'close' | 'max'): void {
    const seg = this.seg;
    const startSec = seg.start / this.rate;
    const endSec = this.t / this.rate;
    seg.end = this.t;
    this.seg = this.newSegment(this.t);
    const rec = seg.recognizer;
    const recognised: Promise<Recognised> = rec ? rec.finish() : Promise.resolve({ text: '', words: [] });
    // Recognition runs now; sending waits its turn so messages keep their order.
    recognised.catch(() => undefined);
    this.enqueue({ seg: seg.index, final: true, make: async () => {
      let r: Recognised;
      try {
        r = await recognised;
      } catch {
        r = { text: '', words: [] };
      }
      const words = wireWords(r.words, seg.recStart, this.p.punctuate);
      if (words.length > 0) {
        this.lastWordEnd = words[words.length - 1].end;
        this.utterancePending = true;
      }
      return this.resultsMessage(startSec, endSec, words, { is_final: true, speech_final: kind === 'endpoint', from_finalize: kind === 'finalize' }, r.confidence);
    } });
  }

  private control(text: string): void {
    let type = '(not JSON)';
    try {
      const msg = JSON.parse(text) as { type?: unknown };
      type = typeof msg.type === 'string' ? msg.type : '(no type)';
    } catch {
      // Recorded as is; Deepgram ignores what it does not understand.
    }
    this.deps.record.controls.push(type);
    if (this.ending) return;
    if (type === 'Finalize') {
      this.flushWindow();
      if (!this.deps.fault.ignoreFinalize && this.t > this.seg.start) this.finalizeSegment('finalize');
    } else if (type === 'CloseStream') {
      if (this.deps.fault.ignoreCloseStream) return;
      this.flushWindow();
      this.ending = true;
      // The client is done sending: the idle cut no longer applies while the last results are made.
      this.armNetTimer();
      if (this.t > this.seg.start) this.finalizeSegment('close');
      this.enqueue({ make: () => ({
        type: 'Metadata',
        transaction_key: 'deprecated',
        request_id: this.deps.record.requestId,
        sha256: this.hash.copy().digest('hex'),
        created: new Date().toISOString(),
        duration: round(this.t / this.rate),
        channels: 1,
      }) });
      this.enqueue({ make: () => ({}), close: true });
    }
  }

  /** The audio short of a whole window still belongs to the stream. */
  private flushWindow(): void {
    if (this.winSamples > 0) this.processWindow(this.takeWindow(this.winSamples));
  }

  private resultsMessage(start: number, end: number, words: Word[], flags: Record<string, boolean>, confidence?: number): Record<string, unknown> {
    const conf = confidence ?? (words.length > 0 ? words.reduce((a, w) => a + w.confidence, 0) / words.length : 0);
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: round(end - start),
      start: round(start),
      is_final: flags.is_final,
      speech_final: flags.speech_final ?? false,
      channel: { alternatives: [{ transcript: transcriptOf(words, this.p.punctuate), confidence: round(conf), words }] },
      metadata: { request_id: this.deps.record.requestId, model_info: modelInfo(this.p.model), model_uuid: MODEL_UUID },
      from_finalize: flags.from_finalize ?? false,
    };
  }

  private send(msg: Record<string, unknown>): void {
    this.enqueue({ make: () => msg });
  }

  /**
   * Sends in order: each message waits for the ones before it (a final waits
   * for its recognition). A late partial goes just before its segment's final,
   * or out at once when that final is the one being awaited.
   */
  private enqueue(item: Outgoing & { close?: boolean }, beforeFinalOf?: number): void {
    if (beforeFinalOf === undefined) {
      this.pending.push(item);
    } else {
      const i = this.pending.findIndex((p) => p.seg === beforeFinalOf && p.final);
      if (i < 0) return;
      if (i === 0 && this.flushing) {
        void Promise.resolve(item.make()).then((m) => m && this.transmit(m));
        return;
      }
      this.pending.splice(i, 0, item);
    }
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const item = this.pending[0] as Outgoing & { close?: boolean };
        const msg = await item.make();
        this.pending.shift();
        if (this.deps.fault.delayMs) await new Promise((r) => setTimeout(r, this.deps.fault.delayMs));
        if (item.close) this.serverClose(1000, '');
        else if (msg) this.transmit(msg);
      }
    } finally {
      this.flushing = false;
      this.armNetTimer();
    }
  }

  private transmit(msg: Record<string, unknown>): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const n = this.sentCount++;
    this.deps.record.sent.push(msg);
    this.ws.send(n === this.deps.fault.malformedAt ? '{"type":"Results","channel":' : JSON.stringify(msg));
  }

  private serverClose(code: number, reason: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.deps.record.closed ??= { code, reason, by: 'server' };
    this.ws.close(code, reason);
    this.dispose();
  }

  private dispose(): void {
    if (this.netTimer) clearTimeout(this.netTimer);
    this.netTimer = undefined;
    this.ending = true;
    this.seg.recognizer?.close();
    this.toPipeline?.close();
  }
}

/** A recogniser that answers `text` (a script line), revealing its words as the speech goes on. */
export function scriptedRecognizer(text: string): SegmentRecognizer {
  const words = text.split(/\s+/).filter(Boolean);
  let samples = 0;
  let listener: ((t: string) => void) | undefined;
  let shown = 0;
  return {
    push(chunk) {
      samples += chunk.length;
      // About three words a second, as people speak.
      const due = Math.min(words.length, Math.floor((samples / PIPELINE_RATE) * 3));
      if (due > shown) {
        shown = due;
        listener?.(words.slice(0, due).join(' '));
      }
    },
    onPartial(l) {
      listener = l;
    },
    finish() {
      const seconds = samples / PIPELINE_RATE;
      return Promise.resolve({ text, words: spreadWords(text, Math.min(PREROLL_S, seconds / 4), seconds), confidence: 0.99 });
    },
    close() {
      listener = undefined;
    },
  };
}

export function newRequestId(): string {
  return randomUUID();
}
