/**
 * Asterisk's side of an externalMedia RTP stream (chan_rtp), written from
 * RFC 3550/3551 and shared/PROTOCOLS.md §2, independent of palabre's RTP
 * code: it streams the caller as 20 ms packets at real-time pace (speech when
 * queued, silence otherwise, as a live bridge does), optionally reordering,
 * dropping and duplicating packets, and checks every packet palabre sends
 * back (version, payload type, sequence and timestamp steps, SSRC, payload
 * size, source port, pacing). No test framework inside: bench code drives
 * many of these at once, with `keepReceived: false` (nothing kept per packet,
 * only counted and handed to `onPacket`) and clips encoded once for every
 * peer (`encodePayload`, `sayPayloads`).
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import alawmulaw from 'alawmulaw';

export type RtpPeerFormat = 'slin16' | 'slin' | 'ulaw';

const RATES: Record<RtpPeerFormat, number> = { slin16: 16000, slin: 8000, ulaw: 8000 };
/** Asterisk's static payload types (main/rtp_engine.c). */
const PAYLOAD_TYPES: Record<RtpPeerFormat, number> = { slin16: 118, slin: 10, ulaw: 0 };

export interface RtpImpairments {
  /** Every Nth packet is held back and sent after the next one. */
  reorderEvery?: number;
  /** Every Nth packet is never sent. */
  dropEvery?: number;
  /** Every Nth packet is sent twice. */
  duplicateEvery?: number;
}

export interface RtpPeerOptions {
  host?: string;
  format?: RtpPeerFormat;
  payloadType?: number;
  impair?: RtpImpairments;
  /**
   * Keep every packet palabre sends (`received`, `receivedAudio()`, `pacing()`). Default true.
   * Off, packets are checked and counted only, and at most the first 20 violations are kept as text.
   */
  keepReceived?: boolean;
}

const KEPT_VIOLATIONS_LIGHT = 20;

export interface ReceivedPacket {
  at: number;
  sequence: number;
  timestamp: number;
  payloadType: number;
  ssrc: number;
  payloadBytes: number;
  silent: boolean;
  fromPort: number;
}

export class RtpPeer {
  readonly format: RtpPeerFormat;
  readonly rate: number;
  readonly payloadType: number;
  readonly received: ReceivedPacket[] = [];
  /** Everything Asterisk would refuse or that breaks RTP as palabre should send it. */
  readonly violations: string[] = [];
  /** Violations seen, kept as text or not. */
  violationCount = 0;
  /** Packets palabre sent that reached this peer. */
  packetsReceived = 0;
  /** Told of each packet palabre sends, as it arrives (performance.now()), after its checks. */
  onPacket: ((at: number, silent: boolean) => void) | undefined;
  readonly sent = { packets: 0, dropped: 0, reordered: 0, duplicated: 0, raw: 0 };
  private readonly socket: Socket;
  private readonly impair: RtpImpairments;
  private remote: { address: string; port: number } | undefined;
  private readonly ssrc = randomInt(0, 2 ** 32);
  private sequence = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 2 ** 32);
  /** Samples at the peer's rate, or payloads already encoded for this format. */
  private queue: Array<Int16Array | Uint8Array> = [];
  private queueDone: Array<() => void> = [];
  private held: Buffer | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private slot = 0;
  private t0 = 0;
  private index = 0;
  private voicedCount = 0;
  private lastVoiceAt = -Infinity;
  private audio: Int16Array[] = [];
  private closed = false;
  private readonly keep: boolean;
  private readonly silence: Buffer;
  private last: { sequence: number; timestamp: number; ssrc: number } | undefined;

  private constructor(socket: Socket, options: RtpPeerOptions) {
    this.socket = socket;
    this.format = options.format ?? 'slin16';
    this.rate = RATES[this.format];
    this.payloadType = options.payloadType ?? PAYLOAD_TYPES[this.format];
    this.impair = options.impair ?? {};
    this.keep = options.keepReceived ?? true;
    this.silence = this.encodePayload(new Int16Array(this.rate / 50));
    socket.on('message', (bytes, rinfo) => this.check(bytes, rinfo.port, rinfo.address));
    socket.on('error', () => undefined);
  }

  static async open(options: RtpPeerOptions = {}): Promise<RtpPeer> {
    const host = options.host ?? '127.0.0.1';
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    return new RtpPeer(socket, options);
  }

  get address(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  /** Where palabre listens (the externalMedia `external_host`). */
  setRemote(address: string, port: number): void {
    this.remote = { address, port };
  }

  get streaming(): boolean {
    return this.ticker !== undefined;
  }

  /** One packet every 20 ms on a drift-free schedule, until stop(). */
  start(): void {
    if (this.ticker || this.closed || !this.remote) return;
    const silence = this.silence;
    this.t0 = performance.now();
    this.slot = 0;
    const tick = (): void => {
      if (this.closed) return;
      const now = performance.now();
      while (this.t0 + this.slot * 20 <= now) {
        let out = this.queue.shift();
        if (out) {
          if (this.queue.length === 0) for (const done of this.queueDone.splice(0)) done();
        } else out = silence;
        this.emit(out);
        this.slot++;
      }
      this.ticker = setTimeout(tick, Math.max(0, this.t0 + this.slot * 20 - performance.now()));
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.ticker);
    this.ticker = undefined;
    this.queue = [];
    for (const done of this.queueDone.splice(0)) done();
  }

  /** Queues speech at the peer's rate; resolves once its last packet left. */
  say(samples: Int16Array): Promise<void> {
    const n = this.rate / 50;
    for (let pos = 0; pos < samples.length; pos += n) {
      const f = new Int16Array(n);
      f.set(samples.subarray(pos, Math.min(samples.length, pos + n)));
      this.queue.push(f);
    }
    return new Promise((resolve) => this.queueDone.push(resolve));
  }

  /** Queues 20 ms payloads made by encodePayload (shared between peers of the same format); resolves once the last left. */
  sayPayloads(payloads: readonly Uint8Array[]): Promise<void> {
    for (const p of payloads) this.queue.push(p);
    return new Promise((resolve) => this.queueDone.push(resolve));
  }

  /** 20 ms of samples at the peer's rate as this stream's payload (L16 big-endian, or µ-law). */
  encodePayload(samples: Int16Array): Buffer {
    if (this.format === 'ulaw') return Buffer.from(alawmulaw.mulaw.encode(samples));
    const b = Buffer.alloc(samples.length * 2);
    for (let i = 0; i < samples.length; i++) b.writeInt16BE(samples[i], i * 2);
    return b;
  }

  /** Any bytes to palabre's port, from this peer's socket (malformed packets on purpose). */
  sendRaw(bytes: Uint8Array): void {
    if (!this.remote || this.closed) return;
    this.sent.raw++;
    this.socket.send(bytes, this.remote.port, this.remote.address);
  }

  /** A well-formed packet of silence as this stream would send next, without sending it (for intruders to replay). */
  packetOfSilence(): Buffer {
    return this.build(this.silence, false);
  }

  close(): void {
    if (this.closed) return;
    this.stop();
    this.closed = true;
    this.socket.close();
  }

  // ---- what palabre sent ----

  get voiced(): number {
    return this.voicedCount;
  }

  /** Resolves once the bot has spoken (beyond `sinceVoiced` voiced packets) and then been quiet for `quietMs`. */
  async botDone(sinceVoiced: number, quietMs = 900, timeoutMs = 30_000): Promise<void> {
    const start = performance.now();
    for (;;) {
      if (this.voicedCount > sinceVoiced && performance.now() - this.lastVoiceAt >= quietMs) return;
      if (this.closed) throw new Error('the RTP stream closed while waiting for the bot');
      if (performance.now() - start > timeoutMs) throw new Error(`the bot did not finish speaking within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Everything palabre sent, decoded, in arrival order. */
  receivedAudio(): Int16Array {
    const total = this.audio.reduce((n, a) => n + a.length, 0);
    const out = new Int16Array(total);
    let pos = 0;
    for (const a of this.audio) {
      out.set(a, pos);
      pos += a.length;
    }
    return out;
  }

  /** The largest run of packets ahead of real time (a burst), the longest gap, and the median gap. */
  pacing(from = 0): { packets: number; burstMs: number; maxGapMs: number; medianGapMs: number } {
    const packets = this.received.slice(from);
    let maxLag = -Infinity;
    let burst = 0;
    let maxGap = 0;
    const gaps: number[] = [];
    packets.forEach((r, i) => {
      const lag = r.at - i * 20;
      maxLag = Math.max(maxLag, lag);
      burst = Math.max(burst, maxLag - lag);
      if (i > 0) {
        const gap = r.at - packets[i - 1].at;
        gaps.push(gap);
        maxGap = Math.max(maxGap, gap);
      }
    });
    gaps.sort((a, b) => a - b);
    return { packets: packets.length, burstMs: burst, maxGapMs: maxGap, medianGapMs: gaps[gaps.length >> 1] ?? 0 };
  }

  // ---- internals ----

  private emit(samples: Int16Array | Uint8Array): void {
    const i = ++this.index;
    const packet = this.build(samples, i === 1);
    if (this.impair.dropEvery && i % this.impair.dropEvery === 0) {
      this.sent.dropped++;
      return;
    }
    if (this.impair.reorderEvery && i % this.impair.reorderEvery === 0 && !this.held) {
      this.held = packet;
      this.sent.reordered++;
      return;
    }
    this.transmit(packet);
    if (this.impair.duplicateEvery && i % this.impair.duplicateEvery === 0) {
      this.sent.duplicated++;
      this.transmit(packet);
    }
    if (this.held) {
      const held = this.held;
      this.held = undefined;
      this.transmit(held);
    }
  }

  private transmit(packet: Buffer): void {
    if (!this.remote || this.closed) return;
    this.sent.packets++;
    this.socket.send(packet, this.remote.port, this.remote.address);
  }

  private build(samples: Int16Array | Uint8Array, marker: boolean): Buffer {
    const payload = samples instanceof Int16Array ? this.encodePayload(samples) : samples;
    // Every byte is written below: the pooled allocation needs no zeroing.
    const b = Buffer.allocUnsafe(12 + payload.length);
    b[0] = 0x80;
    b[1] = (marker ? 0x80 : 0) | this.payloadType;
    b.writeUInt16BE(this.sequence, 2);
    b.writeUInt32BE(this.timestamp, 4);
    b.writeUInt32BE(this.ssrc, 8);
    b.set(payload, 12);
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + this.rate / 50) >>> 0;
    return b;
  }

  private decode(payload: Buffer): Int16Array {
    if (this.format === 'ulaw') return alawmulaw.mulaw.decode(payload);
    const out = new Int16Array(payload.length >> 1);
    for (let i = 0; i < out.length; i++) out[i] = payload.readInt16BE(i * 2);
    return out;
  }

  private violate(text: string): void {
    this.violationCount++;
    if (this.keep || this.violations.length < KEPT_VIOLATIONS_LIGHT) this.violations.push(text);
  }

  private check(bytes: Buffer, fromPort: number, fromAddress: string): void {
    const at = performance.now();
    if (this.remote && (fromPort !== this.remote.port || fromAddress !== this.remote.address)) this.violate(`RTP from ${fromAddress}:${fromPort}, not from the external_host ${this.remote.address}:${this.remote.port} (strictrtp would drop it)`);
    if (bytes.length < 12) return void this.violate(`datagram of ${bytes.length} bytes`);
    const version = bytes[0] >> 6;
    if (version !== 2) this.violate(`RTP version ${version}`);
    const cc = bytes[0] & 0x0f;
    const hasExt = (bytes[0] & 0x10) !== 0;
    const hasPad = (bytes[0] & 0x20) !== 0;
    let pos = 12 + cc * 4;
    if (hasExt) pos += 4 + bytes.readUInt16BE(pos + 2) * 4;
    const end = hasPad ? bytes.length - bytes[bytes.length - 1] : bytes.length;
    const payloadType = bytes[1] & 0x7f;
    const sequence = bytes.readUInt16BE(2);
    const timestamp = bytes.readUInt32BE(4);
    const ssrc = bytes.readUInt32BE(8);
    const payload = bytes.subarray(pos, end);
    const samplesPerPacket = this.rate / 50;
    const expectBytes = this.format === 'ulaw' ? samplesPerPacket : samplesPerPacket * 2;
    if (payloadType !== this.payloadType) this.violate(`payload type ${payloadType}, the stream's is ${this.payloadType}`);
    if (payload.length !== expectBytes) this.violate(`payload of ${payload.length} bytes, 20 ms of ${this.format} is ${expectBytes}`);
    const last = this.last;
    if (last) {
      if (ssrc !== last.ssrc) this.violate(`SSRC changed from ${last.ssrc} to ${ssrc}`);
      if (((sequence - last.sequence) & 0xffff) !== 1) this.violate(`sequence ${last.sequence} → ${sequence}`);
      if (((timestamp - last.timestamp) >>> 0) !== samplesPerPacket) this.violate(`timestamp step ${(timestamp - last.timestamp) >>> 0}, expected ${samplesPerPacket}`);
      last.sequence = sequence;
      last.timestamp = timestamp;
      last.ssrc = ssrc;
    } else this.last = { sequence, timestamp, ssrc };
    let silent: boolean;
    if (this.keep) {
      const samples = this.decode(Buffer.from(payload));
      silent = true;
      for (let i = 0; i < samples.length; i++) {
        if (samples[i] !== 0) {
          silent = false;
          break;
        }
      }
      this.audio.push(samples);
      this.received.push({ at, sequence, timestamp, payloadType, ssrc, payloadBytes: payload.length, silent, fromPort });
    } else silent = this.silentPayload(payload);
    this.packetsReceived++;
    if (!silent) {
      this.voicedCount++;
      this.lastVoiceAt = at;
    }
    this.onPacket?.(at, silent);
  }

  /** Whether the payload decodes to all-zero samples, read from the bytes (µ-law 0xff and 0x7f are both zero). */
  private silentPayload(payload: Buffer): boolean {
    // The silence this peer encodes is what palabre sends when quiet: one native comparison settles most packets.
    if (payload.equals(this.silence)) return true;
    if (this.format === 'ulaw') {
      for (let i = 0; i < payload.length; i++) if ((payload[i] | 0x80) !== 0xff) return false;
      return true;
    }
    if (payload.length === this.silence.length) return false;
    for (let i = 0; i < payload.length; i++) if (payload[i] !== 0) return false;
    return true;
  }
}
