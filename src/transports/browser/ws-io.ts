/**
 * CallIO over one browser WebSocket (protocol in ./protocol.ts). Caller audio
 * arrives as PCM16 at the client's rate in chunks of any even length; it is
 * resampled to the pipeline rate and re-framed into 20 ms frames. Bot audio
 * leaves at the client's rate, paced with a generous lead: the page buffers
 * it, and what the pacer still holds is what clear() can take back. clear()
 * also tells the page to drop its own buffer, so on a barge-in the bot goes
 * quiet at both ends.
 *
 * Nothing a client sends can throw out of here: every bad message is answered
 * with an error message naming it, and a client that keeps sending garbage is
 * disconnected with 1008 (policy violation).
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { RawData, WebSocket } from 'ws';
import { Chunker } from '../../audio/chunker.js';
import { FRAME_MS, PIPELINE_RATE, assertRate, type Frame } from '../../audio/frame.js';
import { Pacer } from '../../audio/pacer.js';
import type { Resampler, ResamplerFactory } from '../../audio/resample.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../../call/io.js';
import { InboundFrames } from '../../call/inbound-frames.js';
import { silentLogger, type Logger } from '../../log.js';
import { leBytesFromSamples, samplesFromLeBytes } from './pcm.js';
import { parseClientMessage, type ClientRate, type ServerMessage } from './protocol.js';

export interface WsCallIOOptions {
  id: string;
  socket: WebSocket;
  resampler: ResamplerFactory;
  /** The client's rate when the session already declared it; otherwise the client's `start` message sets it. */
  clientRate?: ClientRate;
  logger?: Logger;
  /** How far ahead of real time bot audio is sent; the page buffers it. Default 200 ms. */
  leadMs?: number;
  /** Largest accepted message, text or binary. Default 64 KiB. */
  maxMessageBytes?: number;
  /** This many bad messages within `badWindowMs` closes the socket with 1008. Default 5 in 10 s. */
  badMessageLimit?: number;
  badWindowMs?: number;
  /** Caller audio waiting for the call to read it; the oldest is dropped beyond this. Default 5 s. */
  maxInboundMs?: number;
  /** Bot audio waiting to be sent; write() throws beyond this. Default 120 s. */
  maxOutboundMs?: number;
  /** Bytes the socket may hold unsent before the client counts as gone. Default 2 MiB. */
  maxBufferedBytes?: number;
  resampleQuality?: number;
  now?: () => number;
}

export interface WsCallIOStats {
  framesIn: number;
  framesOut: number;
  badMessages: number;
  /** Caller frames dropped because the call did not read them in time. */
  inboundDropped: number;
}

/** Close codes: RFC 6455 §7.4.1. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_UNSUPPORTED = 1003;
export const CLOSE_POLICY = 1008;
export const CLOSE_SERVER_ERROR = 1011;

const OPEN = 1;

/** WebSocket close reasons must fit in 123 bytes. */
function closeReason(text: string): string {
  const buf = Buffer.from(text);
  return buf.length <= 123 ? text : buf.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '') + '…';
}

function rawBytes(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class WsCallIO implements CallIO {
  readonly id: string;
  readonly sampleRate = PIPELINE_RATE;
  readonly stats: WsCallIOStats = { framesIn: 0, framesOut: 0, badMessages: 0, inboundDropped: 0 };

  private readonly socket: WebSocket;
  private readonly factory: ResamplerFactory;
  private readonly logger: Logger;
  private readonly emitter = new EventEmitter();
  private readonly leadMs: number;
  private readonly maxMessageBytes: number;
  private readonly badLimit: number;
  private readonly badWindowMs: number;
  private readonly maxOutboundMs: number;
  private readonly maxBufferedBytes: number;
  private readonly quality: number;
  private readonly now: () => number;

  private rate: ClientRate | undefined;
  private inResampler: Resampler | undefined;
  private inChunker = new Chunker(PIPELINE_RATE);
  private outResampler: Resampler | undefined;
  private outChunker: Chunker | undefined;
  private pacer: Pacer | undefined;

  private readonly inbound: InboundFrames;
  private closed = false;
  private hungUp = false;
  private badTimes: number[] = [];
  private startWaiters: Array<(started: boolean) => void> = [];

  /** Bot audio sent, and when the last frame sent finishes playing at the far end. */
  private sentMs = 0;
  private playEnd = -Infinity;

  constructor(options: WsCallIOOptions) {
    this.id = options.id;
    this.socket = options.socket;
    this.factory = options.resampler;
    this.logger = options.logger ?? silentLogger;
    this.leadMs = options.leadMs ?? 200;
    this.maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
    this.badLimit = options.badMessageLimit ?? 5;
    this.badWindowMs = options.badWindowMs ?? 10_000;
    this.inbound = new InboundFrames(options.maxInboundMs ?? 5_000, () =>
      this.logger.warn({ session: this.id }, 'the call is not keeping up with the caller audio; dropping the oldest frames'),
    );
    this.maxOutboundMs = options.maxOutboundMs ?? 120_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 2 * 1024 * 1024;
    this.quality = options.resampleQuality ?? 5;
    this.now = options.now ?? (() => performance.now());
    this.socket.on('message', this.onMessage);
    this.socket.on('close', this.onSocketClose);
    if (options.clientRate !== undefined) this.begin(options.clientRate);
  }

  /** The client's audio rate, once known. */
  get clientRate(): ClientRate | undefined {
    return this.rate;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves true once the client's rate is known (session or `start`), false if the socket goes first. */
  whenStarted(): Promise<boolean> {
    if (this.rate !== undefined) return Promise.resolve(true);
    if (this.closed || this.inbound.ended) return Promise.resolve(false);
    return new Promise((resolve) => this.startWaiters.push(resolve));
  }

  /** Sends one control or event message; dropped silently once the socket is gone. */
  send(message: ServerMessage): void {
    if (this.socket.readyState !== OPEN) return;
    this.socket.send(JSON.stringify(message));
  }

  /** Forwards a call event to the page. */
  sendEvent(event: unknown): void {
    this.send({ type: 'event', event });
  }

  // ---- CallIO ----

  frames(): AsyncGenerator<Frame, void, undefined> {
    return this.inbound.read(`WsCallIO ${this.id}`);
  }

  write(frame: Frame): void {
    if (this.closed) return;
    assertRate(frame, PIPELINE_RATE, 'WsCallIO.write');
    if (!this.pacer || !this.outResampler || !this.outChunker) return;
    const samples = this.outResampler.process(frame.samples);
    for (const out of this.outChunker.push(samples)) this.pacer.push(out);
  }

  clear(): number {
    if (this.closed || !this.pacer) return 0;
    const now = this.now();
    const inFlight = Math.max(0, this.playEnd - now);
    this.sentMs -= inFlight;
    this.playEnd = Math.min(this.playEnd, now);
    const queued = this.pacer.clear();
    // The resampler and chunker still hold a few samples of the cut sentence.
    this.outResampler?.flush();
    this.outChunker?.reset();
    this.send({ type: 'clear' });
    return queued + inFlight;
  }

  waitForPlayout(): Promise<void> {
    if (this.closed || !this.pacer) return Promise.resolve();
    const tail = this.outChunker?.flush(true);
    if (tail) this.pacer.push(tail);
    return this.pacer.drained();
  }

  playedMs(): number {
    return Math.max(0, this.sentMs - Math.max(0, this.playEnd - this.now()));
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.off(event, listener);
  }

  async close(reason: CallEndReason, detail?: { transferTarget?: string }): Promise<void> {
    if (this.closed) return;
    this.send({ type: 'ended', reason: detail?.transferTarget ? `${reason}:${detail.transferTarget}` : reason });
    this.teardown();
    if (this.socket.readyState === OPEN) this.socket.close(CLOSE_NORMAL, closeReason(`call ended: ${reason}`));
  }

  // ---- inbound ----

  private begin(rate: ClientRate): void {
    this.rate = rate;
    this.inResampler = this.factory.create(rate, PIPELINE_RATE, { quality: this.quality });
    this.outResampler = this.factory.create(PIPELINE_RATE, rate, { quality: this.quality });
    this.outChunker = new Chunker(rate);
    this.pacer = new Pacer({
      sampleRate: rate,
      leadMs: this.leadMs,
      maxQueueMs: this.maxOutboundMs,
      now: this.now,
      send: (frame) => this.sendAudio(frame),
      onError: (err) => this.fail(err),
    });
    for (const w of this.startWaiters.splice(0)) w(true);
  }

  private sendAudio(frame: Frame): void {
    if (this.socket.readyState !== OPEN) return;
    if (this.socket.bufferedAmount > this.maxBufferedBytes) {
      this.logger.warn({ session: this.id, buffered: this.socket.bufferedAmount }, 'browser client is not reading bot audio; closing');
      this.socket.close(CLOSE_POLICY, 'not reading bot audio');
      return;
    }
    const now = this.now();
    this.playEnd = Math.max(now, this.playEnd) + FRAME_MS;
    this.sentMs += FRAME_MS;
    this.stats.framesOut++;
    this.socket.send(leBytesFromSamples(frame.samples));
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    if (this.closed) return;
    try {
      const bytes = rawBytes(data);
      if (bytes.length > this.maxMessageBytes) {
        return this.refuse(`message of ${bytes.length} bytes is over the ${this.maxMessageBytes}-byte limit`);
      }
      if (isBinary) this.onAudio(bytes);
      else this.onControl(bytes.toString('utf8'));
    } catch (err) {
      // A fault of ours, not the client's: end this call only.
      this.fail(err);
    }
  };

  private onAudio(bytes: Buffer): void {
    if (this.inbound.ended) return;
    if (!this.inResampler) return this.refuse('audio frame before "start": send {"type":"start","sampleRate":16000} first');
    if (bytes.length % 2 !== 0) {
      return this.refuse(`odd-length binary frame (${bytes.length} bytes): PCM16 audio takes 2 bytes per sample`);
    }
    if (bytes.length === 0) return;
    const pcm = this.inResampler.process(samplesFromLeBytes(bytes));
    for (const frame of this.inChunker.push(pcm)) {
      this.inbound.push(frame);
      this.stats.framesIn++;
    }
    this.stats.inboundDropped = this.inbound.dropped;
  }

  private onControl(text: string): void {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) return this.refuse(parsed.message, parsed.fatal ? CLOSE_UNSUPPORTED : undefined);
    const msg = parsed.message;
    switch (msg.type) {
      case 'start':
        if (this.rate !== undefined) {
          return this.refuse(`already started at ${this.rate} Hz; "start" is sent once`);
        }
        this.begin(msg.sampleRate);
        return;
      case 'dtmf':
        if (this.inbound.ended) return;
        this.emitter.emit('dtmf', msg.digit);
        return;
      case 'hangup':
        this.callerGone('caller_hangup');
        return;
    }
  }

  /** Answers a bad message; a fatal one, or one too many, closes the socket. */
  private refuse(message: string, fatalCode?: number): void {
    this.stats.badMessages++;
    const now = this.now();
    this.badTimes = this.badTimes.filter((t) => now - t < this.badWindowMs);
    this.badTimes.push(now);
    const tooMany = this.badTimes.length >= this.badLimit;
    const code = fatalCode ?? (tooMany ? CLOSE_POLICY : undefined);
    this.logger.info({ session: this.id, problem: message, closing: code !== undefined }, 'bad message from browser client');
    if (code === undefined) {
      this.send({ type: 'error', message });
      return;
    }
    const text = fatalCode === undefined ? `${message} (${this.badTimes.length} bad messages in ${this.badWindowMs / 1000} s; closing)` : message;
    this.send({ type: 'error', message: text, fatal: true });
    this.callerGone('transport_error');
    if (this.socket.readyState === OPEN) this.socket.close(code, closeReason(text));
  }

  private readonly onSocketClose = (code: number): void => {
    this.callerGone(code === CLOSE_NORMAL || code === 1001 || code === 1005 ? 'caller_hangup' : 'transport_error');
    this.teardown();
  };

  /** The far end is gone (hung up, closed, or was closed for misbehaving): the call sees a hangup once. */
  private callerGone(reason: CallEndReason): void {
    this.endInput();
    if (this.hungUp || this.closed) return;
    this.hungUp = true;
    this.emitter.emit('hangup', reason);
  }

  private fail(err: unknown): void {
    this.logger.error({ session: this.id, err }, 'browser transport failed');
    this.send({ type: 'error', message: 'internal error in the browser transport; the call ends', fatal: true });
    this.callerGone('transport_error');
    if (this.socket.readyState === OPEN) this.socket.close(CLOSE_SERVER_ERROR, 'internal error');
    this.teardown();
  }

  private endInput(): void {
    if (this.inbound.ended) return;
    this.inbound.end();
    for (const w of this.startWaiters.splice(0)) w(false);
  }


  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    this.endInput();
    this.pacer?.stop();
    this.inResampler?.close();
    this.outResampler?.close();
    this.socket.off('message', this.onMessage);
  }
}
