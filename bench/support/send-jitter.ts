/**
 * Pacing as palabre produces it: |interval between two frames handed to the
 * socket − 20 ms| on the server's clock, over the measurement window. What the
 * callers see adds the kernel's delays and their own event loop's to it.
 */
import { Histogram } from './histogram.js';
import { FRAME_MS_PERIOD } from './wire-constants.js';

export class SendJitter {
  private readonly histogram = new Histogram();
  private measuring = false;

  /** A callback for one call's IO (`onFrameSent`). */
  forCall(): (atMs: number) => void {
    let last: number | undefined;
    return (at) => {
      if (this.measuring && last !== undefined) this.histogram.add(Math.abs(at - last - FRAME_MS_PERIOD));
      last = at;
    };
  }

  start(): void {
    this.histogram.reset();
    this.measuring = true;
  }

  /** Figures for the transport stats, empty before any frame was measured. */
  figures(): Record<string, number> {
    const h = this.histogram;
    return h.count > 0 ? { sendJitterFrames: h.count, sendJitterP50: h.percentile(50), sendJitterP99: h.percentile(99), sendJitterMax: h.max } : {};
  }
}
