/**
 * The callers' side of the rtp transport: this process plays Asterisk. listen()
 * starts the ARI emulator (test/support/asterisk-ari.ts, written from the ARI
 * docs: REST, events WebSocket, externalMedia channels with an RTP peer each);
 * each dial() puts a new caller channel into Stasis and waits for palabre to
 * bridge it with an externalMedia channel, as a real Asterisk would. The
 * caller's words go out on that channel's RTP peer at real-time pace (silence
 * otherwise), keypresses as ChannelDtmfReceived, a hangup as Asterisk reports
 * one; every RTP packet palabre sends back is checked by the peer and timed
 * here, as the AudioSocket line times its frames.
 */
import type { RtpPeerFormat } from '../../../test/support/rtp-peer.js';
import { AsteriskAri, type EmulatedCall, type RtpPeer } from '../../../test/support/asterisk-ari.js';
import type { OutboundMeter, PacedArrivals } from '../outbound-meter.js';
import { BENCH_ARI, CALLER_RATE } from '../wire-constants.js';
import type { CallerClip, CallerLine, DialTarget, LineDriver, LineStats } from './line-types.js';

/** From StasisStart to the externalMedia channel bridged with the caller. */
const SETUP_TIMEOUT_MS = 15_000;

/**
 * Clip frames as RTP payloads of each format, encoded once and shared by every
 * line. The clips are 8 kHz; for slin16 Asterisk's own translation would
 * resample, here linear interpolation does (the recognition is scripted, and
 * VAD hears speech all the same).
 */
const encoded = new WeakMap<CallerClip, Map<RtpPeerFormat, Buffer[]>>();

function payloadsFor(clip: CallerClip, peer: RtpPeer): Buffer[] {
  let byFormat = encoded.get(clip);
  if (!byFormat) encoded.set(clip, (byFormat = new Map()));
  let out = byFormat.get(peer.format);
  if (!out) {
    const factor = peer.rate / CALLER_RATE;
    out = clip.frames.map((f) => peer.encodePayload(factor === 1 ? f : upsample(f, factor)));
    byFormat.set(peer.format, out);
  }
  return out;
}

function upsample(frame: Int16Array, factor: number): Int16Array {
  const out = new Int16Array(frame.length * factor);
  for (let i = 0; i < out.length; i++) {
    const x = i / factor;
    const a = Math.floor(x);
    const b = Math.min(frame.length - 1, a + 1);
    out[i] = Math.round(frame[a] + (frame[b] - frame[a]) * (x - a));
  }
  return out;
}

let ari: AsteriskAri | undefined;
let channelSeq = 0;
/** Peers of calls that ended, summed (live ones are read when asked). */
const ended = { packets: 0, violations: 0 };
const livePeers = new Set<RtpPeer>();
let firstViolation: string | undefined;

function retire(peer: RtpPeer): void {
  if (!livePeers.delete(peer)) return;
  ended.packets += peer.packetsReceived;
  ended.violations += peer.violationCount;
  firstViolation ??= peer.violations[0];
}

class RtpLine implements CallerLine {
  voiced = 0;
  lastVoiceAt = -Infinity;
  readonly playing = false;
  isClosed = false;
  readonly closed: Promise<void>;
  private readonly arrivals: PacedArrivals;

  constructor(
    private readonly call: EmulatedCall,
    private readonly peer: RtpPeer,
    meter: OutboundMeter,
  ) {
    this.arrivals = meter.pacedLine();
    livePeers.add(peer);
    peer.onPacket = (at, silent) => {
      if (!silent) {
        this.voiced++;
        this.lastVoiceAt = at;
      }
      this.arrivals.frame(at, !silent);
    };
    this.closed = call.left.promise.then(() => {
      this.isClosed = true;
      peer.onPacket = undefined;
      meter.release(this.arrivals);
      retire(peer);
    });
  }

  get id(): string {
    return this.call.id;
  }

  say(clip: CallerClip): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return this.peer.sayPayloads(payloadsFor(clip, this.peer));
  }

  dtmf(digit: string): void {
    if (!this.isClosed) void this.call.dtmf(digit, 0);
  }

  hangup(): void {
    if (!this.isClosed) this.call.hangup();
  }
}

export const rtpLines: LineDriver = {
  async listen(): Promise<DialTarget> {
    ari ??= await AsteriskAri.start({ username: BENCH_ARI.username, password: BENCH_ARI.password, keepReceived: false });
    const url = new URL(ari.url);
    return { host: url.hostname, port: Number(url.port), url: ari.url };
  },
  // Asterisk's channel ids: <epoch seconds>.<sequence>.
  newId: () => `${Math.floor(Date.now() / 1000)}.${++channelSeq}`,
  async dial(_target: DialTarget, id: string, meter: OutboundMeter): Promise<CallerLine> {
    if (!ari) throw new Error('the emulated Asterisk is not listening (listen() first)');
    const call = ari.call({ id, number: `+1555${String(channelSeq % 10_000_000).padStart(7, '0')}`, args: ['flow=support-desk', 'language=en'] });
    let peer: RtpPeer;
    try {
      peer = await Promise.race([
        call.media(SETUP_TIMEOUT_MS),
        call.left.promise.then((left): never => {
          throw new Error(`palabre ended channel ${id} during setup (${left?.how ?? 'gone'}${left?.reason ? `, ${left.reason}` : ''})`);
        }),
      ]);
    } catch (err) {
      call.hangup();
      throw err;
    }
    return new RtpLine(call, peer, meter);
  },
  stats(): LineStats {
    let packets = ended.packets;
    let violations = ended.violations;
    let first = firstViolation;
    for (const p of livePeers) {
      packets += p.packetsReceived;
      violations += p.violationCount;
      first ??= p.violations[0];
    }
    return { counts: { rtpPacketsFromPalabre: packets, rtpViolations: violations }, ...(first ? { problem: first } : {}) };
  },
  close() {
    void ari?.close();
    ari = undefined;
  },
};
