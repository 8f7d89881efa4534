/**
 * A small receive-side jitter buffer for one RTP stream. It is driven by
 * arrivals, not by a clock: packets in order go straight out (no added delay
 * on a clean line); a packet that leaves a hole is held until the missing one
 * arrives or `depth` later packets have, and then the hole is declared lost
 * and filled with silence of the length the timestamps say. Duplicates and
 * packets that come after their hole was filled are dropped and counted.
 *
 * Sequence numbers are 16 bits and wrap: each is extended to the value
 * nearest the one expected. A far jump either way is believed only when the
 * next packet follows it (RFC 3550 A.1's probation), so one stray packet
 * cannot throw the stream off; a new SSRC starts a new stream at once.
 */

export interface JitterPacket {
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Decoded samples at the stream's clock rate. */
  samples: Int16Array;
}

export interface JitterBufferOptions {
  /** Later packets held while waiting for a missing one before it is declared lost. Default 3 (60 ms of 20 ms packets). */
  depth?: number;
  /** Longest silence inserted for one hole or timestamp jump, in samples; longer jumps are taken as a new time base. */
  maxConcealSamples: number;
  /** Sequence distance beyond which a packet is a jump rather than loss or reordering. Default 100. */
  maxMisorder?: number;
  /** Counters shared by many streams (the transport's metrics), bumped along with this stream's own. */
  totals?: JitterStats;
}

export interface JitterStats {
  /** Packets accepted into the buffer. */
  received: number;
  /** Packets handed out. */
  emitted: number;
  /** Packets that arrived after a later one but in time to be played in order. */
  reordered: number;
  /** Packets declared lost (their time filled with silence). */
  lost: number;
  /** Samples of silence inserted for lost packets and timestamp gaps. */
  concealedSamples: number;
  duplicates: number;
  /** Packets that arrived after their hole had already been filled. */
  late: number;
  /** Far jumps of sequence that were not followed up (dropped). */
  jumps: number;
  /** Times the stream restarted (new SSRC, or a confirmed sequence jump). */
  resets: number;
  /** Timestamp jumps too long to fill with silence (a new time base, or a long pause): played on as is. */
  timestampJumps: number;
}

const REMEMBERED_LOSSES = 128;

export function emptyJitterStats(): JitterStats {
  return { received: 0, emitted: 0, reordered: 0, lost: 0, concealedSamples: 0, duplicates: 0, late: 0, jumps: 0, resets: 0, timestampJumps: 0 };
}

export class JitterBuffer {
  readonly stats: JitterStats = emptyJitterStats();
  private readonly totals: JitterStats | undefined;
  private readonly depth: number;
  private readonly maxConceal: number;
  private readonly maxMisorder: number;
  private ssrc: number | undefined;
  /** Extended sequence number of the next packet to hand out. */
  private expected: number | undefined;
  /** Timestamp the next packet should carry; undefined until one was handed out (or after a reset). */
  private expectedTs: number | undefined;
  private highest = 0;
  private readonly held = new Map<number, JitterPacket>();
  /** Extended numbers declared lost recently, to tell a late packet from a duplicate. */
  private readonly losses: number[] = [];
  /** After a far jump: the packet that jumped, confirmed if the next one follows it. */
  private probation: JitterPacket | undefined;
  /** Samples in the last packet handed out, the best guess for a lost one's length. */
  private lastLength = 0;
  /** Guessed length of the packets declared lost since the last one handed out. */
  private lostSamples = 0;

  constructor(options: JitterBufferOptions) {
    this.depth = Math.max(0, options.depth ?? 3);
    this.maxConceal = options.maxConcealSamples;
    this.maxMisorder = options.maxMisorder ?? 100;
    this.totals = options.totals;
  }

  /** Packets waiting for a hole to fill. */
  get pending(): number {
    return this.held.size;
  }

  /** Takes one packet; returns the audio now ready to play, in order (silence included). */
  push(packet: JitterPacket): Int16Array[] {
    const out: Int16Array[] = [];
    if (this.ssrc !== undefined && packet.ssrc !== this.ssrc) {
      this.flushInto(out);
      this.reset(packet);
    }
    if (this.expected === undefined) this.reset(packet);
    const ext = this.extend(packet.sequence, this.expected as number);
    if (Math.abs(ext - (this.expected as number)) > this.maxMisorder) {
      const probation = this.probation;
      if (probation && packet.sequence === ((probation.sequence + 1) & 0xffff)) {
        // Two packets in a row agree on the new numbering: the sender restarted.
        this.probation = undefined;
        this.flushInto(out);
        this.reset(probation);
        this.accept(probation, this.expected as number, out);
        this.accept(packet, this.extend(packet.sequence, this.expected as number), out);
        return out;
      }
      this.count('jumps');
      this.probation = packet;
      return out;
    }
    this.probation = undefined;
    this.accept(packet, ext, out);
    return out;
  }

  /** Hands out everything held, filling holes (end of stream). */
  flush(): Int16Array[] {
    const out: Int16Array[] = [];
    this.flushInto(out);
    return out;
  }

  private accept(packet: JitterPacket, ext: number, out: Int16Array[]): void {
    const expected = this.expected as number;
    if (ext < expected) {
      if (this.losses.includes(ext)) this.count('late');
      else this.count('duplicates');
      return;
    }
    if (this.held.has(ext)) {
      this.count('duplicates');
      return;
    }
    this.count('received');
    if (ext < this.highest) this.count('reordered');
    this.highest = Math.max(this.highest, ext);
    this.held.set(ext, packet);
    this.drain(out, false);
  }

  /** The 16-bit number as the extended one nearest `reference`. */
  private extend(sequence: number, reference: number): number {
    const delta = ((sequence - (reference & 0xffff) + 0x8000) & 0xffff) - 0x8000;
    return reference + delta;
  }

  private reset(packet: JitterPacket): void {
    if (this.ssrc !== undefined) this.count('resets');
    this.ssrc = packet.ssrc;
    // Extended numbers start one cycle up, so a wrap backwards never goes negative.
    this.expected = 0x10000 + packet.sequence;
    this.highest = this.expected;
    this.expectedTs = undefined;
    this.held.clear();
    this.losses.length = 0;
    this.lostSamples = 0;
  }

  private drain(out: Int16Array[], all: boolean): void {
    for (;;) {
      const expected = this.expected as number;
      const next = this.held.get(expected);
      if (next) {
        this.held.delete(expected);
        this.emit(next, out);
        this.expected = expected + 1;
        continue;
      }
      if (this.held.size === 0 || (!all && this.held.size <= this.depth)) return;
      // Waited long enough: the run of missing packets up to the first one held is lost.
      const first = Math.min(...this.held.keys());
      for (let seq = expected; seq < first; seq++) this.rememberLoss(seq);
      this.count('lost', first - expected);
      this.lostSamples += (first - expected) * this.lastLength;
      this.expected = first;
    }
  }

  private emit(packet: JitterPacket, out: Int16Array[]): void {
    if (this.expectedTs !== undefined) {
      const gap = (packet.timestamp - this.expectedTs) | 0;
      if (gap > 0 && gap <= this.maxConceal) {
        out.push(new Int16Array(gap));
        this.count('concealedSamples', gap);
      } else if (gap > this.maxConceal) {
        // A pause longer than we would fill (or a new time base): play on without inventing audio.
        this.count('timestampJumps');
      } else if (this.lostSamples > 0) {
        // Packets were lost but the timestamps do not say how long they were: assume the usual length.
        const fill = Math.min(this.lostSamples, this.maxConceal);
        out.push(new Int16Array(fill));
        this.count('concealedSamples', fill);
      }
    }
    this.lostSamples = 0;
    out.push(packet.samples);
    this.count('emitted');
    this.lastLength = packet.samples.length;
    this.expectedTs = (packet.timestamp + packet.samples.length) >>> 0;
  }

  private flushInto(out: Int16Array[]): void {
    this.drain(out, true);
    this.probation = undefined;
  }

  private count(key: keyof JitterStats, n = 1): void {
    this.stats[key] += n;
    if (this.totals) this.totals[key] += n;
  }

  private rememberLoss(ext: number): void {
    this.losses.push(ext);
    if (this.losses.length > REMEMBERED_LOSSES) this.losses.shift();
  }
}
