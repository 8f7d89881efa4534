/**
 * The bot's audio between write() and the caller's ear. Transports queue
 * seconds of it ahead of playout, and a barge-in drops the unplayed rest, so
 * write() says nothing about what the caller heard. This keeps what was
 * written in order and hands out exactly as much as the IO's playedMs() says
 * has played since the last look.
 */
export interface PlayedAudio {
  audio: Int16Array[];
  /** Samples played beyond what was written (a transport padding its last frame with silence). */
  silentAfter: number;
}

export class BotPlayout {
  private queue: Int16Array[] = [];
  /** Offset into queue[0] of the first unplayed sample. */
  private head = 0;
  private queued = 0;
  /** playedMs() at the last look, in samples. */
  private seen: number;
  /** Samples written while more than `maxQueued` waited: the oldest went unrecorded. */
  overflowed = 0;

  constructor(
    private readonly sampleRate: number,
    playedMs: number,
    private readonly maxQueued: number = sampleRate * 120,
  ) {
    this.seen = this.toSamples(playedMs);
  }

  get queuedSamples(): number {
    return this.queued;
  }

  write(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.queue.push(samples);
    this.queued += samples.length;
    // A transport that never plays (closed, broken) must not make the queue grow for ever.
    while (this.queued > this.maxQueued) this.overflowed += this.dropFirst(this.queued - this.maxQueued);
  }

  /** What has played since the last call, given the IO's playedMs() now. */
  played(playedMs: number): PlayedAudio {
    const now = this.toSamples(playedMs);
    const delta = now - this.seen;
    this.seen = now;
    if (delta <= 0) return { audio: [], silentAfter: 0 };
    const audio: Int16Array[] = [];
    let left = delta;
    while (left > 0 && this.queue.length > 0) {
      const first = this.queue[0];
      const avail = first.length - this.head;
      const use = Math.min(avail, left);
      audio.push(first.subarray(this.head, this.head + use));
      left -= use;
      this.queued -= use;
      if (use === avail) {
        this.queue.shift();
        this.head = 0;
      } else this.head += use;
    }
    return { audio, silentAfter: left };
  }

  /** Everything not yet played is gone (clear()); `playedMs` is the IO's count after it. */
  dropUnplayed(playedMs: number): void {
    this.queue = [];
    this.head = 0;
    this.queued = 0;
    this.seen = this.toSamples(playedMs);
  }

  private dropFirst(n: number): number {
    let dropped = 0;
    while (dropped < n && this.queue.length > 0) {
      const first = this.queue[0];
      const avail = first.length - this.head;
      const use = Math.min(avail, n - dropped);
      dropped += use;
      this.queued -= use;
      if (use === avail) {
        this.queue.shift();
        this.head = 0;
      } else this.head += use;
    }
    return dropped;
  }

  private toSamples(ms: number): number {
    return Math.round((ms * this.sampleRate) / 1000);
  }
}
