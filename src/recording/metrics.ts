/** Exposes the recorder's counters on the app's Prometheus registry, read at scrape time. */
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../server/metrics.js';
import type { RecordingCounters } from './counters.js';

const EVENTS = ['started', 'completed', 'failed', 'skipped', 'converted', 'conversionFailed', 'sinkFailed', 'purged', 'gaps'] as const;

export function registerRecordingMetrics(metrics: Metrics, counters: RecordingCounters): void {
  new Counter({
    name: 'palabre_recordings_total',
    help: 'Call recordings started, completed, failed (the call went on without), skipped by their flow, converted, conversions failed, row writes failed, purged; caller-frame gaps filled with silence.',
    labelNames: ['event'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const event of EVENTS) this.inc({ event }, counters[event]);
    },
  });
  new Counter({
    name: 'palabre_recordings_bytes_total',
    help: 'Audio bytes written to call recordings.',
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc(counters.bytes);
    },
  });
  new Gauge({
    name: 'palabre_recordings_active',
    help: 'Call recordings being written now.',
    registers: [metrics.registry],
    collect() {
      this.set(counters.active);
    },
  });
}
