/**
 * CallIO over one AudioSocket TCP connection (Asterisk is the client). Caller
 * slin arrives at the rate its frame kind names and is resampled to the
 * pipeline rate; bot audio leaves at the call's wire rate in 20 ms frames, one
 * socket write per frame, paced in real time with a small lead because
 * Asterisk forwards whatever it gets at once. Idle slots carry silence: with
 * no traffic for 2 s Asterisk fails the call.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Chunker } from '../../audio/chunker.js';
import { FRAME_MS, PIPELINE_RATE, assertRate, samplesPerFrame, type Frame } from '../../audio/frame.js';
import { Pacer } from '../../audio/pacer.js';
import type { Resampler, ResamplerFactory } from '../../audio/resample.js';
import { decodeSlinLe } from '../../audio/slin.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../../call/io.js';
import { InboundFrames } from '../../call/inbound-frames.js';
import { silentLogger, type Logger } from '../../log.js';
import { FrameError, FrameParser, HANGUP_FRAME, audioKindForRate, encodeAudioFrame, type AudioSocketFrame } from './frames.js';

/** Why a connection ended, for logs and counters. */
export type AudioSocketEndCause =
  | 'hangup_frame'
  | 'eof'
  | 'error_frame'
  | 'malformed'
  | 'unknown_kind'
  | 'oversized'
  | 'truncated'
  | 'empty_audio'
  | 'not_reading'
  | 'half_open'
  | 'socket_error'
  | 'reset'
  | 'bot_closed'
  | 'internal_error';

export interface AudioSocketIOOptions {
  /** The call's UUID (from the first frame). */
  id: string;
  socket: Socket;
  resampler: ResamplerFactory;
  /** The parser that read the UUID frame, so bytes already buffered behind it are not lost. */
  parser?: FrameParser;
  /** Frames already parsed behind the UUID. */
  pending?: AudioSocketFrame[];
  /** A bad frame already found behind the UUID (and the pending frames). */
  pendingError?: FrameError;
  /** Outbound rate until the caller's first audio frame names one. Default 8000 (AudioSocket() forces slin 8 kHz). */
  wireRate?: number;
  /** How far ahead of real time a frame may leave; Asterisk plays early frames as a burst. Default 40 ms. */
  leadMs?: number;
  /** Largest accepted frame payload. Default 8192 bytes. */
  maxPayloadBytes?: number;
  /** Bytes the socket may hold unsent before the client counts as not reading. Default 64 KiB. */
  maxBufferedBytes?: number;
  /**
   * How long unsent bytes may stay queued without the queue ever emptying before the
   * client counts as not reading. Default 5 s. Both bounds only start to count once
   * the kernel's socket buffers are full: on Linux defaults that holds a few MB, so a
   * client that stops reading is found some minutes of 8 kHz audio later.
   */
  writeStallMs?: number;
  /** No bytes from Asterisk for this long (it sends audio every 20 ms) ends the call as half-open. Default 10 s. */
  idleTimeoutMs?: number;
  /** Caller audio waiting for the call to read it; the oldest is dropped beyond this. Default 5 s. */
  maxInboundMs?: number;
  /** Bot audio waiting to be sent. Default 120 s. */
  maxOutboundMs?: number;
  resampleQuality?: number;
  logger?: Logger;
  /** Called once when the connection is over, with why. */
  onEnd?: (cause: AudioSocketEndCause, detail?: string) => void;
  now?: () => number;
}

export interface AudioSocketIOStats {
  framesIn: number;
  /** Bot audio frames written. */
  framesOut: number;
  /** Keep-alive silence frames written. */
  silenceOut: number;
  dtmf: number;
  inboundDropped: number;
}

const FRAME_CAUSES: ReadonlySet<string> = new Set(['malformed', 'unknown_kind', 'oversized', 'truncated', 'empty_audio']);

export class AudioSocketIO implements CallIO {
  readonly id: string;
  readonly sampleRate = PIPELINE_RATE;
  readonly stats: AudioSocketIOStats = { framesIn: 0, framesOut: 0, silenceOut: 0, dtmf: 0, inboundDropped: 0 };
  /** Told the clock's time right after each audio frame (bot or keep-alive silence) is handed to the socket: pacing as palabre produces it, before the network and the peer add theirs. */
  onFrameSent: ((atMs: number) => void) | undefined;

  private readonly socket: Socket;
  private readonly factory: ResamplerFactory;
  private readonly parser: FrameParser;
  private readonly logger: Logger;
  private readonly emitter = new EventEmitter();
  private readonly leadMs: number;
  private readonly maxBufferedBytes: number;
  private readonly writeStallMs: number;
  private readonly maxOutboundMs: number;
  private readonly quality: number;
  private readonly now: () => number;
  private readonly onEnd?: (cause: AudioSocketEndCause, detail?: string) => void;

  private wire!: { rate: number; resampler: Resampler; chunker: Chunker; pacer: Pacer };
  private inResampler: Resampler | undefined;
  private readonly inChunker = new Chunker(PIPELINE_RATE);
  /** Caller samples on their way to the resampler, which copies them at once: one buffer for every frame. */
  private decoded = new Int16Array(0);

  private readonly inbound: InboundFrames;
  private closed = false;
  private endCause: AudioSocketEndCause | undefined;
  private sentMs = 0;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private playEnd = -Infinity;
  /** Since when the socket has held unsent bytes without emptying. */
  private backlogSince: number | undefined;

  constructor(options: AudioSocketIOOptions) {
    this.id = options.id;
    this.socket = options.socket;
    this.factory = options.resampler;
    this.parser = options.parser ?? new FrameParser(options.maxPayloadBytes);
    this.logger = options.logger ?? silentLogger;
    this.leadMs = options.leadMs ?? 40;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 64 * 1024;
    this.writeStallMs = options.writeStallMs ?? 5_000;
    this.inbound = new InboundFrames(options.maxInboundMs ?? 5_000, () =>
      this.logger.warn({ call: this.id }, 'the call is not keeping up with the caller audio; dropping the oldest frames'),
    );
    this.maxOutboundMs = options.maxOutboundMs ?? 120_000;
    this.quality = options.resampleQuality ?? 5;
    this.now = options.now ?? (() => performance.now());
    this.onEnd = options.onEnd;
    this.openWire(options.wireRate ?? 8_000);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 5_000);
    // socket.setTimeout would count our own writes (silence every 20 ms) as activity; only reads matter here.
    const idleMs = options.idleTimeoutMs ?? 10_000;
    this.idleTimer = idleMs > 0 ? setTimeout(this.onIdle, idleMs) : undefined;
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEof);
    this.socket.on('error', this.onSocketError);
    this.socket.on('close', this.onSocketClose);
    this.deliver(options.pending ?? [], options.pendingError);
  }

  /** The rate bot audio leaves at (the caller's, once known). */
  get wireRate(): number {
    return this.wire.rate;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Why the connection ended, once it has. */
  get cause(): AudioSocketEndCause | undefined {
    return this.endCause;
  }

  /** Bot audio handed to the socket so far, and when the last of it finishes playing (this IO's clock): what playedMs() is computed from. */
  get playout(): { sentMs: number; playEnd: number } {
    return { sentMs: this.sentMs, playEnd: this.playEnd };
  }

  get pacerStats(): Pacer['stats'] {
    return this.wire.pacer.stats;
  }

  // ---- CallIO ----

  frames(): AsyncGenerator<Frame, void, undefined> {
    return this.inbound.read(`AudioSocketIO ${this.id}`);
  }

  write(frame: Frame): void {
    if (this.closed) return;
    assertRate(frame, PIPELINE_RATE, 'AudioSocketIO.write');
    const { rate, resampler, chunker, pacer } = this.wire;
    const samples = resampler.process(frame.samples);
    // The usual case, one whole frame in and out: no re-framing copy.
    if (chunker.pending === 0 && samples.length === chunker.frameSize) pacer.push({ samples, sampleRate: rate });
    else for (const out of chunker.push(samples)) pacer.push(out);
  }

  clear(): number {
    if (this.closed) return 0;
    const now = this.now();
    const inFlight = Math.max(0, this.playEnd - now);
    this.sentMs -= inFlight;
    this.playEnd = Math.min(this.playEnd, now);
    const queued = this.wire.pacer.clear();
    this.wire.resampler.flush();
    this.wire.chunker.reset();
    return queued + inFlight;
  }

  waitForPlayout(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const tail = this.wire.chunker.flush(true);
    if (tail) this.wire.pacer.push(tail);
    return this.wire.pacer.drained();
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
    this.logger.debug({ call: this.id, reason, transferTarget: detail?.transferTarget }, 'audiosocket call closed by palabre');
    this.finish('bot_closed', reason, true);
  }

  // ---- wire ----

  private openWire(rate: number): void {
    const kind = audioKindForRate(rate);
    const silence: Frame = { samples: new Int16Array(samplesPerFrame(rate)), sampleRate: rate };
    // Keep-alive silence fills most slots of a call: encoded once, the same bytes every time.
    const silenceBytes = encodeAudioFrame(kind, silence.samples);
    const pacer = new Pacer({
      sampleRate: rate,
      leadMs: this.leadMs,
      maxQueueMs: this.maxOutboundMs,
      now: this.now,
      onIdle: () => silence,
      send: (frame) => (frame === silence ? this.sendAudio(silenceBytes, true) : this.sendAudio(encodeAudioFrame(kind, frame.samples), false)),
      onError: (err) => this.fail(err),
    });
    // The pacer sends its first silence from its constructor, which may already end the call.
    if (this.closed) pacer.stop();
    this.wire = { rate, resampler: this.factory.create(PIPELINE_RATE, rate, { quality: this.quality }), chunker: new Chunker(rate), pacer };
  }

  /** The caller's audio names a rate other than the one we send at: answer at the caller's. */
  private switchWire(rate: number): void {
    const old = this.wire;
    old.pacer.stop();
    old.resampler.close();
    this.openWire(rate);
  }

  private sendAudio(bytes: Buffer, isSilence: boolean): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.clientStalled()) return;
    if (isSilence) this.stats.silenceOut++;
    else {
      const now = this.now();
      this.playEnd = Math.max(now, this.playEnd) + FRAME_MS;
      this.sentMs += FRAME_MS;
      this.stats.framesOut++;
    }
    this.socket.write(bytes);
    this.onFrameSent?.(this.now());
  }

  /**
   * Whether the client has stopped reading, ending the call if so. A healthy
   * client takes every frame as it comes, so our unsent backlog stays empty; one
   * that grows past the byte bound, or never empties for writeStallMs, means the
   * far end's receive side is stuck (and its buffers would only grow).
   */
  private clientStalled(): boolean {
    const backlog = this.socket.writableLength;
    if (backlog === 0) {
      this.backlogSince = undefined;
      return false;
    }
    const now = this.now();
    this.backlogSince ??= now;
    const stalledMs = now - this.backlogSince;
    let why: string | undefined;
    if (backlog > this.maxBufferedBytes) why = `${backlog} bytes unsent, over the ${this.maxBufferedBytes}-byte bound`;
    else if (stalledMs > this.writeStallMs) why = `bytes left unsent for ${Math.round(stalledMs)} ms (${backlog} now), over the ${this.writeStallMs} ms bound`;
    if (!why) return false;
    this.finish('not_reading', 'transport_error', false, `the client stopped reading: ${why}`);
    return true;
  }

  // ---- inbound ----

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    this.idleTimer?.refresh();
    let read: ReturnType<FrameParser['read']>;
    try {
      read = this.parser.read(chunk);
    } catch (err) {
      return this.fail(err);
    }
    this.deliver(read.frames, read.error);
  };

  /** Frames in order, then the stream's error if it has one: a DTMF or hangup just before garbage still counts. */
  private deliver(frames: AudioSocketFrame[], error: FrameError | undefined): void {
    try {
      for (const frame of frames) {
        if (this.closed) return;
        this.onFrame(frame);
      }
    } catch (err) {
      return this.fail(err);
    }
    if (error && !this.closed) this.frameFailure(error);
  }

  private onFrame(frame: AudioSocketFrame): void {
    switch (frame.type) {
      case 'audio':
        return this.onAudio(frame.sampleRate, frame.payload);
      case 'dtmf':
        this.stats.dtmf++;
        this.emitter.emit('dtmf', frame.digit);
        return;
      case 'hangup':
        return this.finish('hangup_frame', 'caller_hangup', false);
      case 'error':
        this.logger.info({ call: this.id, code: frame.code }, 'audiosocket error frame from Asterisk; ending the call');
        return this.finish('error_frame', frame.code === 0x01 ? 'caller_hangup' : 'transport_error', false, `error code ${frame.code ?? 'none'}`);
      case 'uuid':
        return this.finish('malformed', 'transport_error', true, 'a second UUID frame in the middle of the call');
    }
  }

  private onAudio(rate: number, payload: Buffer): void {
    if (this.inbound.ended) return;
    if (!this.inResampler || this.inResampler.fromRate !== rate) {
      this.inResampler?.close();
      this.inResampler = rate === PIPELINE_RATE ? undefined : this.factory.create(rate, PIPELINE_RATE, { quality: this.quality });
      if (rate !== this.wire.rate) this.switchWire(rate);
    }
    let pcm: Int16Array;
    if (this.inResampler) {
      if (this.decoded.length < payload.length >> 1) this.decoded = new Int16Array(payload.length >> 1);
      pcm = this.inResampler.process(decodeSlinLe(payload, this.decoded));
    } else pcm = decodeSlinLe(payload);
    if (this.inChunker.pending === 0 && pcm.length === this.inChunker.frameSize) {
      this.inbound.push({ samples: pcm, sampleRate: PIPELINE_RATE });
      this.stats.framesIn++;
    } else {
      for (const frame of this.inChunker.push(pcm)) {
        this.inbound.push(frame);
        this.stats.framesIn++;
      }
    }
    this.stats.inboundDropped = this.inbound.dropped;
  }

  private frameFailure(err: unknown): void {
    if (err instanceof FrameError && FRAME_CAUSES.has(err.problem)) {
      this.finish(err.problem, 'transport_error', true, err.message);
    } else this.fail(err);
  }

  private readonly onEof = (): void => {
    if (this.closed) return;
    try {
      this.parser.end();
    } catch (err) {
      return this.frameFailure(err);
    }
    this.finish('eof', 'caller_hangup', false);
  };

  private readonly onIdle = (): void => {
    this.finish('half_open', 'transport_error', false, 'no bytes from Asterisk within the idle timeout');
  };

  private readonly onSocketError = (err: NodeJS.ErrnoException): void => {
    // Asterisk hangs up by closing its socket; when our latest frames are still
    // unread there, its kernel answers with a reset instead of a FIN.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') this.finish('reset', 'caller_hangup', false, err.message);
    else this.finish('socket_error', 'transport_error', false, err.message);
  };

  private readonly onSocketClose = (): void => {
    this.finish('eof', 'caller_hangup', false);
  };

  private fail(err: unknown): void {
    this.logger.error({ call: this.id, err }, 'audiosocket transport failed');
    this.finish('internal_error', 'transport_error', true, (err as Error)?.message);
  }

  /**
   * Ends the connection once: stops playout, tells the call (unless it asked),
   * sends a hangup frame when the socket can still take one, and closes.
   */
  private finish(cause: AudioSocketEndCause, reason: CallEndReason, sendHangup: boolean, detail?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.endCause = cause;
    this.inbound.end();
    const wire = this.wire as typeof this.wire | undefined;
    wire?.pacer.stop();
    wire?.resampler.close();
    this.inResampler?.close();
    this.socket.off('data', this.onData);
    clearTimeout(this.idleTimer);
    if (cause !== 'bot_closed') this.emitter.emit('hangup', reason);
    const socket = this.socket;
    if (!socket.destroyed) {
      if (cause === 'not_reading' || cause === 'half_open') socket.destroy();
      else {
        if (sendHangup && socket.writable) socket.write(HANGUP_FRAME);
        socket.end();
        // A peer that never closes its side must not hold the socket forever.
        setTimeout(() => socket.destroy(), 2_000).unref();
      }
    }
    if (cause !== 'eof' && cause !== 'reset' && cause !== 'hangup_frame' && cause !== 'bot_closed') {
      this.logger.info({ call: this.id, cause, detail }, 'audiosocket call ended');
    }
    this.onEnd?.(cause, detail);
  }

}
