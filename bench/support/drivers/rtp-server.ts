/**
 * palabre's ARI Stasis application (src/transports/ari) for the call
 * benchmark, as `palabre serve` runs it: it connects to the emulated Asterisk
 * in the callers' process (`deps.peer`), answers each caller, bridges it with
 * an externalMedia channel and runs the flow over RtpIO. Reported: its pacers'
 * lateness, caller frames dropped, and the process-wide RTP counters.
 */
import { performance } from 'node:perf_hooks';
import type { CallIO } from '../../../src/call/io.js';
import { PalabreError } from '../../../src/errors.js';
import { AriClient } from '../../../src/transports/ari/client.js';
import { AriStasisApp } from '../../../src/transports/ari/app.js';
import type { AriSettings } from '../../../src/transports/ari/call.js';
import { PortPool } from '../../../src/transports/rtp/port-pool.js';
import { RtpIO } from '../../../src/transports/rtp/rtp-io.js';
import { BENCH_ARI } from '../wire-constants.js';
import type { BenchServer, ServerDriver, ServerDriverDeps, TransportStats } from './server-types.js';
import { SendJitter } from '../send-jitter.js';

/** The call's RtpIO, bare or inside the ARI call's media wrapper (its `transport`). */
function rtpOf(io: CallIO): RtpIO | undefined {
  if (io instanceof RtpIO) return io;
  const inner = (io as { transport?: unknown }).transport;
  return inner instanceof RtpIO ? inner : undefined;
}

/** The formats the emulated Asterisk's externalMedia takes. */
const EMULATED_FORMATS = new Set(['slin16', 'slin', 'ulaw']);

export const rtpServer: ServerDriver = {
  outbound: 'paced',
  // The app keeps an ended call's routes 10 s (ROUTE_GRACE_MS in src/transports/ari/app.ts), so the echoes of its cleanup are not taken for strangers.
  holdsEndedCallsMs: 11_000,
  async start(deps: ServerDriverDeps): Promise<BenchServer> {
    const url = deps.peer?.url;
    if (!url) throw new PalabreError('internal', 'the rtp transport needs the emulated Asterisk the callers started (ServerDriverDeps.peer)');
    const base = deps.config.ari;
    if (!EMULATED_FORMATS.has(base.format)) throw new PalabreError('bad_request', `ari.format ${base.format}: the emulated Asterisk of the call benchmark takes ${[...EMULATED_FORMATS].join(', ')}`);
    // One even port per call, from the configured range widened as needed; ports other programs hold are skipped.
    const rtpPortMin = base.rtpPortMin;
    const rtpPortMax = Math.min(65_535, Math.max(base.rtpPortMax, rtpPortMin + 2 * deps.maxCalls + 20));
    const settings: AriSettings = {
      ...base,
      url,
      username: BENCH_ARI.username,
      password: BENCH_ARI.password,
      app: BENCH_ARI.app,
      rtpHost: '127.0.0.1',
      rtpAdvertiseHost: undefined,
      rtpPortMin,
      rtpPortMax,
      maxCalls: deps.maxCalls,
      flow: 'support-desk',
      language: 'en',
      // What the other transports' benchmarks carry: the flow alone, nothing recorded on the Asterisk side.
      welcome: '',
      snoopRecord: [],
    };
    const ports = new PortPool({ host: settings.rtpHost, min: rtpPortMin, max: rtpPortMax });
    if (ports.capacity < deps.maxCalls) throw new PalabreError('bad_request', `RTP ports ${rtpPortMin}–${rtpPortMax} hold ${ports.capacity} calls, the benchmark needs ${deps.maxCalls}: lower ari.rtpPortMin`);

    const live = new Map<string, RtpIO>();
    const totals = { pacerLateFrames: 0, pacerMaxLatenessMs: 0, inboundDroppedFrames: 0, botFramesSent: 0, silenceFramesSent: 0, unsentPackets: 0 };
    const add = (io: RtpIO, into: typeof totals): void => {
      const pacer = io.pacerStats;
      into.pacerLateFrames += pacer.lateFrames;
      into.pacerMaxLatenessMs = Math.max(into.pacerMaxLatenessMs, pacer.maxLatenessMs);
      into.inboundDroppedFrames += io.stats.inboundDropped;
      into.botFramesSent += io.stats.voicePacketsOut;
      into.silenceFramesSent += io.stats.packetsOut - io.stats.voicePacketsOut;
      into.unsentPackets += io.stats.unsent;
    };

    const sendJitter = new SendJitter();
    const client = new AriClient({ url, username: settings.username, password: settings.password, app: settings.app, requestTimeoutMs: settings.requestTimeoutMs, reconnectMinMs: settings.reconnectMinMs, reconnectMaxMs: settings.reconnectMaxMs, logger: deps.logger });
    const app = new AriStasisApp({
      client,
      settings,
      flows: () => Promise.resolve(deps.flows),
      createCall: ({ io, meta, logger }) => {
        const rtp = rtpOf(io);
        if (rtp) {
          live.set(rtp.id, rtp);
          rtp.onFrameSent = sendJitter.forCall();
        }
        return deps.createCall(io, meta.flow, meta.language, logger);
      },
      resampler: deps.engines.resampler,
      resampleQuality: deps.config.audio.resampleQuality,
      ports,
      logger: deps.logger,
      onCallEnded: ({ channelId, summary, cause }) => {
        const io = live.get(channelId);
        if (io) add(io, totals);
        live.delete(channelId);
        deps.onCallEnded({ id: channelId, summary, cause });
      },
    });
    app.start();
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.whenConnected(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new PalabreError('engine_unavailable', `palabre's ARI app could not open the events WebSocket of the emulated Asterisk at ${url} within 10 s`)), 10_000);
        }),
      ]);
    } catch (err) {
      await app.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    deps.logger.debug({ ms: performance.now() - started }, 'bench: ARI app connected');

    return {
      target: deps.peer!,
      active: () => app.activeCalls,
      measure: () => sendJitter.start(),
      stats(): TransportStats {
        const now = { ...totals };
        for (const io of live.values()) add(io, now);
        const rtp = app.rtpCounters;
        const j = rtp.jitter;
        return {
          ...now,
          ...sendJitter.figures(),
          rtpPacketsIn: rtp.packetsIn,
          rtpPacketsOut: rtp.packetsOut,
          rtpBadPackets: Object.values(rtp.bad).reduce((a, b) => a + b, 0),
          rtpUnexpectedSource: rtp.unexpectedSource,
          rtpLost: j.lost,
          rtpReordered: j.reordered,
          rtpLate: j.late,
          rtpDuplicates: j.duplicates,
          rtpSendErrors: rtp.sendErrors,
          rtpTimeouts: rtp.timeouts,
          callsRefused: app.counters.refusedCapacity,
          callsSetupFailed: app.counters.ended.setup_failed,
        };
      },
      close: () => app.close(),
    };
  },
};
