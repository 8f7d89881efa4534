/**
 * The store's Prometheus metrics, registered in the app's registry
 * (src/server/metrics.ts) so /metrics shows them beside the others.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface StoreMetrics {
  queueDepth: Gauge;
  written: Counter<'table'>;
  dropped: Counter<'reason'>;
  batchSeconds: Histogram;
}

export function createStoreMetrics(registry: Registry): StoreMetrics {
  return {
    queueDepth: new Gauge({ name: 'palabre_store_queue_depth', help: 'Writes waiting for the database.', registers: [registry] }),
    written: new Counter({ name: 'palabre_store_written_total', help: 'Rows written or updated by the store, by table.', labelNames: ['table'], registers: [registry] }),
    dropped: new Counter({
      name: 'palabre_store_dropped_total',
      help: 'Writes given up: queue full (overflow), database kept failing (failed), or refused by the database (rejected).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'palabre_store_batch_seconds',
      help: 'Time to write one batch (one transaction).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
