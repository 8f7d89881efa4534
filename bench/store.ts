/**
 * The store under sustained call traffic: 200 concurrent simulated calls,
 * each a caller turn every 3-5 s with the events a real turn makes (caller
 * and bot lines, intent, slot, state, the turn timeline; now and then DTMF,
 * a barge-in, a record), calls ending after 30-60 s and replaced at once.
 * The events go through the real observer, writer and queue into PGlite (in
 * a temporary data directory) and into PostgreSQL when
 * PALABRE_TEST_DATABASE_URL is set (`.ci/run` sets it).
 *
 * Printed per database: writes/s, write latency (push → commit) p50/p99/max,
 * the highest queue depth, drops; and the audio loop's lateness (a 20 ms
 * timer loop, as the pacer runs) p99/max, the event loop delay p99 and the
 * main thread's busy share, with the store off (the same traffic, nothing
 * written) and on, back to back in the same run. Lateness is sensitive to
 * anything else running on the machine; the busy share shows what the store
 * itself costs the thread the audio runs on.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CallEvent, CallEventBody, CallSummary, TurnTimeline } from '../src/call/events.js';
import type { CallMeta, CallObserver } from '../src/call/factory.js';
import type { CallIO } from '../src/call/io.js';
import { silentLogger } from '../src/log.js';
import { createStoreObserver } from '../src/store/observer.js';
import { DEFAULT_QUEUE_OPTIONS } from '../src/store/queue.js';
import { storeTargets, type TestDatabase } from '../src/store/test-support.js';
import type { Store } from '../src/store/types.js';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const CALLS = 200;
const BATCH_MS = Number(process.env.STORE_BENCH_BATCH_MS ?? DEFAULT_QUEUE_OPTIONS.batchMs);

function pct(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

const rand = (a: number, b: number) => a + Math.random() * (b - a);

const LINES = ['my internet is not working since this morning', 'yes', 'my name is john smith', 'the light on the router is red', 'no it still does not work', 'i want to speak to an agent'];

/** One simulated call: its events on a timer, through the observer, like a session emits them. */
class SimCall {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly t0 = performance.now();
  private turn = 0;
  private readonly emit: (e: CallEvent) => void;
  private readonly finish: (s: CallSummary | undefined) => Promise<void>;
  private readonly turns: TurnTimeline[] = [];
  private readonly lengthMs = rand(30_000, 60_000);
  private done = false;

  constructor(
    private readonly id: string,
    observer: CallObserver,
    private readonly onEnd: () => void,
  ) {
    const meta: CallMeta = { transport: 'simulate', flow: 'support-desk', language: 'en', callerId: `+3361234${id.slice(-4)}` };
    const o = observer.open(id, meta, {} as CallIO, silentLogger);
    this.emit = o?.onEvent ? (e) => o.onEvent!(e) : () => undefined;
    this.finish = o?.finish ? (s) => o.finish!(s) : async () => undefined;
    this.send({ type: 'call-started', language: 'en', startedAt: new Date().toISOString() });
    this.send({ type: 'state', from: null, to: 'WELCOME' });
    this.send({ type: 'transcript', role: 'bot', text: 'Hello, welcome to the support line. Do you have a ticket number?' });
    this.later(rand(2000, 5000), () => this.nextTurn());
  }

  private now(): number {
    return performance.now() - this.t0;
  }

  private send(body: CallEventBody): void {
    this.emit({ ...body, callId: this.id, atMs: this.now() } as CallEvent);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.done) fn();
    }, ms);
    this.timers.add(t);
  }

  private nextTurn(): void {
    if (this.now() > this.lengthMs) return void this.end();
    const turn = ++this.turn;
    const at = this.now();
    const text = LINES[turn % LINES.length] as string;
    if (Math.random() < 0.1) for (const digit of '1234') this.send({ type: 'dtmf', digit, accepted: true });
    this.send({ type: 'transcript', role: 'caller', text, turn, confidence: 0.82 });
    this.send({ type: 'intent', intent: 'INTERNET_ISSUE', confidence: 0.9, source: 'keywords', text });
    this.send({ type: 'slot', name: 'problem', value: 'internet', confidence: 0.9 });
    this.send({ type: 'state', from: 'DIAGNOSTIC', to: 'SOLUTION' });
    if (Math.random() < 0.1) this.send({ type: 'barge-in', outcome: 'detected', turn, speechStartMs: at - 500, reactionMs: 60, heard: 'Please restart' });
    if (Math.random() < 0.05) this.send({ type: 'record', kind: 'ticket', data: { name: 'John Smith', problem: 'internet', solved: false } });
    this.later(rand(1500, 2500), () => {
      const timeline: TurnTimeline = {
        turn,
        kind: 'speech',
        speechStartMs: at - 1800,
        speechEndMs: at - 1200,
        endOfTurnMs: at - 1000,
        endReason: 'silence',
        sttStartMs: at - 1000,
        sttFinalMs: at - 600,
        text,
        dialogStartMs: at - 590,
        intentMs: at - 580,
        intent: 'INTERNET_ISSUE',
        dialogDoneMs: at - 570,
        ttsRequestMs: at - 570,
        firstTtsAudioMs: at - 450,
        firstAudioOutMs: at - 430,
        outcome: 'answered',
      };
      this.turns.push(timeline);
      this.send({ type: 'transcript', role: 'bot', text: 'Please restart your router and tell me when the lights are green.' });
      this.send({ type: 'turn', timeline });
      this.later(rand(1000, 3000), () => this.nextTurn());
    });
  }

  private end(): void {
    this.done = true;
    const endedAt = new Date();
    this.send({ type: 'call-ended', reason: 'bot_hangup', endedAt: endedAt.toISOString(), durationMs: this.now() });
    void this.finish({
      id: this.id,
      language: 'en',
      startedAt: new Date(endedAt.getTime() - this.now()).toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: this.now(),
      endReason: 'bot_hangup',
      transcript: [{ role: 'caller', text: 'my internet is not working', atMs: 1000 }],
      states: ['WELCOME', 'DIAGNOSTIC', 'SOLUTION'],
      records: [],
      turns: this.turns,
      bargeIns: { total: 0, false: 0 },
      errors: [],
    });
    this.onEnd();
  }

  stop(): void {
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
  }
}

/** The audio loop as the pacer runs it: a drift-free 20 ms schedule; records how late each tick fires. */
function audioLoop(): { stop(): number[] } {
  const late: number[] = [];
  const t0 = performance.now();
  let n = 1;
  let timer: NodeJS.Timeout;
  const tick = () => {
    late.push(performance.now() - (t0 + n * 20));
    n++;
    timer = setTimeout(tick, Math.max(0, t0 + n * 20 - performance.now()));
  };
  timer = setTimeout(tick, 20);
  return {
    stop() {
      clearTimeout(timer);
      return late;
    },
  };
}

interface PhaseResult {
  lateP99: number;
  lateMax: number;
  loopDelayP99: number;
  /** Share of the main thread's time spent working (event loop utilisation), 0…1. */
  busy: number;
  /** CPU time of the whole process (main thread and the PGlite worker), % of one core. */
  cpu: number;
  callsEnded: number;
}

/** `CALLS` calls at once for `seconds`, observed by `observer` (a no-op for "store off"). */
async function phase(observer: CallObserver, seconds: number, tag: string): Promise<PhaseResult> {
  const calls = new Set<SimCall>();
  let serial = 0;
  let ended = 0;
  let running = true;
  const startCall = () => {
    const call: SimCall = new SimCall(`${tag}-${Date.now().toString(36)}-${String(serial++).padStart(5, '0')}`, observer, () => {
      calls.delete(call);
      ended++;
      if (running) startCall();
    });
    calls.add(call);
  };
  // Calls arrive over the first 2 s rather than all in one tick.
  for (let i = 0; i < CALLS; i++) setTimeout(() => running && startCall(), (i * 2000) / CALLS);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const loop = audioLoop();
  const elu = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const used = process.cpuUsage(cpu0);
  const cpu = ((used.user + used.system) / 1000 / (seconds * 1000)) * 100;
  const busy = performance.eventLoopUtilization(elu).utilization;
  running = false;
  const late = loop.stop();
  delay.disable();
  for (const c of calls) c.stop();
  return { lateP99: pct(late, 99), lateMax: Math.max(...late), loopDelayP99: delay.percentile(99) / 1e6, busy, cpu, callsEnded: ended };
}

const NO_STORE: CallObserver = { open: () => ({ onEvent: () => undefined }) };

export default async function bench(ctx: Ctx): Promise<void> {
  const seconds = ctx.quick ? 12 : 60;
  ctx.print(`${CALLS} concurrent simulated calls, a caller turn every 3-5 s; per database ${seconds} s with the store off, then ${seconds} s with it on`);
  for (const target of storeTargets().filter((t) => t.name !== 'pglite-memory')) {
    let test: TestDatabase | undefined;
    let store: Store | undefined;
    const latencies: number[] = [];
    try {
      test = await target.create();
      store = await test.open({ writer: { batchMs: BATCH_MS, onLatency: (ms) => latencies.push(ms) } });
      await store.migrate();
      // Off and on back to back, so both see the same machine.
      const off = await phase(NO_STORE, seconds, 'off');
      const on = await phase(createStoreObserver(store, silentLogger), seconds, target.name);
      const flushStart = performance.now();
      await store.flush();
      const flushMs = performance.now() - flushStart;
      const s = store.stats();
      ctx.print(`${target.name}:`);
      ctx.print(`  audio loop lateness p99: store off ${off.lateP99.toFixed(2)} ms, on ${on.lateP99.toFixed(2)} ms (max ${off.lateMax.toFixed(1)} / ${on.lateMax.toFixed(1)} ms); event loop delay p99 off ${off.loopDelayP99.toFixed(2)} ms, on ${on.loopDelayP99.toFixed(2)} ms; main thread busy off ${(off.busy * 100).toFixed(1)} %, on ${(on.busy * 100).toFixed(1)} %; process CPU off ${off.cpu.toFixed(1)} %, on ${on.cpu.toFixed(1)} % of a core`);
      ctx.print(
        `  writes ${s.written} (${(s.written / seconds).toFixed(0)}/s), write latency p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(0, ...latencies).toFixed(1)} ms;` +
          ` max queue depth ${s.maxQueued}; dropped ${s.dropped}; failed batches ${s.failedBatches}; final flush ${flushMs.toFixed(0)} ms; calls ended ${on.callsEnded}`,
      );
      if (s.dropped > 0) throw new Error(`the store dropped ${s.dropped} writes under the benchmark load`);
    } finally {
      await store?.close();
      await test?.dispose();
    }
  }
  ctx.print(`load average during the run: ${(await import('node:os')).loadavg()[0]?.toFixed(1)} (figures are noisy when other work shares the cores)`);
}
