/**
 * A simulated Asterisk channel on AudioSocket (written from the protocol, not
 * from palabre's server): connects, sends the UUID, then one slin 8 kHz frame
 * every 20 ms on its own drift-free schedule (the caller's words when queued,
 * silence otherwise), DTMF and hangup frames; it times every audio frame
 * palabre sends back. Calls start at random phases of the 20 ms grid, as
 * channels of a real Asterisk do.
 */
import { randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { OutboundMeter, PacedArrivals } from '../outbound-meter.js';
import { CALLER_FRAME_SAMPLES, FRAME_MS_PERIOD } from '../wire-constants.js';
import type { CallerClip, CallerLine, DialTarget, LineDriver } from './line-types.js';

const KIND_HANGUP = 0x00;
const KIND_UUID = 0x01;
const KIND_DTMF = 0x03;
const KIND_SLIN8 = 0x10;

function frame(kind: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.allocUnsafe(3 + payload.length);
  b[0] = kind;
  b.writeUInt16BE(payload.length, 1);
  b.set(payload, 3);
  return b;
}

function slinFrame(samples: Int16Array): Buffer {
  const payload = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) payload.writeInt16LE(samples[i], i * 2);
  return frame(KIND_SLIN8, payload);
}

const SILENCE = slinFrame(new Int16Array(CALLER_FRAME_SAMPLES));
/** Wire frames of each clip, encoded once and shared by every line. */
const encoded = new WeakMap<CallerClip, Buffer[]>();

function wireFrames(clip: CallerClip): Buffer[] {
  let out = encoded.get(clip);
  if (!out) {
    out = clip.frames.map(slinFrame);
    encoded.set(clip, out);
  }
  return out;
}

class AudioSocketLine implements CallerLine {
  voiced = 0;
  lastVoiceAt = -Infinity;
  readonly playing = false;
  isClosed = false;
  readonly closed: Promise<void>;
  private queue: Buffer[] = [];
  private queued: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private pending: Buffer | undefined;
  private readonly arrivals: PacedArrivals;

  constructor(
    readonly id: string,
    private readonly socket: Socket,
    private readonly meter: OutboundMeter,
  ) {
    this.arrivals = meter.pacedLine();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk, performance.now()));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        clearTimeout(this.timer);
        this.meter.release(this.arrivals);
        for (const done of this.queued.splice(0)) done();
        resolve();
      }),
    );
    socket.write(frame(KIND_UUID, Buffer.from(id.replace(/-/g, ''), 'hex')));
    this.stream();
  }

  private stream(): void {
    const t0 = performance.now() + Math.random() * FRAME_MS_PERIOD;
    let slot = 0;
    const tick = (): void => {
      if (this.isClosed || this.socket.writableEnded) return;
      const now = performance.now();
      while (t0 + slot * FRAME_MS_PERIOD <= now) {
        const out = this.queue.shift();
        if (out && this.queue.length === 0) for (const done of this.queued.splice(0)) done();
        this.socket.write(out ?? SILENCE);
        slot++;
      }
      this.timer = setTimeout(tick, Math.max(0, t0 + slot * FRAME_MS_PERIOD - performance.now()));
    };
    this.timer = setTimeout(tick, Math.max(0, t0 - performance.now()));
  }

  say(clip: CallerClip): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.queue.push(...wireFrames(clip));
    return new Promise((resolve) => this.queued.push(resolve));
  }

  dtmf(digit: string): void {
    if (!this.isClosed && !this.socket.writableEnded) this.socket.write(frame(KIND_DTMF, Buffer.from(digit, 'ascii')));
  }

  hangup(): void {
    if (this.isClosed || this.socket.writableEnded) return;
    // Nothing may follow the hangup frame: a write after end() would reset the connection.
    clearTimeout(this.timer);
    this.socket.write(frame(KIND_HANGUP));
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private onData(chunk: Buffer, at: number): void {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    while (data.length - pos >= 3) {
      const length = data.readUInt16BE(pos + 1);
      if (data.length - pos < 3 + length) break;
      const kind = data[pos];
      if (kind === KIND_HANGUP) {
        clearTimeout(this.timer);
        this.socket.end();
      } else if (kind >= 0x10 && kind <= 0x18) {
        let speech = false;
        for (let i = pos + 3; i < pos + 3 + length; i++) {
          if (data[i] !== 0) {
            speech = true;
            this.voiced++;
            this.lastVoiceAt = at;
            break;
          }
        }
        this.arrivals.frame(at, speech);
      }
      pos += 3 + length;
    }
    data = data.subarray(pos);
    this.pending = data.length > 0 ? Buffer.from(data) : undefined;
  }
}

export const audioSocketLines: LineDriver = {
  newId: () => randomUUID(),
  async dial(target: DialTarget, id: string, meter: OutboundMeter): Promise<CallerLine> {
    const socket = connect({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new AudioSocketLine(id, socket, meter);
  },
};
