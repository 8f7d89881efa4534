/** The Twilio media streams' counters, exposed on the app's Prometheus registry and read at scrape time. */
import { Counter, Gauge } from 'prom-client';
import type { CallEndReason } from '../../call/io.js';
import type { Metrics } from '../../server/metrics.js';
import type { TwilioBadKind, TwilioIOCounters } from './twilio-io.js';

export interface TwilioCounters extends TwilioIOCounters {
  /** WebSocket upgrades of /twilio/media that were accepted. */
  connections: number;
  /** Streams closed at once because maxCalls were already running. */
  refusedCapacity: number;
  /** Upgrades refused (403) for a missing or wrong X-Twilio-Signature. */
  refusedSignature: number;
  /** Streams that sent no `start` in time. */
  startTimeout: number;
  /** Streams that closed, or broke the protocol, before their `start`. */
  closedBeforeStart: number;
  streamsStarted: number;
  streamsEnded: number;
  /** Streams open now (started or waiting for `start`). */
  active: number;
  /** Started streams that ended, by the call's end reason. */
  ended: Partial<Record<CallEndReason, number>>;
  /** Bad messages, by kind. */
  bad: Partial<Record<TwilioBadKind, number>>;
}

export function createTwilioCounters(): TwilioCounters {
  return {
    connections: 0,
    refusedCapacity: 0,
    refusedSignature: 0,
    startTimeout: 0,
    closedBeforeStart: 0,
    streamsStarted: 0,
    streamsEnded: 0,
    active: 0,
    ended: {},
    bad: {},
    marksSent: 0,
    marksEchoed: 0,
    clears: 0,
  };
}

const EVENTS = ['connections', 'refusedCapacity', 'refusedSignature', 'startTimeout', 'closedBeforeStart', 'streamsStarted', 'streamsEnded', 'clears'] as const;

function byLabel(counter: Counter<string>, label: string, values: Partial<Record<string, number>>): void {
  counter.reset();
  for (const [value, n] of Object.entries(values)) if (n) counter.inc({ [label]: value }, n);
}

export function registerTwilioMetrics(metrics: Metrics, counters: TwilioCounters): void {
  new Counter({
    name: 'palabre_twilio_events_total',
    help: 'Twilio media streams: connections, refusals (capacity, signature), streams without start, streams started and ended, clears sent.',
    labelNames: ['event'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const event of EVENTS) this.inc({ event }, counters[event]);
    },
  });
  new Counter({
    name: 'palabre_twilio_streams_ended_total',
    help: 'Twilio streams whose call ended, by end reason (caller_hangup, bot_hangup, transport_error…).',
    labelNames: ['reason'],
    registers: [metrics.registry],
    collect() {
      byLabel(this, 'reason', counters.ended);
    },
  });
  new Counter({
    name: 'palabre_twilio_bad_messages_total',
    help: 'Bad messages on Twilio media streams, by kind (garbage-json, malformed, unknown-stream…).',
    labelNames: ['kind'],
    registers: [metrics.registry],
    collect() {
      byLabel(this, 'kind', counters.bad);
    },
  });
  new Counter({
    name: 'palabre_twilio_marks_total',
    help: 'Marks sent after bot audio, and echoed back by Twilio once played.',
    labelNames: ['direction'],
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc({ direction: 'sent' }, counters.marksSent);
      this.inc({ direction: 'echoed' }, counters.marksEchoed);
    },
  });
  new Gauge({
    name: 'palabre_twilio_streams_active',
    help: 'Twilio media streams open now.',
    registers: [metrics.registry],
    collect() {
      this.set(counters.active);
    },
  });
}
