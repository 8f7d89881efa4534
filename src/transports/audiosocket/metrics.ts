/** Exposes the AudioSocket server's counters on the app's Prometheus registry, read at scrape time. */
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../../server/metrics.js';
import type { AudioSocketCounters } from './server.js';

const EVENTS = ['connections', 'refusedAddress', 'refusedCapacity', 'firstFrameTimeout', 'badFirstFrame', 'closedBeforeUuid', 'flowLookupFailed', 'callsStarted', 'callsEnded', 'handedOver', 'refusedAbandoned'] as const;

export function registerAudioSocketMetrics(metrics: Metrics, counters: AudioSocketCounters): void {
  new Counter({
    name: 'palabre_audiosocket_events_total',
    help: 'AudioSocket connections, refusals (address, capacity, first frame, a UUID its ARI call gave up on), calls started and ended, and connections handed to the ARI calls that expected them.',
    labelNames: ['event'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const event of EVENTS) this.inc({ event }, counters[event] ?? 0);
    },
  });
  new Counter({
    name: 'palabre_audiosocket_calls_ended_total',
    help: 'AudioSocket calls ended, by cause (hangup frame, EOF, malformed or oversized frame, half-open socket…).',
    labelNames: ['cause'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [cause, n] of Object.entries(counters.ended)) if (n > 0) this.inc({ cause }, n);
    },
  });
  new Gauge({
    name: 'palabre_audiosocket_calls_active',
    help: 'AudioSocket calls in progress.',
    registers: [metrics.registry],
    collect() {
      this.set(counters.active);
    },
  });
}
