/** Exposes the ARI application's and the RTP streams' counters on the app's Prometheus registry, read at scrape time. */
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../../server/metrics.js';
import type { RtpCounters } from '../rtp/counters.js';
import type { PortPool } from '../rtp/port-pool.js';
import type { AriCounters } from './app.js';
import type { AriClientCounters } from './client.js';

export interface AriMetricsSources {
  app: AriCounters;
  client: AriClientCounters;
  rtp: RtpCounters;
  ports: PortPool;
}

function counter(metrics: Metrics, name: string, help: string, labelNames: string[], read: (inc: (labels: Record<string, string>, n: number) => void) => void): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [metrics.registry],
    collect() {
      this.reset();
      read((labels, n) => {
        if (n > 0) this.inc(labels, n);
      });
    },
  });
}

function gauge(metrics: Metrics, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [metrics.registry],
    collect() {
      this.set(read());
    },
  });
}

export function registerAriMetrics(metrics: Metrics, s: AriMetricsSources): void {
  counter(metrics, 'palabre_ari_calls_total', 'ARI calls: started, and ended by cause (caller_hangup, bot_hangup, transfer, setup_failed, refused…).', ['event'], (inc) => {
    inc({ event: 'started' }, s.app.callsStarted);
    for (const [cause, n] of Object.entries(s.app.ended)) inc({ event: cause }, n);
  });
  gauge(metrics, 'palabre_ari_calls_active', 'ARI calls in progress.', () => s.app.active);
  counter(metrics, 'palabre_ari_events_total', 'ARI events received by type; "unreadable" for messages that were not an event, "ignored" for events about nothing palabre owns.', ['type'], (inc) => {
    for (const [type, n] of Object.entries(s.client.events)) inc({ type }, n);
    inc({ type: 'unreadable' }, s.client.badMessages);
    inc({ type: 'ignored' }, s.app.ignoredEvents);
  });
  counter(metrics, 'palabre_ari_reconnects_total', 'Reconnection attempts of the ARI events WebSocket.', [], (inc) => inc({}, s.client.reconnects));
  gauge(metrics, 'palabre_ari_connected', '1 while the ARI events WebSocket is open.', () => (s.client.connects > s.client.disconnects ? 1 : 0));
  counter(metrics, 'palabre_ari_rest_errors_total', 'ARI REST calls that failed, by HTTP status (0: no answer).', ['status'], (inc) => {
    for (const [status, n] of Object.entries(s.client.restErrors)) inc({ status }, n);
  });
  counter(metrics, 'palabre_ari_recording_failures_total', 'Asterisk-side (snoop) recordings that could not be started.', [], (inc) => inc({}, s.app.recordingFailures));

  counter(metrics, 'palabre_rtp_packets_total', 'RTP packets received (played) and sent.', ['direction'], (inc) => {
    inc({ direction: 'in' }, s.rtp.packetsIn);
    inc({ direction: 'out' }, s.rtp.packetsOut);
  });
  counter(metrics, 'palabre_rtp_bad_packets_total', 'Inbound RTP datagrams dropped, by reason (short, version, csrc, extension, padding, rtcp, empty, payload_type, payload_length).', ['reason'], (inc) => {
    for (const [reason, n] of Object.entries(s.rtp.bad)) inc({ reason }, n);
  });
  counter(metrics, 'palabre_rtp_unexpected_source_total', 'RTP datagrams from an address or port other than the call\'s Asterisk side, dropped.', [], (inc) => inc({}, s.rtp.unexpectedSource));
  counter(metrics, 'palabre_rtp_jitter_total', 'Jitter-buffer events: reordered packets, lost ones (concealed with silence), duplicate and late ones dropped, sequence jumps, stream resets, timestamp jumps too long to fill.', ['event'], (inc) => {
    const j = s.rtp.jitter;
    inc({ event: 'reordered' }, j.reordered);
    inc({ event: 'lost' }, j.lost);
    inc({ event: 'duplicate' }, j.duplicates);
    inc({ event: 'late' }, j.late);
    inc({ event: 'jump' }, j.jumps);
    inc({ event: 'reset' }, j.resets);
    inc({ event: 'timestamp_jump' }, j.timestampJumps);
  });
  counter(metrics, 'palabre_rtp_concealed_samples_total', 'Samples of silence inserted for lost RTP packets and timestamp gaps (at the stream\'s clock rate).', [], (inc) => inc({}, s.rtp.jitter.concealedSamples));
  counter(metrics, 'palabre_rtp_timeouts_total', 'Calls ended because Asterisk stopped sending RTP (ari.rtpTimeoutMs).', [], (inc) => inc({}, s.rtp.timeouts));
  counter(metrics, 'palabre_rtp_send_errors_total', 'RTP sends the operating system refused.', [], (inc) => inc({}, s.rtp.sendErrors));
  gauge(metrics, 'palabre_rtp_ports_in_use', 'RTP ports held by calls.', () => s.ports.used);
}
