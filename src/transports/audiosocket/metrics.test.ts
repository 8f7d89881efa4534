import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../server/metrics.js';
import { registerAudioSocketMetrics } from './metrics.js';
import type { AudioSocketCounters } from './server.js';

describe('AudioSocket metrics', () => {
  it('reports the live counters at scrape time', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const counters = { connections: 3, refusedAddress: 1, refusedCapacity: 0, firstFrameTimeout: 0, badFirstFrame: 1, closedBeforeUuid: 0, flowLookupFailed: 0, callsStarted: 1, callsEnded: 0, active: 1, ended: {} } as unknown as AudioSocketCounters;
    registerAudioSocketMetrics(metrics, counters);
    let text = await metrics.registry.metrics();
    expect(text).toMatch(/palabre_audiosocket_events_total\{event="refusedAddress"\} 1/);
    expect(text).toMatch(/palabre_audiosocket_calls_active 1/);
    counters.active = 0;
    counters.callsEnded = 1;
    (counters.ended as Record<string, number>).hangup_frame = 1;
    text = await metrics.registry.metrics();
    expect(text).toMatch(/palabre_audiosocket_calls_active 0/);
    expect(text).toMatch(/palabre_audiosocket_events_total\{event="callsEnded"\} 1/);
    expect(text).toMatch(/palabre_audiosocket_calls_ended_total\{cause="hangup_frame"\} 1/);
  });
});
