/**
 * CallIO over one RTP stream, the media half of an Asterisk externalMedia
 * channel (chan_rtp). Inbound: datagrams from the call's Asterisk address
 * only, parsed, payload type learned from the first one, decoded (L16 is
 * big-endian), put back in order by the jitter buffer, resampled to the
 * pipeline rate. Outbound: bot audio at the wire rate in 20 ms packets,
 * paced in real time (Asterisk plays what it gets at once), with silence
 * when the bot is quiet so the stream stays continuous, sent from the socket
 * Asterisk sends to.
 *
 * The IO does not speak ARI: the Stasis call tells it of DTMF and hangups
 * (dtmf(), remoteHangup()) and hears how the call ended through onClose.
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { RemoteInfo } from 'node:dgram';
import { Chunker } from '../../audio/chunker.js';
import { FRAME_MS, PIPELINE_RATE, assertRate, samplesPerFrame, type Frame } from '../../audio/frame.js';
import { Pacer } from '../../audio/pacer.js';
import type { Resampler, ResamplerFactory } from '../../audio/resample.js';
import type { CallEndReason, CallIO, CallIOEvents } from '../../call/io.js';
import { InboundFrames } from '../../call/inbound-frames.js';
import { silentLogger, type Logger } from '../../log.js';
import { createRtpCounters, RTP_DROP_REASONS, type RtpCounters, type RtpDropReason } from './counters.js';
import { rtpFormat, RtpPayloadError, type RtpFormat, type RtpFormatName } from './format.js';
import { JitterBuffer, type JitterStats } from './jitter-buffer.js';
import { buildRtp, parseRtp, RtpPacketError } from './packet.js';
import type { PortLease } from './port-pool.js';

export interface RtpAddress {
  address: string;
  port: number;
}

export interface RtpIOOptions {
  id: string;
  /** The bound socket this call receives on and sends from. Released when the call ends. */
  lease: PortLease;
  format: RtpFormat | RtpFormatName;
  resampler: ResamplerFactory;
  /** Where Asterisk receives (UNICASTRTP_LOCAL_ADDRESS/PORT); until set, learned from the first packet. */
  remote?: RtpAddress;
  /** How far ahead of real time a packet may leave. Default 40 ms. */
  leadMs?: number;
  /** Later packets held for a missing one before it counts as lost. Default 3. */
  jitterDepth?: number;
  /** Longest silence inserted for a lost run or a timestamp gap. Default 200 ms. */
  maxConcealMs?: number;
  /** No packet from Asterisk for this long ends the call (transport_error); 0 never. Counted from the first packet or setRemote(). Default 0. */
  idleTimeoutMs?: number;
  /** Caller audio waiting for the call to read it; the oldest is dropped beyond this. Default 5 s. */
  maxInboundMs?: number;
  /** Bot audio waiting to be sent. Default 120 s. */
  maxOutboundMs?: number;
  resampleQuality?: number;
  /** Process-wide counters this stream adds to. */
  counters?: RtpCounters;
  logger?: Logger;
  /** Once, when the stream ends: why, the transfer target when the call asked for one, and whether palabre ended it. */
  onClose?: (reason: CallEndReason, detail: { transferTarget?: string } | undefined, byUs: boolean) => void;
  now?: () => number;
}

export interface RtpIOStats {
  packetsIn: number;
  packetsOut: number;
  /** Bot audio packets (not idle silence) sent. */
  voicePacketsOut: number;
  /** Packets due while Asterisk's address was not yet known. */
  unsent: number;
  dropped: Record<RtpDropReason, number>;
  unexpectedSource: number;
  dtmf: number;
  inboundDropped: number;
}

const DTMF = /^[0-9A-D*#]$/;

/** "::ffff:10.0.0.1" → "10.0.0.1", so IPv4 peers on dual-stack sockets compare equal. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

function unspecified(address: string): boolean {
  return address === '' || address === '0.0.0.0' || address === '::';
}

export class RtpIO implements CallIO {
  readonly id: string;
  readonly sampleRate = PIPELINE_RATE;
  readonly format: RtpFormat;
  readonly localPort: number;
  readonly stats: RtpIOStats;
  /** Told the clock's time right after each packet is handed to the socket: pacing as palabre produces it. */
  onFrameSent: ((atMs: number) => void) | undefined;

  private readonly lease: PortLease;
  private readonly logger: Logger;
  private readonly emitter = new EventEmitter();
  private readonly counters: RtpCounters;
  private readonly now: () => number;
  private readonly onClose?: RtpIOOptions['onClose'];
  private readonly inbound: InboundFrames;
  private readonly jitter: JitterBuffer;
  private readonly inResampler: Resampler | undefined;
  private readonly outResampler: Resampler | undefined;
  private readonly inChunker = new Chunker(PIPELINE_RATE);
  private readonly outChunker: Chunker;
  private readonly pacer: Pacer;
  private readonly idleMs: number;
  private idleTimer: NodeJS.Timeout | undefined;

  private remote: RtpAddress | undefined;
  /** The remote's address was announced as unspecified: take the first one that uses its port. */
  private pinAddress = false;
  private payloadType: number;
  private learnedPayloadType = false;
  private readonly ssrc = randomInt(0, 2 ** 32);
  private sequence = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 2 ** 32);
  private firstPacket = true;
  private closed = false;
  private closeReason: CallEndReason | undefined;
  private sentMs = 0;
  private playEnd = -Infinity;
  private warnedBad = false;
  private warnedSource = false;

  constructor(options: RtpIOOptions) {
    this.id = options.id;
    this.lease = options.lease;
    this.localPort = options.lease.port;
    this.format = typeof options.format === 'string' ? rtpFormat(options.format) : options.format;
    this.logger = options.logger ?? silentLogger;
    this.counters = options.counters ?? createRtpCounters();
    this.now = options.now ?? (() => performance.now());
    this.onClose = options.onClose;
    this.idleMs = options.idleTimeoutMs ?? 0;
    this.payloadType = this.format.defaultPayloadType;
    const dropped = Object.fromEntries(RTP_DROP_REASONS.map((r) => [r, 0])) as Record<RtpDropReason, number>;
    this.stats = { packetsIn: 0, packetsOut: 0, voicePacketsOut: 0, unsent: 0, dropped, unexpectedSource: 0, dtmf: 0, inboundDropped: 0 };
    this.inbound = new InboundFrames(options.maxInboundMs ?? 5_000, () =>
      this.logger.warn({ call: this.id }, 'the call is not keeping up with the caller audio; dropping the oldest frames'),
    );
    const rate = this.format.clockRate;
    const quality = options.resampleQuality ?? 5;
    this.jitter = new JitterBuffer({ depth: options.jitterDepth, maxConcealSamples: Math.round(((options.maxConcealMs ?? 200) * rate) / 1000), totals: this.counters.jitter });
    this.inResampler = rate === PIPELINE_RATE ? undefined : options.resampler.create(rate, PIPELINE_RATE, { quality });
    this.outResampler = rate === PIPELINE_RATE ? undefined : options.resampler.create(PIPELINE_RATE, rate, { quality });
    this.outChunker = new Chunker(rate);
    const silence: Frame = { samples: new Int16Array(samplesPerFrame(rate)), sampleRate: rate };
    if (options.remote) this.setRemote(options.remote);
    this.lease.socket.on('message', this.onMessage);
    this.lease.socket.on('error', this.onSocketError);
    this.pacer = new Pacer({
      sampleRate: rate,
      leadMs: options.leadMs ?? 40,
      maxQueueMs: options.maxOutboundMs ?? 120_000,
      now: this.now,
      onIdle: () => silence,
      send: (frame) => this.sendPacket(frame, frame === silence),
      onError: (err) => this.fail(err),
    });
    // The pacer sends its first silence from its constructor, which may already have ended the stream.
    if (this.closed) this.pacer.stop();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Where bot audio goes, once known. */
  get remoteAddress(): RtpAddress | undefined {
    return this.remote ? { ...this.remote } : undefined;
  }

  get outboundPayloadType(): number {
    return this.payloadType;
  }

  get jitterStats(): JitterStats {
    return { ...this.jitter.stats };
  }

  get pacerStats(): Pacer['stats'] {
    return this.pacer.stats;
  }

  /** Asterisk's side of the stream (UNICASTRTP_LOCAL_ADDRESS/PORT): only its packets are played, and ours go there. */
  setRemote(remote: RtpAddress): void {
    const address = plainAddress(remote.address);
    this.pinAddress = unspecified(address);
    this.remote = { address, port: remote.port };
    this.armIdle();
  }

  /** A keypad digit Asterisk reported for this call (ARI ChannelDtmfReceived). */
  dtmf(digit: string): void {
    if (this.closed) return;
    if (!DTMF.test(digit)) {
      this.logger.debug({ call: this.id, digit }, 'DTMF digit palabre does not use; ignored');
      return;
    }
    this.stats.dtmf++;
    this.emitter.emit('dtmf', digit);
  }

  /** The far end is gone (the channel hung up or left Stasis). */
  remoteHangup(reason: CallEndReason = 'caller_hangup'): void {
    this.finish(reason, undefined, false);
  }

  // ---- CallIO ----

  frames(): AsyncGenerator<Frame, void, undefined> {
    return this.inbound.read(`RtpIO ${this.id}`);
  }

  write(frame: Frame): void {
    if (this.closed) return;
    assertRate(frame, PIPELINE_RATE, 'RtpIO.write');
    const wire = this.outResampler ? this.outResampler.process(frame.samples) : frame.samples;
    for (const out of this.outChunker.push(wire)) this.pacer.push(out);
  }

  clear(): number {
    if (this.closed) return 0;
    const now = this.now();
    const inFlight = Math.max(0, this.playEnd - now);
    this.sentMs -= inFlight;
    this.playEnd = Math.min(this.playEnd, now);
    const queued = this.pacer.clear();
    this.outResampler?.flush();
    this.outChunker.reset();
    return queued + inFlight;
  }

  waitForPlayout(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const tail = this.outChunker.flush(true);
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
    this.finish(reason, detail, true);
  }

  // ---- outbound ----

  private sendPacket(frame: Frame, isSilence: boolean): void {
    if (this.closed) return;
    const samples = frame.samples.length;
    if (!isSilence) {
      this.playEnd = Math.max(this.now(), this.playEnd) + FRAME_MS;
      this.sentMs += FRAME_MS;
    }
    const remote = this.remote;
    if (!remote || this.pinAddress) {
      this.stats.unsent++;
    } else {
      const packet = buildRtp({ payloadType: this.payloadType, sequence: this.sequence, timestamp: this.timestamp, ssrc: this.ssrc, marker: this.firstPacket, payload: this.format.encode(frame.samples) });
      this.firstPacket = false;
      this.lease.socket.send(packet, remote.port, remote.address, (err) => {
        if (!err) return;
        this.counters.sendErrors++;
        this.logger.debug({ call: this.id, err: err.message }, 'RTP send failed');
      });
      this.stats.packetsOut++;
      this.counters.packetsOut++;
      if (!isSilence) this.stats.voicePacketsOut++;
      this.onFrameSent?.(this.now());
    }
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + samples) >>> 0;
  }

  // ---- inbound ----

  private readonly onMessage = (datagram: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed) return;
    if (!this.fromRemote(rinfo)) return;
    let packet: ReturnType<typeof parseRtp>;
    let samples: Int16Array;
    try {
      packet = parseRtp(datagram);
      if (!this.learnedPayloadType) {
        this.learnedPayloadType = true;
        if (packet.payloadType !== this.payloadType) this.logger.info({ call: this.id, payloadType: packet.payloadType, format: this.format.name }, 'RTP payload type learned from Asterisk');
        this.payloadType = packet.payloadType;
      } else if (packet.payloadType !== this.payloadType) {
        return this.drop('payload_type', `payload type ${packet.payloadType}, the stream carries ${this.payloadType}`);
      }
      samples = this.format.decode(packet.payload);
    } catch (err) {
      if (err instanceof RtpPacketError) return this.drop(err.problem, err.message);
      if (err instanceof RtpPayloadError) return this.drop(err.problem, err.message);
      return this.fail(err);
    }
    this.stats.packetsIn++;
    this.counters.packetsIn++;
    this.idleTimer?.refresh();
    for (const run of this.jitter.push({ sequence: packet.sequence, timestamp: packet.timestamp, ssrc: packet.ssrc, samples })) this.deliver(run);
  };

  /** Only the call's Asterisk side may feed it; the first packet names that side when nothing else did. */
  private fromRemote(rinfo: RemoteInfo): boolean {
    const address = plainAddress(rinfo.address);
    const remote = this.remote;
    if (!remote) {
      this.remote = { address, port: rinfo.port };
      this.logger.info({ call: this.id, remote: `${address}:${rinfo.port}` }, 'RTP peer learned from its first packet');
      this.armIdle();
      return true;
    }
    if (rinfo.port === remote.port && (address === remote.address || this.pinAddress)) {
      if (this.pinAddress) {
        this.pinAddress = false;
        remote.address = address;
      }
      return true;
    }
    this.stats.unexpectedSource++;
    this.counters.unexpectedSource++;
    if (!this.warnedSource) {
      this.warnedSource = true;
      this.logger.warn({ call: this.id, from: `${address}:${rinfo.port}`, expected: `${remote.address}:${remote.port}` }, 'RTP from an unexpected address dropped (counted; further ones are not logged)');
    }
    return false;
  }

  private deliver(wire: Int16Array): void {
    if (this.inbound.ended) return;
    const pcm = this.inResampler ? this.inResampler.process(wire) : wire;
    for (const frame of this.inChunker.push(pcm)) this.inbound.push(frame);
    this.stats.inboundDropped = this.inbound.dropped;
  }

  private drop(reason: RtpDropReason, message: string): void {
    this.stats.dropped[reason]++;
    this.counters.bad[reason]++;
    if (!this.warnedBad) {
      this.warnedBad = true;
      this.logger.warn({ call: this.id, reason, problem: message }, 'bad RTP packet dropped (counted; further ones are not logged)');
    }
  }

  private armIdle(): void {
    if (this.idleMs <= 0 || this.closed || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.counters.timeouts++;
      this.logger.warn({ call: this.id, idleMs: this.idleMs }, `no RTP from Asterisk for ${this.idleMs} ms; ending the call`);
      this.finish('transport_error', undefined, false);
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private readonly onSocketError = (err: Error): void => {
    this.logger.warn({ call: this.id, err: err.message }, 'RTP socket error');
    this.finish('transport_error', undefined, false);
  };

  private fail(err: unknown): void {
    this.logger.error({ call: this.id, err }, 'RTP transport failed');
    this.finish('transport_error', undefined, false);
  }

  /** Ends the stream once: stops playout, ends the caller's frames, frees the port, tells the call and the owner. */
  private finish(reason: CallEndReason, detail: { transferTarget?: string } | undefined, byUs: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.inbound.end();
    (this.pacer as Pacer | undefined)?.stop();
    this.inResampler?.close();
    this.outResampler?.close();
    clearTimeout(this.idleTimer);
    this.lease.socket.off('message', this.onMessage);
    this.lease.socket.off('error', this.onSocketError);
    this.lease.release();
    if (!byUs) this.emitter.emit('hangup', reason);
    this.onClose?.(reason, detail, byUs);
  }

  /** Why the stream ended, once it has. */
  get endReason(): CallEndReason | undefined {
    return this.closeReason;
  }
}
