/** Event-loop delay over a window, in ms, from perf_hooks (10 ms sampling resolution). */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoopDelay } from './caller-protocol.js';

export class LoopDelayWindow {
  private histogram: IntervalHistogram | undefined;

  start(): void {
    this.histogram?.disable();
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
  }

  stop(): LoopDelay {
    const h = this.histogram;
    this.histogram = undefined;
    if (!h) return { p50: NaN, p99: NaN, max: NaN };
    h.disable();
    // monitorEventLoopDelay counts the resolution itself as delay; what is reported is beyond it.
    const ms = (ns: number): number => Math.max(0, ns / 1e6 - 10);
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  }
}
