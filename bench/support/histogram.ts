/**
 * A fixed-resolution histogram of milliseconds (0.05 ms bins up to 2 s, one
 * overflow bin above), cheap enough to feed on every frame of hundreds of calls
 * and plain data, so the callers' process can send its histograms over IPC to
 * be merged with the server's.
 */
const BIN_MS = 0.05;
const BINS = 40_000;
/** Percentiles beyond this fall in the overflow bin and are known only to exceed it. */
export const HISTOGRAM_RANGE_MS = BIN_MS * BINS;

export interface HistogramData {
  bins: number[];
  count: number;
  max: number;
  sum: number;
}

export class Histogram {
  private readonly bins = new Uint32Array(BINS + 1);
  count = 0;
  max = 0;
  sum = 0;

  add(ms: number): void {
    const v = ms > 0 ? ms : 0;
    this.bins[Math.min(BINS, Math.floor(v / BIN_MS))]++;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  reset(): void {
    this.bins.fill(0);
    this.count = 0;
    this.max = 0;
    this.sum = 0;
  }

  merge(other: HistogramData): void {
    for (let i = 0; i < other.bins.length; i += 2) this.bins[other.bins[i]] += other.bins[i + 1];
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  /** Sparse (bin, count) pairs, small enough for IPC. */
  toJSON(): HistogramData {
    const bins: number[] = [];
    for (let i = 0; i < this.bins.length; i++) if (this.bins[i] > 0) bins.push(i, this.bins[i]);
    return { bins, count: this.count, max: this.max, sum: this.sum };
  }

  /** The value below which `p` % of the samples fall (upper edge of its bin); Infinity when that is in the overflow bin. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= rank) return i === BINS ? Infinity : Math.min(this.max, (i + 1) * BIN_MS);
    }
    return Infinity;
  }

  /** How many samples exceed `ms` (to the bin resolution). */
  above(ms: number): number {
    let n = 0;
    for (let i = Math.floor(ms / BIN_MS) + 1; i < this.bins.length; i++) n += this.bins[i];
    return n;
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
}

export function fromData(data: HistogramData): Histogram {
  const h = new Histogram();
  h.merge(data);
  return h;
}
