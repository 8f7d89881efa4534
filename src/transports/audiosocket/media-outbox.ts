/**
 * What one side of the media-thread link has to say during an event-loop turn,
 * posted as one message when the turn ends. Audio runs of consecutive frames
 * (of any connections) are packed into one block and transferred, not cloned;
 * any other item closes the block, so order is kept across kinds.
 */
import type { AudioBlock } from './media-protocol.js';

export class Outbox<T extends { t: string }> {
  private items: Array<T | AudioBlock> = [];
  private transfer: ArrayBuffer[] = [];
  private run: Array<[number, Int16Array]> = [];
  private runSamples = 0;
  private scheduled = false;
  private immediate = false;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `beforeFlush` may push last items (figures gathered during the turn) before
   * the message goes. With `audioDelayMs`, audio alone waits up to that long to
   * share a message with more (fewer, larger messages for the other side's
   * event loop); anything else goes at the end of the turn, audio with it.
   */
  constructor(
    private readonly post: (items: Array<T | AudioBlock>, transfer: ArrayBuffer[]) => void,
    private readonly beforeFlush?: () => void,
    private readonly audioDelayMs = 0,
  ) {}

  /** Makes sure a flush runs at the end of this turn, for beforeFlush to add to. */
  wake(): void {
    this.schedule(this.audioDelayMs === 0);
  }

  /** Queues a frame of `conn`; the samples are copied when the block closes, so the caller may reuse them after this turn only if it does not. */
  audio(conn: number, samples: Int16Array): void {
    this.run.push([conn, samples]);
    this.runSamples += samples.length;
    this.schedule(this.audioDelayMs === 0);
  }

  push(item: T): void {
    this.closeRun();
    this.items.push(item);
    this.schedule(true);
  }

  /** Posts now what is queued (before a message that must not overtake it). */
  flush(): void {
    this.beforeFlush?.();
    this.closeRun();
    this.scheduled = false;
    this.immediate = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.items.length === 0) return;
    const items = this.items;
    const transfer = this.transfer;
    this.items = [];
    this.transfer = [];
    this.post(items, transfer);
  }

  private schedule(now: boolean): void {
    if (now ? this.immediate : this.scheduled) return;
    this.scheduled = true;
    if (now) {
      this.immediate = true;
      setImmediate(() => {
        if (this.immediate) this.flush();
      });
    } else {
      this.timer = setTimeout(() => {
        if (this.scheduled) this.flush();
      }, this.audioDelayMs);
    }
  }

  private closeRun(): void {
    if (this.run.length === 0) return;
    const index = new Int32Array(this.run.length * 2);
    const samples = new Int16Array(this.runSamples);
    let at = 0;
    this.run.forEach(([conn, s], i) => {
      index[i * 2] = conn;
      index[i * 2 + 1] = s.length;
      samples.set(s, at);
      at += s.length;
    });
    this.run = [];
    this.runSamples = 0;
    this.items.push({ t: 'audio', index, samples });
    this.transfer.push(index.buffer as ArrayBuffer, samples.buffer as ArrayBuffer);
  }
}

/** Calls `each` with every frame of a block, as views on its samples. */
export function forEachFrame(block: AudioBlock, each: (conn: number, samples: Int16Array) => void): void {
  let at = 0;
  for (let i = 0; i < block.index.length; i += 2) {
    const n = block.index[i + 1];
    each(block.index[i], block.samples.subarray(at, at + n));
    at += n;
  }
}
