/**
 * CallIO over one Twilio Media Streams WebSocket. Caller audio arrives as
 * base64 µ-law 8 kHz in 20 ms messages and becomes 16 kHz pipeline frames.
 * Bot audio leaves as µ-law with a mark after each chunk: Twilio buffers and
 * plays it, and echoes each mark once the audio before it has played, so
 * playedMs() counts echoed marks and the transcript keeps what the caller
 * really heard. clear() tells Twilio to drop its buffer; marks not yet echoed
 * count as dropped. No pacing: Twilio buffers, but what we queue ahead is bounded.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { RawData, WebSocket } from 'ws';
import { Chunker } from '../../audio/chunker.js';
import { FRAME_MS, PIPELINE_RATE, assertRate, type Frame } from '../../audio/frame.js';
import { decodeMulaw, encodeMulaw } from '../../audio/g711.js';
import type { Resampler, ResamplerFactory } from '../../audio/resample.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../../call/io.js';
import { InboundFrames } from '../../call/inbound-frames.js';
import { silentLogger, type Logger } from '../../log.js';
import { decodePayload, parseTwilioMessage, type TwilioStart } from './protocol.js';

export const TWILIO_RATE = 8_000;
const BYTES_PER_MS = TWILIO_RATE / 1000;
const OPEN = 1;
export const CLOSE_NORMAL = 1000;
export const CLOSE_UNSUPPORTED = 1003;
export const CLOSE_POLICY = 1008;
export const CLOSE_SERVER_ERROR = 1011;

export type TwilioBadKind = 'garbage-json' | 'malformed' | 'unknown-event' | 'unknown-stream' | 'media-before-start' | 'unsupported-format' | 'oversized';

/** Counts a stream adds to as it runs; several streams may share one (the server's totals). */
export interface TwilioIOCounters {
  marksSent: number;
  marksEchoed: number;
  clears: number;
}

export interface TwilioIOOptions {
  socket: WebSocket;
  resampler: ResamplerFactory;
  logger?: Logger;
  /** Called for every bad message (for metrics). */
  onBadMessage?: (kind: TwilioBadKind, message: string) => void;
  counters?: TwilioIOCounters;
  /** Bot audio sent but not yet played (or not yet sent) beyond which writes are dropped. Default 60 s. */
  maxQueuedMs?: number;
  /** Bot audio per media message, each followed by a mark. Default 100 ms. */
  chunkMs?: number;
  /** How long after its expected end waitForPlayout() trusts a mark that never comes back. Default 5 s. */
  markGraceMs?: number;
  /** Caller audio waiting for the call to read it; the oldest is dropped beyond this. Default 5 s. */
  maxInboundMs?: number;
  /** Largest accepted message. Default 64 KiB. */
  maxMessageBytes?: number;
  resampleQuality?: number;
}

export interface TwilioIOStats {
  framesIn: number;
  chunksOut: number;
  marksEchoed: number;
  badMessages: number;
  inboundDropped: number;
  outboundDropped: number;
}

interface PendingMark {
  name: string;
  ms: number;
}

export class TwilioIO implements CallIO {
  readonly sampleRate = PIPELINE_RATE;
  readonly stats: TwilioIOStats = { framesIn: 0, chunksOut: 0, marksEchoed: 0, badMessages: 0, inboundDropped: 0, outboundDropped: 0 };

  private readonly socket: WebSocket;
  private readonly logger: Logger;
  private readonly emitter = new EventEmitter();
  private readonly onBad: TwilioIOOptions['onBadMessage'];
  private readonly counters: TwilioIOCounters | undefined;
  private readonly maxQueuedMs: number;
  private readonly chunkBytes: number;
  private readonly markGraceMs: number;
  private readonly maxMessageBytes: number;

  private readonly provisionalId = `twilio-${randomUUID()}`;
  private info: TwilioStart | undefined;
  private readonly inResampler: Resampler;
  private readonly outResampler: Resampler;
  private readonly inChunker = new Chunker(PIPELINE_RATE);
  private readonly outChunker = new Chunker(TWILIO_RATE);

  private readonly inbound: InboundFrames;
  private closed = false;
  private hungUp = false;
  private startWaiters: Array<(start: TwilioStart | undefined) => void> = [];

  /** µ-law bytes written but not yet sent (coalesced into one chunk). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private readonly marks: PendingMark[] = [];
  private markSeq = 0;
  private played = 0;
  /** When, by the wall clock, everything sent should have played; bounds the wait for lost marks. */
  private expectedEnd = 0;
  private playoutWaiters: Array<() => void> = [];
  private playoutTimer: NodeJS.Timeout | undefined;
  private warnedDrop = false;

  constructor(options: TwilioIOOptions) {
    this.socket = options.socket;
    this.logger = options.logger ?? silentLogger;
    this.onBad = options.onBadMessage;
    this.counters = options.counters;
    this.maxQueuedMs = options.maxQueuedMs ?? 60_000;
    this.chunkBytes = Math.max(1, Math.round((options.chunkMs ?? 100) / FRAME_MS)) * FRAME_MS * BYTES_PER_MS;
    this.markGraceMs = options.markGraceMs ?? 5_000;
    this.inbound = new InboundFrames(options.maxInboundMs ?? 5_000);
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
    const quality = options.resampleQuality ?? 5;
    this.inResampler = options.resampler.create(TWILIO_RATE, PIPELINE_RATE, { quality });
    this.outResampler = options.resampler.create(PIPELINE_RATE, TWILIO_RATE, { quality });
    this.socket.on('message', this.onMessage);
    this.socket.on('close', this.onSocketClose);
  }

  /** The streamSid once `start` has come, a local id before. */
  get id(): string {
    return this.info?.streamSid ?? this.provisionalId;
  }

  get start(): TwilioStart | undefined {
    return this.info;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves with the `start` message, or undefined if the stream ends first. */
  whenStarted(): Promise<TwilioStart | undefined> {
    if (this.info) return Promise.resolve(this.info);
    if (this.closed || this.inbound.ended) return Promise.resolve(undefined);
    return new Promise((resolve) => this.startWaiters.push(resolve));
  }

  // ---- CallIO ----

  frames(): AsyncGenerator<Frame, void, undefined> {
    return this.inbound.read(`TwilioIO ${this.id}`);
  }

  write(frame: Frame): void {
    if (this.closed || !this.info) return;
    assertRate(frame, PIPELINE_RATE, 'TwilioIO.write');
    for (const out of this.outChunker.push(this.outResampler.process(frame.samples))) this.enqueue(encodeMulaw(out.samples));
  }

  clear(): number {
    if (this.closed || !this.info) return 0;
    // One µ-law byte per sample: what the chunker holds counts like what waits to be sent.
    const droppedBytes = this.pendingBytes + this.outChunker.pending;
    const unplayed = this.marks.reduce((sum, m) => sum + m.ms, 0);
    this.pending = [];
    this.pendingBytes = 0;
    this.marks.length = 0;
    this.outResampler.flush();
    this.outChunker.reset();
    this.sendJson({ event: 'clear', streamSid: this.info.streamSid });
    if (this.counters) this.counters.clears++;
    this.resolvePlayout();
    return unplayed + droppedBytes / BYTES_PER_MS;
  }

  waitForPlayout(): Promise<void> {
    if (this.closed || !this.info) return Promise.resolve();
    const tail = this.outChunker.flush(true);
    if (tail) this.enqueue(encodeMulaw(tail.samples));
    this.flush();
    if (this.marks.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.playoutWaiters.push(resolve);
      this.armPlayoutTimer();
    });
  }

  playedMs(): number {
    return this.played;
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.off(event, listener);
  }

  async close(reason: CallEndReason): Promise<void> {
    if (this.closed) return;
    this.teardown();
    if (this.socket.readyState === OPEN) this.socket.close(CLOSE_NORMAL, `call ended: ${reason}`.slice(0, 120));
  }

  // ---- outbound ----

  private queuedMs(): number {
    return this.marks.reduce((sum, m) => sum + m.ms, 0) + this.pendingBytes / BYTES_PER_MS;
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.queuedMs() + bytes.length / BYTES_PER_MS > this.maxQueuedMs) {
      this.stats.outboundDropped++;
      if (!this.warnedDrop) {
        this.warnedDrop = true;
        this.logger.warn({ stream: this.id, maxQueuedMs: this.maxQueuedMs }, 'Twilio is not playing bot audio back (no marks echoed); dropping what exceeds the queue bound');
      }
      return;
    }
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= this.chunkBytes) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private flush(): void {
    if (this.pendingBytes === 0 || !this.info || this.closed) return;
    const bytes = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    for (let at = 0; at < bytes.length; at += this.chunkBytes) {
      const chunk = bytes.subarray(at, Math.min(bytes.length, at + this.chunkBytes));
      const name = `m${++this.markSeq}`;
      const ms = chunk.length / BYTES_PER_MS;
      this.sendJson({ event: 'media', streamSid: this.info.streamSid, media: { payload: chunk.toString('base64') } });
      this.sendJson({ event: 'mark', streamSid: this.info.streamSid, mark: { name } });
      this.marks.push({ name, ms });
      this.expectedEnd = Math.max(Date.now(), this.expectedEnd) + ms;
      this.stats.chunksOut++;
      if (this.counters) this.counters.marksSent++;
    }
  }

  private onMark(name: string): void {
    const at = this.marks.findIndex((m) => m.name === name);
    // A mark cleared by us and echoed afterwards, or one we never sent: nothing more was played.
    if (at < 0) return;
    // Marks are echoed in order; one missing before this was played too.
    for (const m of this.marks.splice(0, at + 1)) this.played += m.ms;
    this.stats.marksEchoed++;
    if (this.counters) this.counters.marksEchoed++;
    if (this.marks.length === 0) this.resolvePlayout();
  }

  private armPlayoutTimer(): void {
    clearTimeout(this.playoutTimer);
    this.playoutTimer = setTimeout(() => {
      this.logger.warn({ stream: this.id, unechoed: this.marks.length }, 'Twilio did not echo the marks of audio that should have played; going on');
      this.resolvePlayout();
    }, Math.max(0, this.expectedEnd - Date.now()) + this.markGraceMs);
    this.playoutTimer.unref();
  }

  private resolvePlayout(): void {
    clearTimeout(this.playoutTimer);
    this.playoutTimer = undefined;
    for (const w of this.playoutWaiters.splice(0)) w();
  }

  private sendJson(message: unknown): void {
    if (this.socket.readyState === OPEN) this.socket.send(JSON.stringify(message));
  }

  // ---- inbound ----

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.closed) return;
    try {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (bytes.length > this.maxMessageBytes) return this.bad('oversized', `message of ${bytes.length} bytes is over the ${this.maxMessageBytes}-byte limit`, true);
      if (isBinary) return this.bad('malformed', 'binary frame: Twilio Media Streams messages are JSON text', true);
      this.onText(bytes.toString('utf8'));
    } catch (err) {
      this.fail(err);
    }
  };

  private onText(text: string): void {
    const parsed = parseTwilioMessage(text);
    if (!parsed.ok) return this.bad(parsed.kind, parsed.message, parsed.kind !== 'unknown-event');
    const msg = parsed.message;
    if (msg.event === 'connected') return;
    if (msg.event === 'start') {
      if (this.info) return this.bad('malformed', `second "start" (stream ${this.info.streamSid} already started)`, true);
      const f = msg.start.mediaFormat;
      if (f.encoding !== 'audio/x-mulaw' || f.sampleRate !== TWILIO_RATE || f.channels !== 1) {
        return this.bad('unsupported-format', `unsupported mediaFormat ${f.encoding} ${f.sampleRate} Hz ${f.channels} channel(s); only audio/x-mulaw 8000 Hz mono`, true, CLOSE_UNSUPPORTED);
      }
      this.info = msg.start;
      this.logger.info({ stream: msg.streamSid, callSid: msg.start.callSid }, 'Twilio stream started');
      for (const w of this.startWaiters.splice(0)) w(this.info);
      return;
    }
    if (!this.info) {
      const kind = msg.event === 'media' ? 'media-before-start' : 'malformed';
      return this.bad(kind, `"${msg.event}" before "start"`, true);
    }
    if (msg.streamSid !== this.info.streamSid) {
      return this.bad('unknown-stream', `"${msg.event}" for unknown stream ${JSON.stringify(msg.streamSid.slice(0, 64))} (this one is ${this.info.streamSid})`, false);
    }
    switch (msg.event) {
      case 'media':
        return this.onMedia(msg.payload);
      case 'dtmf':
        if (!this.inbound.ended) this.emitter.emit('dtmf', msg.digit);
        return;
      case 'mark':
        return this.onMark(msg.name);
      case 'stop':
        this.logger.info({ stream: this.id }, 'Twilio stream stopped');
        this.callerGone('caller_hangup');
        return;
    }
  }

  private onMedia(payload: string): void {
    if (this.inbound.ended) return;
    const bytes = decodePayload(payload);
    if (!bytes) return this.bad('malformed', '"media.payload" is not base64', true);
    if (bytes.length === 0) return;
    for (const frame of this.inChunker.push(this.inResampler.process(decodeMulaw(bytes)))) {
      this.inbound.push(frame);
      this.stats.framesIn++;
    }
    this.stats.inboundDropped = this.inbound.dropped;
  }

  /** Counts and logs a bad message; a malformed one ends this stream (and only this one). */
  private bad(kind: TwilioBadKind, message: string, fatal: boolean, code = CLOSE_POLICY): void {
    this.stats.badMessages++;
    this.onBad?.(kind, message);
    this.logger.warn({ stream: this.id, kind, problem: message, closing: fatal }, 'bad message on a Twilio stream');
    if (!fatal) return;
    this.callerGone('transport_error');
    this.teardown();
    if (this.socket.readyState === OPEN) this.socket.close(code, message.slice(0, 120));
  }

  private readonly onSocketClose = (code: number): void => {
    this.callerGone(code === CLOSE_NORMAL || code === 1001 || code === 1005 ? 'caller_hangup' : 'transport_error');
    this.teardown();
  };

  private callerGone(reason: CallEndReason): void {
    this.endInput();
    if (this.hungUp || this.closed) return;
    this.hungUp = true;
    this.emitter.emit('hangup', reason);
  }

  private fail(err: unknown): void {
    this.logger.error({ stream: this.id, err }, 'Twilio transport failed');
    this.callerGone('transport_error');
    this.teardown();
    if (this.socket.readyState === OPEN) this.socket.close(CLOSE_SERVER_ERROR, 'internal error');
  }

  private endInput(): void {
    if (this.inbound.ended) return;
    this.inbound.end();
    for (const w of this.startWaiters.splice(0)) w(undefined);
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.endInput();
    this.resolvePlayout();
    this.inResampler.close();
    this.outResampler.close();
    this.socket.off('message', this.onMessage);
  }
}
