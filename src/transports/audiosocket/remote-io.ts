/**
 * CallIO on the main thread for a connection the AudioSocket media thread
 * owns. Bot audio is queued on the link (it leaves with the turn's other
 * messages); caller audio, digits and hangup come back the same way. What
 * the caller has heard is read from the connection's shared slot, which the
 * media thread updates as it sends, so playedMs() and clear() answer at once.
 */
import { EventEmitter } from 'node:events';
import { PIPELINE_RATE, assertRate, type Frame } from '../../audio/frame.js';
import { InboundFrames } from '../../call/inbound-frames.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../../call/io.js';
import type { Logger } from '../../log.js';
import type { AudioSocketEndCause, AudioSocketIOStats } from './io.js';
import { epochNow, SLOT, type ToMedia } from './media-protocol.js';
import type { Outbox } from './media-outbox.js';

export interface RemoteLink {
  readonly out: Outbox<ToMedia>;
  nextReq(): number;
  /** Registers a drain request, resolved when the media thread answers (or the link dies). */
  onDrained(req: number, done: () => void): void;
}

export class RemoteAudioSocketIO implements CallIO {
  readonly sampleRate = PIPELINE_RATE;
  /** Told the time (this thread's performance.now()) each audio frame was handed to the socket, when the server reports frame sends. */
  onFrameSent: ((atMs: number) => void) | undefined;

  private readonly emitter = new EventEmitter();
  private readonly inbound: InboundFrames;
  private readonly slot: Float64Array;
  private hungUp = false;
  private gone = false;
  private endCause: AudioSocketEndCause | undefined;
  private writtenMs = 0;
  private readonly closedSignal: Promise<void>;
  private signalClosed!: () => void;

  constructor(
    readonly id: string,
    readonly conn: number,
    slot: SharedArrayBuffer,
    private readonly link: RemoteLink,
    logger: Logger,
    maxInboundMs = 5_000,
  ) {
    this.slot = new Float64Array(slot);
    this.inbound = new InboundFrames(maxInboundMs, () => logger.warn({ call: id }, 'the call is not keeping up with the caller audio; dropping the oldest frames'));
    this.closedSignal = new Promise((resolve) => (this.signalClosed = resolve));
  }

  get isClosed(): boolean {
    return this.hungUp || this.gone;
  }

  /** Why the connection ended, once the media thread has said. */
  get cause(): AudioSocketEndCause | undefined {
    return this.endCause;
  }

  get stats(): AudioSocketIOStats {
    const s = this.slot;
    return { framesIn: s[SLOT.framesIn], framesOut: s[SLOT.framesOut], silenceOut: s[SLOT.silenceOut], dtmf: s[SLOT.dtmf], inboundDropped: s[SLOT.inboundDropped] + this.inbound.dropped };
  }

  get pacerStats(): { lateFrames: number; maxLatenessMs: number } {
    return { lateFrames: this.slot[SLOT.lateFrames], maxLatenessMs: this.slot[SLOT.maxLatenessMs] };
  }

  // ---- CallIO ----

  frames(): AsyncGenerator<Frame, void, undefined> {
    return this.inbound.read(`RemoteAudioSocketIO ${this.id}`);
  }

  write(frame: Frame): void {
    if (this.isClosed) return;
    assertRate(frame, PIPELINE_RATE, 'AudioSocketIO.write');
    this.link.out.audio(this.conn, frame.samples);
    this.writtenMs += (frame.samples.length * 1000) / PIPELINE_RATE;
  }

  clear(): number {
    if (this.isClosed) return 0;
    const played = this.playedMs();
    const dropped = Math.max(0, this.writtenMs - played);
    this.writtenMs = played;
    this.link.out.push({ t: 'clear', conn: this.conn });
    return dropped;
  }

  waitForPlayout(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    const req = this.link.nextReq();
    const done = new Promise<void>((resolve) => this.link.onDrained(req, resolve));
    this.link.out.push({ t: 'drain', conn: this.conn, req });
    return done;
  }

  playedMs(): number {
    const sent = this.slot[SLOT.sentMs];
    return Math.max(0, sent - Math.max(0, this.slot[SLOT.playEnd] - epochNow()));
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.off(event, listener);
  }

  async close(reason: CallEndReason, detail?: { transferTarget?: string }): Promise<void> {
    if (this.gone) return;
    if (!this.hungUp) {
      this.hungUp = true;
      this.link.out.push({ t: 'close', conn: this.conn, reason, ...(detail?.transferTarget ? { transferTarget: detail.transferTarget } : {}) });
    }
    await this.closedSignal;
  }

  // ---- from the media thread ----

  /** @internal */
  receive(samples: Int16Array): void {
    this.inbound.push({ samples, sampleRate: PIPELINE_RATE });
  }

  /** @internal */
  digit(digit: string): void {
    this.emitter.emit('dtmf', digit);
  }

  /** @internal */
  hangup(reason: CallEndReason): void {
    if (this.isClosed) return;
    this.hungUp = true;
    this.emitter.emit('hangup', reason);
  }

  /** @internal The connection is gone (or the media thread is): no more frames. */
  closed(cause: AudioSocketEndCause | undefined, reason?: CallEndReason): void {
    if (this.gone) return;
    if (reason) this.hangup(reason);
    this.gone = true;
    this.endCause = cause;
    this.inbound.end();
    this.signalClosed();
  }
}
