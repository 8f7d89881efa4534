/** A growable first-in first-out queue of PCM16 samples, for the fixed-delay lines of the denoisers. */
export class SampleFifo {
  private buf: Int16Array;
  private head = 0;
  private tail = 0;

  constructor(capacity = 1024) {
    this.buf = new Int16Array(Math.max(16, capacity));
  }

  get length(): number {
    return this.tail - this.head;
  }

  push(samples: ArrayLike<number>): void {
    const n = samples.length;
    if (this.tail + n > this.buf.length) {
      const live = this.length;
      if (live + n <= this.buf.length / 2) {
        // Room enough once the consumed front is dropped.
        this.buf.copyWithin(0, this.head, this.tail);
      } else {
        const bigger = new Int16Array(2 * (live + n));
        bigger.set(this.buf.subarray(this.head, this.tail));
        this.buf = bigger;
      }
      this.head = 0;
      this.tail = live;
    }
    this.buf.set(samples as ArrayLike<number>, this.tail);
    this.tail += n;
  }

  pushZeros(n: number): void {
    this.push(new Int16Array(n));
  }

  /** Removes and returns the `n` oldest samples; the caller guarantees `n <= length`. */
  pop(n: number): Int16Array {
    const out = this.buf.slice(this.head, this.head + n);
    this.head += n;
    if (this.head === this.tail) this.head = this.tail = 0;
    return out;
  }

  clear(): void {
    this.head = this.tail = 0;
  }
}
