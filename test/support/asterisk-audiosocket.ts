/**
 * An Asterisk AudioSocket peer written from the protocol notes
 * (shared/PROTOCOLS.md §1), independent of palabre's server code: it connects
 * as Asterisk does, sends the UUID, streams slin at real-time pace (silence
 * between lines, as a live channel does), DTMF and hangup, and checks every
 * frame the server sends back against what Asterisk accepts.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

const HANGUP = 0x00;
const UUID = 0x01;
const DTMF = 0x03;
const SLIN_RATES: Record<number, number> = { 0x10: 8000, 0x11: 12000, 0x12: 16000, 0x13: 24000, 0x14: 32000, 0x15: 44100, 0x16: 48000, 0x17: 96000, 0x18: 192000 };

export function frame(kind: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(3 + payload.length);
  b[0] = kind;
  b.writeUInt16BE(payload.length, 1);
  b.set(payload, 3);
  return b;
}

export function uuidFrame(uuid: string): Buffer {
  return frame(UUID, Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}

export interface Received {
  kind: number;
  length: number;
  at: number;
  silent: boolean;
}

export interface EmulatorOptions {
  host: string;
  port: number;
  uuid: string;
  /** Audio kind the emulator sends (0x10 = slin 8 kHz, as AudioSocket() forces). */
  kind?: number;
  /** Send the UUID at once (false leaves the test to write the first bytes). */
  sendUuid?: boolean;
  /** Stream silence between lines, as a live channel does. Default true. */
  stream?: boolean;
}

export class AsteriskAudioSocket {
  readonly received: Received[] = [];
  /** Everything Asterisk would refuse or that breaks the protocol notes. */
  readonly violations: string[] = [];
  readonly rate: number;
  readonly kind: number;
  readonly closed: Promise<void>;
  hangupReceived = false;
  private readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private queue: Int16Array[] = [];
  private queueDone: Array<() => void> = [];
  private ticker: NodeJS.Timeout | undefined;
  private slot = 0;
  private t0 = 0;
  private lastVoiceAt = -Infinity;
  private voiceFrames = 0;
  private ended = false;

  private constructor(socket: Socket, options: EmulatorOptions) {
    this.socket = socket;
    this.kind = options.kind ?? 0x10;
    this.rate = SLIN_RATES[this.kind];
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.closed = new Promise((resolve) => socket.on('close', () => {
      this.ended = true;
      this.stop();
      if (this.buf.length > 0) this.violations.push(`connection closed inside a frame (${this.buf.length} bytes left)`);
      resolve();
    }));
    socket.on('error', () => undefined);
  }

  static async connect(options: EmulatorOptions): Promise<AsteriskAudioSocket> {
    const socket = connect({ host: options.host, port: options.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new AsteriskAudioSocket(socket, options);
    if (options.sendUuid !== false) {
      peer.write(uuidFrame(options.uuid));
      if (options.stream !== false) peer.startStreaming();
    }
    return peer;
  }

  /** Raw bytes, for misbehaving on purpose. */
  write(bytes: Buffer): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
  }

  /** One 20 ms frame every 20 ms on a drift-free schedule: speech when queued, silence otherwise. */
  startStreaming(): void {
    const samples = this.rate / 50;
    const silence = new Int16Array(samples);
    this.t0 = performance.now();
    const tick = (): void => {
      if (this.ended) return;
      const now = performance.now();
      while (this.t0 + this.slot * 20 <= now) {
        let out = this.queue[0];
        if (out) {
          this.queue.shift();
          if (this.queue.length === 0) for (const done of this.queueDone.splice(0)) done();
        } else out = silence;
        const payload = Buffer.alloc(out.length * 2);
        for (let i = 0; i < out.length; i++) payload.writeInt16LE(out[i], i * 2);
        this.write(frame(this.kind, payload));
        this.slot++;
      }
      this.ticker = setTimeout(tick, Math.max(0, this.t0 + this.slot * 20 - performance.now()));
    };
    tick();
  }

  stop(): void {
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = undefined;
    for (const done of this.queueDone.splice(0)) done();
  }

  /** Queues speech at the emulator's rate; resolves once its last frame is sent. */
  say(samples: Int16Array): Promise<void> {
    const n = this.rate / 50;
    for (let pos = 0; pos < samples.length; pos += n) {
      const f = new Int16Array(n);
      f.set(samples.subarray(pos, Math.min(samples.length, pos + n)));
      this.queue.push(f);
    }
    return new Promise((resolve) => this.queueDone.push(resolve));
  }

  async dtmf(digits: string, gapMs = 150): Promise<void> {
    for (const d of digits) {
      this.write(frame(DTMF, Buffer.from(d, 'ascii')));
      await new Promise((r) => setTimeout(r, gapMs));
    }
  }

  /** Asterisk itself hangs up by closing; `withFrame` sends 00 00 00 first. */
  hangup(withFrame = true): void {
    if (withFrame) this.write(frame(HANGUP));
    // Asterisk stops sending when it hangs up; writing after end() would make
    // node destroy the socket with unread data, which resets the connection.
    this.ended = true;
    this.stop();
    this.socket.end();
  }

  /**
   * Closes at once, as Asterisk's close() does with palabre's latest frames
   * still unread: the kernel answers with a reset, not an orderly FIN.
   */
  reset(): void {
    this.ended = true;
    this.stop();
    this.socket.resetAndDestroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /**
   * A client whose receive side stalls: it keeps streaming but takes nothing
   * more off the socket, so what palabre sends piles up in the kernel buffers.
   */
  stopReading(): void {
    this.socket.pause();
  }

  /** Bot audio frames with sound in them so far. */
  get voiced(): number {
    return this.voiceFrames;
  }

  /** Resolves once the bot has spoken (beyond `sinceVoiced` voiced frames) and then been quiet for `quietMs`. */
  async botDone(sinceVoiced: number, quietMs = 900, timeoutMs = 30_000): Promise<void> {
    const start = performance.now();
    for (;;) {
      if (this.ended) throw new Error('connection closed while waiting for the bot');
      if (this.voiceFrames > sinceVoiced && performance.now() - this.lastVoiceAt >= quietMs) return;
      if (performance.now() - start > timeoutMs) throw new Error(`the bot did not finish speaking within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Pacing of the audio frames received from `from` on: the largest amount by
   * which any run of frames arrived ahead of real time (a burst), and the
   * longest gap between two frames.
   */
  pacing(from = 0): { frames: number; burstMs: number; maxGapMs: number; medianGapMs: number } {
    const audio = this.received.slice(from).filter((r) => r.kind !== HANGUP);
    let maxLag = -Infinity;
    let burst = 0;
    let maxGap = 0;
    const gaps: number[] = [];
    audio.forEach((r, i) => {
      const lag = r.at - i * 20;
      maxLag = Math.max(maxLag, lag);
      burst = Math.max(burst, maxLag - lag);
      if (i > 0) {
        const gap = r.at - audio[i - 1].at;
        gaps.push(gap);
        maxGap = Math.max(maxGap, gap);
      }
    });
    gaps.sort((a, b) => a - b);
    return { frames: audio.length, burstMs: burst, maxGapMs: maxGap, medianGapMs: gaps[gaps.length >> 1] ?? 0 };
  }

  private onData(chunk: Buffer): void {
    const at = performance.now();
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 3) {
      const kind = this.buf[0];
      const length = this.buf.readUInt16BE(1);
      if (this.buf.length < 3 + length) break;
      const payload = this.buf.subarray(3, 3 + length);
      this.buf = this.buf.subarray(3 + length);
      this.check(kind, payload, at);
    }
  }

  private check(kind: number, payload: Buffer, at: number): void {
    if (this.hangupReceived) this.violations.push(`frame kind 0x${kind.toString(16)} after the hangup frame`);
    if (kind === HANGUP) {
      if (payload.length !== 0) this.violations.push(`hangup frame with ${payload.length} payload bytes`);
      this.hangupReceived = true;
      this.received.push({ kind, length: 0, at, silent: true });
      return;
    }
    const rate = SLIN_RATES[kind];
    if (rate === undefined) {
      this.violations.push(`kind 0x${kind.toString(16)} would make Asterisk tear the call down`);
      return;
    }
    if (payload.length === 0) this.violations.push('empty audio frame ("Invalid message length")');
    if (payload.length % 2 !== 0) this.violations.push(`odd audio length ${payload.length}`);
    let silent = true;
    for (let i = 0; i + 1 < payload.length; i += 2) {
      if (payload.readInt16LE(i) !== 0) {
        silent = false;
        break;
      }
    }
    if (!silent) {
      this.voiceFrames++;
      this.lastVoiceAt = at;
    }
    this.received.push({ kind, length: payload.length, at, silent });
  }
}
