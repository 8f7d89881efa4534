/**
 * The two-party timeline of a recording: caller on one channel, bot on the
 * other, sample-aligned.
 *
 * The caller's frames are the call's clock: each frame sits right after the
 * previous one, so the caller channel is exactly what the line carried, and
 * the time of a frame is when the most punctual frames arrive (the lowest
 * lateness seen, the baseline), however late this one came. Frames that stop
 * coming for a while (a transport that skipped time) leave a gap, filled with
 * silence once frames have come that late for long enough to be sure it was
 * not a stall that the next frames make up for.
 *
 * The bot's audio is placed where it was heard: each look at the IO's
 * playedMs() says how much more has played since the last look, and that
 * much is stamped with the time it played (as late as the two looks allow,
 * never over what the bot already said). Stamps become positions on the
 * caller's clock only when audio is handed out, a second later, when the
 * baseline has settled (the first frames of a call often come in a burst).
 */
import { PendingChannel } from './pending-channel.js';

export interface StereoTimelineOptions {
  sampleRate: number;
  /** Monotonic ms on the IO's clock (real time for every transport; the fast clock in simulations). */
  now: () => number;
  /** Frames arriving this much later than their count says start a suspected gap (default 200 ms). */
  gapMs?: number;
  /**
   * A suspected gap is a gap once frames have gone on arriving that late for this long (default 400 ms);
   * frames that were only held up (an event-loop stall) catch up within it and are not a gap.
   */
  confirmGapMs?: number;
  /** Audio kept back from the writer (default 1000 ms; more than confirmGapMs). */
  holdbackMs?: number;
}

export interface TimelineStats {
  /** Gaps in the caller's frames filled with silence, and their total length. */
  gaps: number;
  gapMs: number;
}

interface Suspect {
  /** Absolute sample position where the gap begins (before the first late frame). */
  at: number;
  sinceMs: number;
  minExcessMs: number;
}

/** Bot audio that played, stamped with when it started (ms since the timeline's origin). */
interface BotPiece {
  startMs: number;
  audio: readonly Int16Array[];
  silentAfter: number;
  length: number;
}

export class StereoTimeline {
  readonly sampleRate: number;
  readonly stats: TimelineStats = { gaps: 0, gapMs: 0 };
  private readonly caller = new PendingChannel();
  private readonly bot = new PendingChannel();
  /** Bot audio stamped but not yet placed on the bot channel, in order. */
  private pieces: BotPiece[] = [];
  private stamped = 0;
  /** Samples (per channel) already handed out by take(). */
  private committed = 0;
  private readonly now: () => number;
  private readonly origin: number;
  private readonly gapMs: number;
  private readonly confirmGapMs: number;
  private readonly holdback: number;
  /** When the previous look at the bot's playout was, and when the bot's stamped audio ends (ms since origin). */
  private lastLookMs: number | undefined;
  private botStampEndMs = -Infinity;
  /** Lowest seen (arrival time − frame-count time): how late frames are when nothing is missing. */
  private baselineMs: number | undefined;
  private suspect: Suspect | undefined;

  constructor(options: StereoTimelineOptions) {
    this.sampleRate = options.sampleRate;
    this.now = options.now;
    this.origin = options.now();
    this.gapMs = options.gapMs ?? 200;
    this.confirmGapMs = options.confirmGapMs ?? 400;
    this.holdback = Math.round(((options.holdbackMs ?? 1000) * this.sampleRate) / 1000);
  }

  get callerEnd(): number {
    return this.committed + this.caller.length;
  }

  /** Samples placed or stamped but not yet taken. */
  get pending(): number {
    return Math.max(this.caller.length, this.bot.length + this.stamped);
  }

  /** Ms of timeline handed out so far. */
  get committedMs(): number {
    return (this.committed * 1000) / this.sampleRate;
  }

  /** One caller frame, as it arrived. */
  addCaller(samples: Int16Array): void {
    const start = this.callerEnd;
    this.caller.append(samples);
    const elapsedMs = this.now() - this.origin;
    const lagMs = elapsedMs - (this.callerEnd * 1000) / this.sampleRate;
    if (this.baselineMs === undefined || lagMs < this.baselineMs) this.baselineMs = lagMs;
    const excessMs = lagMs - this.baselineMs;
    if (excessMs <= this.gapMs) {
      this.suspect = undefined;
      return;
    }
    if (!this.suspect) this.suspect = { at: start, sinceMs: elapsedMs, minExcessMs: excessMs };
    else this.suspect.minExcessMs = Math.min(this.suspect.minExcessMs, excessMs);
    if (elapsedMs - this.suspect.sinceMs >= this.confirmGapMs) {
      const pad = Math.round((this.suspect.minExcessMs * this.sampleRate) / 1000);
      this.caller.insertSilence(Math.max(0, this.suspect.at - this.committed), pad);
      this.stats.gaps++;
      this.stats.gapMs += (pad * 1000) / this.sampleRate;
      this.suspect = undefined;
    }
  }

  /**
   * A look at the IO: `audio` is what played since the last look (in order),
   * then `silentAfter` samples it reports beyond what was written (a
   * transport padding its last frame). Called on every look, even when
   * nothing played, so the next one knows when this one was. The audio is
   * stamped as late as the looks allow: not before the last look, ending no
   * later than now. That is exact for an IO that counts audio as it plays,
   * and within one look's spacing for one that counts a frame when it starts.
   */
  addBot(audio: readonly Int16Array[], silentAfter = 0): void {
    const nowMs = this.now() - this.origin;
    const lastMs = this.lastLookMs ?? nowMs;
    this.lastLookMs = nowMs;
    let length = silentAfter;
    for (const a of audio) length += a.length;
    if (length <= 0) return;
    const lengthMs = (length * 1000) / this.sampleRate;
    const startMs = Math.max(this.botStampEndMs, lastMs, nowMs - lengthMs);
    this.botStampEndMs = startMs + lengthMs;
    this.pieces.push({ startMs, audio, silentAfter, length });
    this.stamped += length;
  }

  /**
   * The stretch ready to be written, caller and bot channels of equal length,
   * or undefined when there is none yet. `final` hands out everything, the
   * shorter channel padded with silence.
   */
  take(final = false): [Int16Array, Int16Array] | undefined {
    let upTo: number;
    if (final) {
      this.placeBot(Infinity);
      upTo = Math.max(this.callerEnd, this.committed + this.bot.length);
    } else {
      upTo = this.callerEnd - this.holdback;
      // A suspected gap may still need silence put where it began.
      if (this.suspect) upTo = Math.min(upTo, this.suspect.at);
      this.placeBot(upTo);
    }
    const n = upTo - this.committed;
    if (n <= 0) return undefined;
    this.committed = upTo;
    return [this.caller.take(n), this.bot.take(n)];
  }

  /** Forgets everything not yet taken (the recording was abandoned). */
  discard(): void {
    this.caller.clear();
    this.bot.clear();
    this.pieces = [];
    this.stamped = 0;
  }

  /** Puts the stamped pieces that start before `upTo` on the bot channel, at their time on the caller's clock. */
  private placeBot(upTo: number): void {
    const baseline = this.baselineMs ?? 0;
    while (this.pieces.length > 0) {
      const piece = this.pieces[0];
      const end = this.committed + this.bot.length;
      const at = Math.max(end, Math.round(((piece.startMs - baseline) * this.sampleRate) / 1000));
      if (at >= upTo) return;
      this.pieces.shift();
      this.stamped -= piece.length;
      this.bot.appendSilence(at - end);
      for (const a of piece.audio) this.bot.append(a);
      this.bot.appendSilence(piece.silentAfter);
    }
  }
}
