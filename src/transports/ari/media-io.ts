/**
 * The call's media as the flow sees it, whichever transport externalMedia
 * uses (an RtpIO, or the AudioSocketIO Asterisk connected): keypad digits and
 * the caller leaving come from ARI events (the one source for both, so a
 * digit a media channel also forwards is not counted twice), the way the bot
 * ended the call (a transfer's target) is kept for the teardown, and caller
 * audio heard while palabre's own welcome plays can be dropped, so the flow
 * does not take it for an answer to a question it has not asked yet.
 */
import { EventEmitter } from 'node:events';
import type { Frame } from '../../audio/frame.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../../call/io.js';

/** The transport under the call: closed by the ARI call's teardown, never by the flow directly. */
export interface MediaTransport extends CallIO {
  readonly isClosed: boolean;
}

const DTMF = /^[0-9A-D*#]$/;

export class AriMediaIO implements CallIO {
  readonly id: string;
  readonly sampleRate: number;
  private readonly emitter = new EventEmitter();
  private hungUp = false;
  private closedWith: { reason: CallEndReason; transferTarget?: string } | undefined;
  private source: AsyncIterator<Frame, void> | undefined;
  private muted = false;
  private draining: Promise<void> | undefined;
  /** What the drain read after the caller was heard again: the flow's first frame, or the end. */
  private held: IteratorResult<Frame, void> | undefined;

  constructor(readonly transport: MediaTransport) {
    this.id = transport.id;
    this.sampleRate = transport.sampleRate;
    transport.on('hangup', (reason) => this.remoteHangup(reason));
  }

  /** How the bot ended the call, when it did. */
  get endedBy(): { reason: CallEndReason; transferTarget?: string } | undefined {
    return this.closedWith;
  }

  /** A keypad digit ARI reported on the caller's channel (ChannelDtmfReceived). */
  dtmf(digit: string): void {
    if (this.hungUp || this.transport.isClosed || !DTMF.test(digit)) return;
    this.emitter.emit('dtmf', digit);
  }

  /** The caller, or the media channel, is gone; told once. */
  remoteHangup(reason: CallEndReason): void {
    if (this.hungUp) return;
    this.hungUp = true;
    this.emitter.emit('hangup', reason);
  }

  /** Reads and drops the caller's audio until hearCaller(). */
  muteCaller(): void {
    if (this.muted || this.draining) return;
    this.muted = true;
    const source = (this.source ??= this.transport.frames()[Symbol.asyncIterator]());
    this.draining = (async () => {
      for (;;) {
        const next = await source.next();
        if (!this.muted || next.done) {
          this.held = next;
          return;
        }
      }
    })();
  }

  hearCaller(): void {
    this.muted = false;
  }

  async *frames(): AsyncGenerator<Frame, void, undefined> {
    const source = (this.source ??= this.transport.frames()[Symbol.asyncIterator]());
    if (this.draining) {
      // The drain is waiting for a frame: that one arrives after hearCaller(), so it is the flow's.
      this.hearCaller();
      await this.draining;
      const held = this.held;
      this.held = undefined;
      if (!held || held.done) return;
      yield held.value;
    }
    for (;;) {
      const next = await source.next();
      if (next.done) return;
      yield next.value;
    }
  }

  write(frame: Frame): void {
    this.transport.write(frame);
  }

  clear(): number {
    return this.transport.clear();
  }

  waitForPlayout(): Promise<void> {
    return this.transport.waitForPlayout();
  }

  playedMs(): number {
    return this.transport.playedMs();
  }

  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.on(event, listener);
  }

  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void {
    this.emitter.off(event, listener);
  }

  async close(reason: CallEndReason, detail?: { transferTarget?: string }): Promise<void> {
    this.closedWith ??= { reason, ...(detail?.transferTarget ? { transferTarget: detail.transferTarget } : {}) };
    await this.transport.close(reason, detail);
  }
}
