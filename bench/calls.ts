/**
 * Many concurrent calls through a real transport (`npm run bench -- calls`, or
 * `palabre bench calls --transport audiosocket|twilio|rtp -n N [--seconds S]`):
 * N simulated callers in a child process stream flite speech at real-time pace
 * (20 ms frames) through `support-desk` in English with Silero VAD (batched),
 * turn-taking and phrase-cache TTS on palabre's real transport server, which
 * runs in this process. Recognition is scripted (bench/support/scripted-stt.ts)
 * so the figures are those of the media path, not of a recogniser. For rtp,
 * the callers' process plays Asterisk (the ARI emulator of test/support, an
 * RTP peer per externalMedia channel) and palabre's ARI app connects to it.
 *
 * Printed: outbound pacing jitter p50/p99, late frames and empty slots (at the
 * callers), inbound processing lag and event-loop delay, CPU share of the
 * server, resident memory per call beyond the shared engines, turn latencies.
 * Target for AudioSocket on 2 cores: 200 calls, jitter p99 < 5 ms, nothing
 * dropped, < 2 MB per call. Figures are printed whether or not they are met.
 */
import { fork } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CallSummary } from '../src/call/events.js';
import { type Config, loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { loadEngines } from '../src/engines/registry.js';
import type { SileroVad } from '../src/engines/vad/silero.js';
import { PalabreError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { loadCallerScript } from '../src/simulate/script.js';
import { createBenchCallFactory } from './support/bench-call.js';
import { prepareCallerClips } from './support/caller-audio.js';
import type { CallerStep } from './support/caller-protocol.js';
import { CallersProcess } from './support/callers-process.js';
import { BENCH_TRANSPORTS, type BenchTransport } from './support/drivers/lines.js';
import { SERVER_DRIVERS } from './support/drivers/servers.js';
import { LoopDelayWindow } from './support/loop-delay.js';
import { InboundMeter } from './support/measured-io.js';
import { type CallsBenchResult, checkTargets, printResult, spreadOf } from './support/report.js';
import { ScriptedRecognition, type SttSource } from './support/scripted-stt.js';
import { createDeepgram } from '../src/engines/stt/deepgram.js';
import { startFakeDeepgram } from '../test/support/fake-deepgram.js';
import { FAKE_EN_VOICE, startFakeElevenLabs } from '../test/support/fake-elevenlabs.js';

const ROOT = new URL('..', import.meta.url).pathname;
const SCRIPT = join(ROOT, 'examples/callers/support-desk.en.yaml');
const MB = 1024 * 1024;

export { BENCH_TRANSPORTS, type BenchTransport };

export interface CallsBenchOptions {
  transport: BenchTransport;
  calls: number;
  seconds: number;
  /** Callers are dialled over this long. Default 25 ms per call, at most 5 s. */
  rampMs?: number;
  /** Defaults to the built-in configuration (env ignored). */
  config?: Config;
  /**
   * scripted: the call's next final is the line its caller announced (media path only). deepgram: the same
   * answers, but over Deepgram's live protocol from a loopback server (one engine per call, tagged with the call id).
   */
  recognition?: 'scripted' | 'deepgram';
  /** local: the configured local voice. elevenlabs: the ElevenLabs engine against a loopback server speaking its protocol. */
  voice?: 'local' | 'elevenlabs';
  print: (line: string) => void;
}

const CLOUD_KEY = 'bench-loopback-key';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function forceGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) throw new Error(`call benchmark: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function scriptSteps(): CallerStep[] {
  const { script } = loadCallerScript(SCRIPT);
  return script.turns.map((t, i) => {
    if (t.when !== 'bot_done' || t.pause_ms) throw new PalabreError('bad_request', `${SCRIPT} turn ${i + 1}: the call benchmark plays only say and dtmf turns after the bot is done`);
    if (t.say) return { say: t.say };
    if (t.dtmf) return { dtmf: t.dtmf };
    throw new PalabreError('bad_request', `${SCRIPT} turn ${i + 1}: the call benchmark plays only say and dtmf turns`);
  });
}

export async function runCallsBench(options: CallsBenchOptions): Promise<CallsBenchResult> {
  const { transport, calls, seconds, print } = options;
  if (!BENCH_TRANSPORTS.includes(transport)) throw new PalabreError('bad_request', `unknown transport "${transport}"; the call benchmark drives ${BENCH_TRANSPORTS.join(', ')}`);
  if (!(calls >= 1) || !(seconds >= 1)) throw new PalabreError('bad_request', `need at least 1 call and 1 second (got ${calls} calls, ${seconds} s)`);
  const rampMs = options.rampMs ?? Math.min(5000, calls * 25);
  const base = options.config ?? loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
  const gc = forceGc();
  const steps = scriptSteps();
  const recognition = new ScriptedRecognition();

  // The cloud-protocol servers run in this process: their (small) CPU is counted in the server's figures.
  const deepgram = options.recognition === 'deepgram' ? await startFakeDeepgram({ apiKey: CLOUD_KEY, script: (turn) => recognition.take(turn.query.get('tag') ?? '') }) : undefined;
  const elevenlabs = options.voice === 'elevenlabs' ? await startFakeElevenLabs({ apiKey: CLOUD_KEY }) : undefined;
  const config: Config = elevenlabs
    ? { ...base, engines: { ...base.engines, tts: { ...base.engines.tts, engine: 'elevenlabs', elevenlabs: { ...base.engines.tts.elevenlabs, apiKey: CLOUD_KEY, baseUrl: elevenlabs.baseUrl, voiceId: FAKE_EN_VOICE } } } }
    : base;
  const stt: SttSource = deepgram
    ? (callId) => createDeepgram({ apiKey: CLOUD_KEY, baseUrl: deepgram.baseUrl, tags: [callId], language: 'en', logger: silentLogger })
    : recognition.source;

  const engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'tts'], ttsEngines: [config.engines.tts.engine] });
  const callers = new CallersProcess((id, text) => recognition.cue(id, text));
  let server: Awaited<ReturnType<(typeof SERVER_DRIVERS)[BenchTransport]['start']>> | undefined;
  try {
    const clips = await prepareCallerClips(
      steps.flatMap((s) => ('say' in s ? [s.say] : [])),
      { dir: join(config.dataDir, 'bench', 'callers'), resampler: engines.resampler },
    );
    const flows = await loadFlowsDir(join(ROOT, 'flows'), { llmAvailable: false });
    const meter = new InboundMeter();
    const { create } = createBenchCallFactory({ config, engines, flows, stt, meter });
    const summaries: CallSummary[] = [];
    const endCauses: Record<string, number> = {};
    let collecting = false;
    callers.send({ type: 'setup', transport, steps, clips, quietMs: 700, thinkMs: 1500, stepTimeoutMs: 30_000 });
    const { peer } = await callers.next('ready', 30_000);
    const driver = SERVER_DRIVERS[transport];
    server = await driver.start({
      peer,
      config,
      engines,
      logger: silentLogger,
      createCall: create,
      flows,
      maxCalls: calls + 10,
      onCallEnded: ({ id, summary, cause }) => {
        recognition.forget(id);
        if (!collecting) return;
        if (summary) summaries.push(summary);
        endCauses[cause] = (endCauses[cause] ?? 0) + 1;
      },
    });
    const running = server;

    // Warm-up: two calls fill the phrase cache with the first prompts and run the code hot, then hang up.
    callers.send({ type: 'dial', target: running.target, calls: 2, rampMs: 0 });
    await callers.next('dialled', 20_000);
    await sleep(10_000);
    callers.send({ type: 'hangup' });
    await callers.next('idle', 20_000);
    await until(() => running.active() === 0, 20_000, 'the end of the warm-up calls');
    gc();
    await sleep(300);
    gc();
    const baseline = process.memoryUsage();

    collecting = true;
    recognition.stats.uncued = recognition.stats.answered = 0;
    callers.send({ type: 'dial', target: running.target, calls, rampMs });
    await callers.next('dialled', rampMs + 60_000);
    await sleep(2000);

    const vad = engines.vad as Partial<SileroVad> | undefined;
    const vadBefore = vad?.stats;
    const serverDelay = new LoopDelayWindow();
    callers.send({ type: 'measure' });
    meter.start();
    running.measure?.();
    serverDelay.start();
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    let peak = process.memoryUsage().rss;
    let peakActive = running.active();
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
      peakActive = Math.max(peakActive, running.active());
    }, 1000);
    await sleep(seconds * 1000);
    clearInterval(sampler);
    callers.send({ type: 'report' });
    const report = callers.next('report', 20_000);
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = performance.now() - started;
    meter.measuring = false;
    const loopDelay = serverDelay.stop();
    const vadAfter = vad?.stats;
    const { figures } = await report;

    const activeAtSample = running.active();
    peakActive = Math.max(peakActive, activeAtSample);
    gc();
    const withCalls = process.memoryUsage();
    peak = Math.max(peak, withCalls.rss);

    callers.send({ type: 'hangup' });
    const idle = await callers.next('idle', 30_000);
    await until(() => running.active() === 0, 30_000, 'the end of every call');
    // Sockets still closing keep their call's objects a moment (the 2 s close timers), the ARI app its routes a while longer: let them go first.
    await sleep(driver.holdsEndedCallsMs ?? 3000);
    gc();
    const after = process.memoryUsage();

    const turnLatencies = summaries.flatMap((s) => s.turns.flatMap((t) => (t.firstAudioOutMs !== undefined ? [t.firstAudioOutMs - t.endOfTurnMs] : [])));
    const lag = meter.lag;
    const partial: Omit<CallsBenchResult, 'targets'> = {
      transport,
      calls,
      seconds,
      rampMs,
      outbound: driver.outbound,
      vad: `${config.engines.vad.engine} VAD${config.engines.vad.engine === 'silero' ? (config.engines.vad.batch ? ' batched' : ' unbatched') : ''}`,
      media: running.media,
      vadBatch: vadBefore && vadAfter && vadAfter.runs > vadBefore.runs ? (vadAfter.windows - vadBefore.windows) / (vadAfter.runs - vadBefore.runs) : undefined,
      tts: elevenlabs ? 'elevenlabs (loopback server)' : config.engines.tts.engine,
      recognition: deepgram ? "scripted answers over Deepgram's live protocol (loopback server)" : 'scripted recognition (media path only)',
      callers: { ...figures, ...idle.figures },
      server: {
        cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
        loopDelay,
        inboundLag: { count: lag.count, p50: lag.percentile(50), p95: lag.percentile(95), p99: lag.percentile(99), max: lag.max },
        transport: running.stats(),
      },
      memory: {
        baselineMb: baseline.rss / MB,
        withCallsMb: withCalls.rss / MB,
        activeAtSample,
        peakActive,
        perCallMb: (withCalls.rss - baseline.rss) / MB / Math.max(1, activeAtSample),
        heapPerCallMb: (withCalls.heapUsed - baseline.heapUsed) / MB / Math.max(1, activeAtSample),
        externalPerCallMb: (withCalls.external - baseline.external) / MB / Math.max(1, activeAtSample),
        peakMb: peak / MB,
        afterMb: after.rss / MB,
        heapAfterMb: (after.heapUsed - baseline.heapUsed) / MB,
      },
      turns: spreadOf(turnLatencies),
      endCauses,
      tickets: summaries.reduce((n, s) => n + s.records.filter((r) => r.kind === 'ticket').length, 0),
      uncuedFinals: recognition.stats.uncued,
    };
    const result: CallsBenchResult = { ...partial, targets: checkTargets(partial) };
    printResult(result, print);
    return result;
  } finally {
    await callers.exit();
    await server?.close();
    await Promise.allSettled([deepgram?.close(), elevenlabs?.close()]);
    await engines.close();
  }
}

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

export default async function bench(ctx: Ctx): Promise<void> {
  const plans: Plan[] = ctx.quick
    ? [
        { transport: 'audiosocket', calls: 10, seconds: 15 },
        { transport: 'twilio', calls: 5, seconds: 10 },
        { transport: 'rtp', calls: 5, seconds: 10 },
        { transport: 'audiosocket', calls: 5, seconds: 10, cloud: true },
      ]
    : [
        { transport: 'audiosocket', calls: 200, seconds: 60 },
        { transport: 'twilio', calls: 100, seconds: 60 },
        // Asterisk ARI + ExternalMedia RTP, against the ARI emulator in the callers' process.
        { transport: 'rtp', calls: 200, seconds: 60 },
        // Recognition and voice over Deepgram's and ElevenLabs' protocols (loopback servers answering at once).
        { transport: 'audiosocket', calls: 200, seconds: 60, cloud: true },
      ];
  // Each run in a fresh process: RSS does not shrink after a run, so a second run here would measure from the first one's high-water mark.
  for (const plan of plans) await runPlanInChild(plan, ctx.print);
}

interface Plan {
  transport: BenchTransport;
  calls: number;
  seconds: number;
  cloud?: boolean;
}

async function runPlanInChild(plan: Plan, print: (line: string) => void): Promise<void> {
  const entry = fileURLToPath(new URL('./support/calls-plan.ts', import.meta.url));
  const execArgv = process.execArgv.some((a) => a.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', 'tsx'];
  const cloud = plan.cloud ? ['deepgram', 'elevenlabs'] : ['scripted', 'local'];
  const child = fork(entry, [plan.transport, String(plan.calls), String(plan.seconds), ...cloud], { execArgv, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', print);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`the ${plan.transport} run of the call benchmark exited with code ${code}`);
}
