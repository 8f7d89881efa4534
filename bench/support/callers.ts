/**
 * The simulated callers' process of the call benchmark (forked by bench/calls.ts,
 * so their work never counts as the server's): dials the server over a
 * transport's LineDriver, runs the caller script on every line (each step once
 * the bot has finished speaking), redials when a call ends, and measures the
 * bot audio palabre sends back. Driven by the messages of caller-protocol.ts.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CallerFigures, CallerStep, FromCallers, ToCallers } from './caller-protocol.js';
import type { CallerClip, CallerLine, DialTarget, LineDriver } from './drivers/line-types.js';
import { LINE_DRIVERS } from './drivers/lines.js';
import { LoopDelayWindow } from './loop-delay.js';
import { OutboundMeter } from './outbound-meter.js';
import { CALLER_FRAME_SAMPLES } from './wire-constants.js';

type Setup = Extract<ToCallers, { type: 'setup' }>;

const send = (m: FromCallers): void => {
  process.send?.(m);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const meter = new OutboundMeter();
const loopDelay = new LoopDelayWindow();
const lines = new Set<CallerLine>();
const clips = new Map<string, CallerClip>();
const tally = { dialled: 0, completed: 0, stuck: 0, failedDials: 0, lastError: undefined as string | undefined };
let setup: Setup | undefined;
let driver: LineDriver | undefined;
let stopping = false;
let loops: Promise<void>[] = [];
let window: { cpu: NodeJS.CpuUsage; at: number } | undefined;

function loadClip(path: string): CallerClip {
  const bytes = readFileSync(path);
  const samples = new Int16Array(bytes.length >> 1);
  for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(i * 2);
  const frames: Int16Array[] = [];
  for (let at = 0; at < samples.length; at += CALLER_FRAME_SAMPLES) {
    const f = new Int16Array(CALLER_FRAME_SAMPLES);
    f.set(samples.subarray(at, Math.min(samples.length, at + CALLER_FRAME_SAMPLES)));
    frames.push(f);
  }
  return { frames };
}

/** Waits until the bot has spoken (beyond `since` voiced frames), finished playing and been quiet quietMs. */
async function botDone(line: CallerLine, since: number, s: Setup): Promise<'done' | 'closed' | 'timeout'> {
  const started = performance.now();
  for (;;) {
    if (line.isClosed || stopping) return 'closed';
    const now = performance.now();
    if (line.voiced > since && !line.playing && now - line.lastVoiceAt >= s.quietMs) return 'done';
    if (now - started > s.stepTimeoutMs) return 'timeout';
    await sleep(50);
  }
}

async function runScript(line: CallerLine, s: Setup): Promise<void> {
  let since = 0;
  for (const step of s.steps as CallerStep[]) {
    const state = await botDone(line, since, s);
    if (state === 'closed') return;
    if (state === 'timeout') {
      tally.stuck++;
      line.hangup();
      return;
    }
    since = line.voiced;
    await sleep(Math.random() * s.thinkMs);
    if (line.isClosed || stopping) return;
    if ('say' in step) {
      send({ type: 'cue', id: line.id, text: step.say });
      await line.say(clips.get(step.say)!);
    } else {
      for (const d of step.dtmf) {
        line.dtmf(d);
        await sleep(150);
      }
    }
  }
  // The script is over: the bot says goodbye and hangs up.
  const end = await Promise.race([line.closed.then(() => 'closed' as const), sleep(s.stepTimeoutMs).then(() => 'timeout' as const)]);
  if (end === 'closed' && !stopping) tally.completed++;
  else if (end === 'timeout') {
    tally.stuck++;
    line.hangup();
  }
}

async function lineLoop(delayMs: number, target: DialTarget, onConnected: () => void): Promise<void> {
  const s = setup!;
  await sleep(delayMs);
  let first = true;
  while (!stopping) {
    let line: CallerLine;
    try {
      line = await driver!.dial(target, driver!.newId(), meter);
    } catch (err) {
      tally.failedDials++;
      tally.lastError = (err as Error).message;
      await sleep(1000);
      continue;
    }
    tally.dialled++;
    lines.add(line);
    if (first) {
      first = false;
      onConnected();
    }
    try {
      await runScript(line, s);
      await line.closed;
    } finally {
      lines.delete(line);
    }
  }
}

async function hangupAll(): Promise<void> {
  stopping = true;
  for (const line of lines) line.hangup();
  await Promise.race([Promise.all(loops), sleep(10_000)]);
  loops = [];
  stopping = false;
}

function figures(): CallerFigures {
  const cpu = window ? process.cpuUsage(window.cpu) : { user: 0, system: 0 };
  const wallMs = window ? performance.now() - window.at : 1;
  window = undefined;
  return {
    outbound: meter.stop(),
    loopDelay: loopDelay.stop(),
    cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
    ...tally,
    ...(driver?.stats ? { wire: driver.stats() } : {}),
  };
}

process.on('message', (m: ToCallers) => {
  void (async () => {
    switch (m.type) {
      case 'setup':
        setup = m;
        driver = LINE_DRIVERS[m.transport];
        for (const [text, path] of Object.entries(m.clips)) clips.set(text, loadClip(path));
        return send({ type: 'ready', peer: await driver.listen?.() });
      case 'dial': {
        Object.assign(tally, { dialled: 0, completed: 0, stuck: 0, failedDials: 0, lastError: undefined });
        let connected = 0;
        for (let i = 0; i < m.calls; i++) {
          loops.push(
            lineLoop((i * m.rampMs) / Math.max(1, m.calls), m.target, () => {
              if (++connected === m.calls) send({ type: 'dialled', calls: m.calls });
            }),
          );
        }
        return;
      }
      case 'measure':
        meter.start();
        loopDelay.start();
        window = { cpu: process.cpuUsage(), at: performance.now() };
        return;
      case 'report':
        return send({ type: 'report', figures: figures() });
      case 'hangup': {
        await hangupAll();
        const { dialled, completed, stuck, failedDials, lastError } = tally;
        return send({ type: 'idle', figures: { dialled, completed, stuck, failedDials, lastError } });
      }
      case 'exit':
        driver?.close?.();
        process.exit(0);
    }
  })().catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
});
