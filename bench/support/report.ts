/** The call benchmark's figures, and how they are printed. */
import type { CallerFigures, LoopDelay } from './caller-protocol.js';
import { HISTOGRAM_RANGE_MS, fromData } from './histogram.js';
import type { TransportStats } from './drivers/server-types.js';

export interface Spread {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface CallsBenchResult {
  transport: string;
  calls: number;
  seconds: number;
  rampMs: number;
  outbound: 'paced' | 'buffered';
  vad: string;
  /** Mean Silero windows per ORT run over the window (batching across calls). */
  vadBatch?: number;
  /** Where the server ran its media, when the transport says (AudioSocket). */
  media?: string;
  tts: string;
  recognition: string;
  callers: CallerFigures;
  server: {
    /** % of one core over the window. */
    cpuPercent: number;
    loopDelay: LoopDelay;
    inboundLag: Spread;
    transport: TransportStats;
  };
  memory: {
    baselineMb: number;
    withCallsMb: number;
    activeAtSample: number;
    /** Most calls in progress at once during the window (sampled each second). */
    peakActive: number;
    perCallMb: number;
    heapPerCallMb: number;
    /** ArrayBuffers and other memory outside the JS heap (audio, sockets' buffers), per call. */
    externalPerCallMb: number;
    peakMb: number;
    afterMb: number;
    /** JS heap once every call has hung up, over the baseline, in all (a leak shows here). */
    heapAfterMb: number;
  };
  /** End of turn → first audio out, ms, over every answered turn of the measured calls. */
  turns: Spread;
  endCauses: Record<string, number>;
  tickets: number;
  /** Finals the scripted recognition had no line for (speech the script did not announce). */
  uncuedFinals: number;
  targets: Array<{ what: string; ok: boolean; detail: string }>;
}

export function spreadOf(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
  return { count: s.length, p50: at(50), p95: at(95), p99: at(99), max: s.length ? s[s.length - 1] : NaN };
}

const ms = (v: number): string => (v === Infinity ? `> ${HISTOGRAM_RANGE_MS} ms` : Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms` : '-');
const mb = (v: number): string => `${v.toFixed(v < 10 ? 2 : 0)} MB`;
const pct = (v: number): string => `${v.toFixed(0)} %`;

/** The targets of issue 4 for the AudioSocket transport, checked against what was measured. */
export function checkTargets(r: Omit<CallsBenchResult, 'targets'>): CallsBenchResult['targets'] {
  const targets: CallsBenchResult['targets'] = [];
  if (r.outbound === 'paced') {
    const jitter = fromData(r.callers.outbound.jitter);
    targets.push({ what: 'outbound jitter p99 < 5 ms', ok: jitter.percentile(99) < 5, detail: ms(jitter.percentile(99)) });
    const dropped = r.callers.outbound.missingSlots + (r.server.transport.inboundDroppedFrames ?? 0);
    targets.push({ what: 'no dropped frames', ok: dropped === 0, detail: `${r.callers.outbound.missingSlots} outbound slots empty, ${r.server.transport.inboundDroppedFrames ?? 0} caller frames dropped` });
  }
  targets.push({ what: 'under 2 MB per call', ok: r.memory.perCallMb < 2, detail: mb(r.memory.perCallMb) });
  const violations = r.callers.wire?.counts.rtpViolations;
  if (violations !== undefined) targets.push({ what: 'RTP as Asterisk takes it (sequence, timestamp, SSRC, payload type and size, source)', ok: violations === 0, detail: `${violations} violations${r.callers.wire?.problem ? `, first: ${r.callers.wire.problem}` : ''}` });
  if (r.transport === 'audiosocket') targets.push({ what: `${r.calls} concurrent calls carried`, ok: r.memory.peakActive >= r.calls, detail: `at most ${r.memory.peakActive} at once` });
  return targets;
}

export function printResult(r: CallsBenchResult, print: (line: string) => void): void {
  const o = r.callers.outbound;
  print(
    `${r.transport}${r.media ? ` (${r.media})` : ''}: ${r.calls} simulated callers (dialled over ${(r.rampMs / 1000).toFixed(1)} s, redialling when a call ends), ${r.seconds} s window; support-desk (en) with ${r.vad}${r.vadBatch ? ` (mean batch ${r.vadBatch.toFixed(1)} windows per ORT run)` : ''}, ${r.recognition}, ${r.tts} through the phrase cache`,
  );
  if (r.outbound === 'paced') {
    const jitter = fromData(o.jitter);
    const steady = fromData(o.steadyJitter);
    print(`  outbound pacing at the callers, |inter-arrival − 20 ms| over ${o.frames} frames: p50 ${ms(jitter.percentile(50))}, p99 ${ms(jitter.percentile(99))}, max ${ms(jitter.max)} (target p99 < 5 ms)`);
    const t = r.server.transport;
    if (t.sendJitterFrames) print(`    as palabre sends them, |interval between socket writes − 20 ms| on the server's clock, over ${t.sendJitterFrames} frames: p50 ${ms(t.sendJitterP50)}, p99 ${ms(t.sendJitterP99)}, max ${ms(t.sendJitterMax)}`);
    print(`    leaving out the gaps at utterance edges (where a bursting pacer would show), ${steady.count} gaps: p50 ${ms(steady.percentile(50))}, p99 ${ms(steady.percentile(99))}, max ${ms(steady.max)}`);
    print(
      `  late frames (gap > 30 ms) ${o.late}, stalls (gap > 100 ms) ${o.stalls}, empty 20 ms slots ${o.missingSlots}; palabre's pacers counted ${r.server.transport.pacerLateFrames ?? 0} late frames (worst ${ms(r.server.transport.pacerMaxLatenessMs ?? NaN)}) over the whole run`,
    );
  } else {
    print(`  bot audio received ${(o.audioMs / 1000).toFixed(0)} s, marks echoed ${o.marksEchoed}; playout underruns (buffer dry with more audio within 300 ms) ${o.underruns}; the transport buffers, so it is not paced`);
  }
  if (r.transport === 'rtp') {
    const t = r.server.transport;
    const w = r.callers.wire;
    print(
      `  RTP over the whole run: palabre sent ${t.rtpPacketsOut ?? 0} packets (${t.botFramesSent ?? 0} of bot audio, ${t.unsentPackets ?? 0} due before Asterisk's address was known), the emulated Asterisk received ${w?.counts.rtpPacketsFromPalabre ?? '-'} with ${w?.counts.rtpViolations ?? '-'} RTP violations${w?.problem ? ` (first: ${w.problem})` : ''}; palabre received ${t.rtpPacketsIn ?? 0}: ${t.rtpLost ?? 0} lost, ${t.rtpReordered ?? 0} reordered, ${t.rtpLate ?? 0} late, ${t.rtpBadPackets ?? 0} bad, ${t.rtpUnexpectedSource ?? 0} from strangers; ${t.rtpSendErrors ?? 0} send errors, ${t.rtpTimeouts ?? 0} RTP timeouts; calls refused ${t.callsRefused ?? 0}, setups failed ${t.callsSetupFailed ?? 0}`,
    );
  }
  const lag = r.server.inboundLag;
  print(`  inbound processing lag (how far behind the caller's real-time pace the session is done with a frame, VAD included) over ${lag.count} frames: p50 ${ms(lag.p50)}, p99 ${ms(lag.p99)}, max ${ms(lag.max)}; caller frames dropped by palabre ${r.server.transport.inboundDroppedFrames ?? 0}${(r.server.transport.inboundDroppedFrames ?? 0) > 0 ? ' (the lag is then overstated: every frame after a dropped one counts 20 ms later)' : ''}`);
  const d = r.server.loopDelay;
  print(`  server event-loop delay (monitorEventLoopDelay): p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)}`);
  print(`  CPU: server ${pct(r.server.cpuPercent)} of one core (${pct(r.server.cpuPercent / 2)} of the 2-core machine, ${(r.server.cpuPercent / Math.max(1, r.memory.activeAtSample)).toFixed(2)} % of a core per call); callers' process ${pct(r.callers.cpuPercent)} of one core, its event-loop delay p99 ${ms(r.callers.loopDelay.p99)} (noise in its timings)`);
  const m = r.memory;
  print(
    `  memory: RSS ${mb(m.baselineMb)} with engines loaded, warm, no call; ${mb(m.withCallsMb)} with ${m.activeAtSample} calls → ${mb(m.perCallMb)} per call (JS heap ${mb(m.heapPerCallMb)}, buffers outside it ${mb(m.externalPerCallMb)}; target < 2 MB)${m.activeAtSample < 50 ? ' [too few calls: RSS noise of a few MB dominates]' : ''}; peak ${mb(m.peakMb)}; once all hung up RSS ${mb(m.afterMb)}, JS heap ${m.heapAfterMb >= 0 ? '+' : ''}${mb(m.heapAfterMb)} over the baseline`,
  );
  print(`  turn latency, end of turn → first audio out, over ${r.turns.count} turns: p50 ${ms(r.turns.p50)}, p95 ${ms(r.turns.p95)}, max ${ms(r.turns.max)}`);
  const causes = Object.entries(r.endCauses).map(([k, n]) => `${k} ${n}`).join(', ');
  print(`  calls: ${r.callers.dialled} dialled, ${r.callers.completed} ran the whole script, ${r.tickets} tickets saved, ${r.callers.stuck} stuck, ${r.callers.failedDials} failed dials; ended by ${causes || 'none yet'}; finals without a cue ${r.uncuedFinals}`);
  for (const t of r.targets) print(`  ${t.ok ? 'met    ' : 'NOT MET'} ${t.what}: ${t.detail}`);
}
