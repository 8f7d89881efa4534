/**
 * One channel's audio that is placed on the recording's timeline but not yet
 * written: a run of sample blocks and silences. Silences are kept as lengths,
 * so padding a long gap costs nothing until it is written.
 */
export class PendingChannel {
  /** Blocks in order: samples, or a number of silent samples. */
  private parts: Array<Int16Array | number> = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  append(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.parts.push(samples);
    this.size += samples.length;
  }

  appendSilence(n: number): void {
    if (n <= 0) return;
    const last = this.parts.length - 1;
    if (last >= 0 && typeof this.parts[last] === 'number') this.parts[last] = (this.parts[last] as number) + n;
    else this.parts.push(n);
    this.size += n;
  }

  /** Puts `n` silent samples at `offset` (clamped to the channel), moving what follows later. */
  insertSilence(offset: number, n: number): void {
    if (n <= 0) return;
    if (offset >= this.size) {
      this.appendSilence(n);
      return;
    }
    let at = Math.max(0, offset);
    for (let i = 0; i < this.parts.length; i++) {
      const part = this.parts[i];
      const len = typeof part === 'number' ? part : part.length;
      if (at > len) {
        at -= len;
        continue;
      }
      if (typeof part === 'number') this.parts[i] = part + n;
      else if (at === 0) this.parts.splice(i, 0, n);
      else if (at === len) this.parts.splice(i + 1, 0, n);
      else this.parts.splice(i, 1, part.subarray(0, at), n, part.subarray(at));
      break;
    }
    this.size += n;
  }

  /** Removes and returns the first `n` samples; past the end the channel is silent. */
  take(n: number): Int16Array {
    const out = new Int16Array(n);
    let filled = 0;
    while (filled < n && this.parts.length > 0) {
      const part = this.parts[0];
      const len = typeof part === 'number' ? part : part.length;
      const use = Math.min(len, n - filled);
      if (typeof part !== 'number') out.set(part.subarray(0, use), filled);
      filled += use;
      if (use === len) this.parts.shift();
      else this.parts[0] = typeof part === 'number' ? part - use : part.subarray(use);
    }
    this.size = Math.max(0, this.size - n);
    return out;
  }

  clear(): void {
    this.parts = [];
    this.size = 0;
  }
}
