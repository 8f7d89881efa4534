/**
 * Call recordings end to end: what the caller heard lands on the bot channel
 * at the time they heard it (barge-in included), a real support-desk call
 * with real engines gives a stereo WAV holding each party on its side, a
 * process killed mid-call leaves a file that decodes, ffmpeg converts to
 * Ogg/Opus and MP3 in stereo, the `recordings` rows (PGlite, and PostgreSQL
 * when PALABRE_TEST_DATABASE_URL is set) follow the file and expire, a flow
 * can turn recording off, and a recorder that cannot write never stops a call.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PIPELINE_RATE, type AudioChunk } from '../src/audio/frame.js';
import { resampleWith } from '../src/audio/resample.js';
import { decodeWav, encodeWav, type DecodedWav } from '../src/audio/wav.js';
import { createFastClock, sleep } from '../src/call/clock.js';
import { createCallFactory, type CallMeta } from '../src/call/factory.js';
import { createMemoryIO, type CallerLogEntry, type MemoryIO } from '../src/call/memory-io.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir, type FlowRegistry } from '../src/dialog/loader.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger, type Logger } from '../src/log.js';
import {
  createDbRecordingSink,
  createRecordingObserver,
  flowRecordingPolicy,
  purgeExpiredRecordings,
  recordingPath,
  recoverInterruptedRecordings,
  type RecordingInfo,
  type RecordingObserver,
  type RecordingObserverOptions,
  type RecordingSink,
} from '../src/recording/index.js';
import { storeTargets, type TestDatabase } from '../src/store/test-support.js';
import type { Store } from '../src/store/types.js';
import { fliteWav } from './support/server.js';

const ROOT = new URL('..', import.meta.url).pathname;
const RATE = PIPELINE_RATE;
const FRAME = 320;
const META: CallMeta = { transport: 'simulate', flow: 'test', language: 'en' };

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'palabre-rec-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// ---- helpers ----

type SinkEvent =
  | { kind: 'started'; info: RecordingInfo }
  | { kind: 'finished'; info: RecordingInfo }
  | { kind: 'converted'; callId: string; change: { path: string; format: string; bytes: number } };

function memorySink(): { sink: RecordingSink; events: SinkEvent[]; last: () => RecordingInfo } {
  const events: SinkEvent[] = [];
  return {
    events,
    sink: {
      started: async (info) => void events.push({ kind: 'started', info }),
      finished: async (info) => void events.push({ kind: 'finished', info }),
      converted: async (callId, change) => void events.push({ kind: 'converted', callId, change }),
    },
    last: () => {
      const e = events.filter((x): x is Extract<SinkEvent, { kind: 'finished' }> => x.kind === 'finished').at(-1);
      if (!e) throw new Error('no finished recording');
      return e.info;
    },
  };
}

/** A logger that keeps what it logs, for tests that check a failure was reported. */
function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const readRecording = (dir: string, path: string): DecodedWav => decodeWav(readFileSync(join(dir, path)));

function levelFrame(level: number): { samples: Int16Array; sampleRate: number } {
  return { samples: new Int16Array(FRAME).fill(level), sampleRate: RATE };
}

function tone(ms: number, hz = 1000, amplitude = 8000): AudioChunk {
  const samples = new Int16Array((RATE * ms) / 1000);
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / RATE));
  return { samples, sampleRate: RATE };
}

/** A short call on a fast clock: the caller speaks `callerMs` of tone, the bot answers `botFrames` frames; returns frames read. */
async function shortCall(observer: RecordingObserver, options: { id: string; callerMs?: number; botFrames?: number; logger?: Logger }): Promise<{ frames: number; io: MemoryIO }> {
  const clock = createFastClock();
  const io = createMemoryIO({ clock, id: options.id, afterScript: 'hangup' });
  const observation = observer.open(io.id, META, io, options.logger ?? silentLogger);
  const line = observation?.io ?? io;
  // The script first: a line with nothing scripted hangs up at once.
  void io.say(tone(options.callerMs ?? 2000));
  let frames = 0;
  const reading = (async () => {
    for await (const _frame of line.frames()) frames++;
  })();
  const bot = tone(20 * (options.botFrames ?? 50), 440, 6000).samples;
  for (let at = 0; at < bot.length; at += FRAME) line.write({ samples: bot.subarray(at, at + FRAME), sampleRate: RATE });
  await reading;
  await observation?.finish?.(undefined);
  await observer.settled();
  return { frames, io };
}

function observerIn(dir: string, extra: Partial<RecordingObserverOptions> = {}): RecordingObserver {
  return createRecordingObserver({ dir, format: 'wav', logger: silentLogger, ...extra });
}

// ---- alignment ----

describe('what the caller heard, when they heard it', () => {
  it('puts on the bot channel exactly the frames played, at their play times ±20 ms, and none that a barge-in dropped', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock });
    const { sink, last } = memorySink();
    const observer = observerIn(tmp, { sink, now: () => clock.now() });
    const observation = observer.open(io.id, META, io, silentLogger);
    const line = observation!.io!;
    const reading = (async () => {
      for await (const _frame of line.frames()) {
        // A session reads every frame.
      }
    })();

    // The caller is silent for a second, then talks over the bot (300 ms of tone), then listens.
    void io.silence(1000);
    void io.say(tone(300), { label: 'barge-in' });
    void io.silence(2500);
    const hungUp = io.hangup();

    // The bot queues 3 s of audio at once, as synthesis runs ahead of playout: frame k has level 1000 + 7k.
    await sleep(clock, 200);
    const firstAnswer = Array.from({ length: 150 }, (_, k) => 1000 + 7 * k);
    for (const level of firstAnswer) line.write(levelFrame(level));
    // 100 ms into the caller's speech the bot is cut off.
    await sleep(clock, 900);
    line.clear();
    await sleep(clock, 400);
    const secondAnswer = Array.from({ length: 25 }, (_, k) => 3000 + 7 * k);
    for (const level of secondAnswer) line.write(levelFrame(level));
    await line.waitForPlayout();
    await hungUp;
    await reading;
    await observation!.finish!(undefined);
    await observer.settled();

    const info = last();
    expect(info).toMatchObject({ complete: true, channels: 2, sampleRate: RATE, format: 'wav' });
    const wav = readRecording(tmp, info.path);
    expect(wav.channels).toBe(2);
    const [caller, bot] = wav.channelData;
    const origin = io.framesStartMs!;

    // Where each level sits on the bot channel.
    const found = new Map<number, { first: number; count: number }>();
    for (let i = 0; i < bot.length; i++) {
      const v = bot[i];
      if (v === 0) continue;
      const f = found.get(v);
      if (f) f.count++;
      else found.set(v, { first: i, count: 1 });
    }
    const played = io.sent.map((f) => f.samples[0]);
    expect(played.length).toBeGreaterThan(40);
    // Exactly the frames played: each whole, each once, and nothing the barge-in dropped.
    expect([...found.keys()].sort((a, b) => a - b)).toEqual([...played].sort((a, b) => a - b));
    const dropped = firstAnswer.filter((l) => !played.includes(l));
    expect(dropped.length).toBeGreaterThan(50);
    for (const f of io.sent) {
      const at = found.get(f.samples[0])!;
      expect(at.count).toBe(FRAME);
      expect(Math.abs((at.first * 1000) / RATE - (f.playStartMs - origin))).toBeLessThanOrEqual(20);
    }
    // The bot's first answer stops where the caller's speech cut it off.
    const toneStart = caller.findIndex((v) => Math.abs(v) > 1000);
    const barge = io.callerLog.find((e): e is Extract<CallerLogEntry, { kind: 'audio' }> => e.kind === 'audio')!;
    expect(Math.abs((toneStart * 1000) / RATE - (barge.startMs - origin))).toBeLessThanOrEqual(20);
    const lastOfFirst = Math.max(...firstAnswer.filter((l) => found.has(l)).map((l) => found.get(l)!.first + FRAME));
    const clearAt = io.clears[0].atMs - origin;
    expect((lastOfFirst * 1000) / RATE - clearAt).toBeGreaterThanOrEqual(-20);
    expect((lastOfFirst * 1000) / RATE - clearAt).toBeLessThanOrEqual(40);
    expect(toneStart).toBeLessThan(lastOfFirst);
    // The caller channel never carries the bot, and the bot channel never the caller.
    const toneEnd = toneStart + (300 * RATE) / 1000;
    expect(caller.every((v, i) => v === 0 || (i >= toneStart && i < toneEnd))).toBe(true);
    expect(bot.some((v) => Math.abs(v) > 0 && !found.has(v))).toBe(false);
  });
});

// ---- a real call ----

describe('a real call through the call factory', () => {
  const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
  let engines: Engines;
  let registry: Promise<FlowRegistry>;
  let flowsDir: string;

  beforeAll(async () => {
    engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
    flowsDir = mkdtempSync(join(tmpdir(), 'palabre-rec-flows-'));
    const flow = (id: string, extra: string) => `id: ${id}\nlanguages: [en]\nstart: HELLO\n${extra}states:\n  HELLO:\n    say: Hello, this line is a test. Goodbye.\n    on_enter:\n      - hangup: { reason: completed }\n`;
    writeFileSync(join(flowsDir, 'support-desk.yaml'), readFileSync(join(ROOT, 'flows', 'support-desk.yaml')));
    writeFileSync(join(flowsDir, 'quiet.yaml'), flow('quiet-line', 'recording: false\n'));
    writeFileSync(join(flowsDir, 'loud.yaml'), flow('loud-line', ''));
    registry = loadFlowsDir(flowsDir, { llmAvailable: false });
  });
  afterAll(async () => {
    await engines?.close();
    rmSync(flowsDir, { recursive: true, force: true });
  });

  function factory(observer: RecordingObserver) {
    return createCallFactory({ config, engines, flows: () => registry, observers: [observer] });
  }

  function callerLine(text: string): AudioChunk {
    const wav = decodeWav(fliteWav(text));
    return resampleWith(engines.resampler, { samples: wav.samples, sampleRate: wav.sampleRate }, RATE);
  }

  it('gives one stereo WAV: the caller\'s speech on the left, the bot\'s prompts on the right, each where it was', async () => {
    const { sink, last } = memorySink();
    const observer = observerIn(tmp, { sink, flowAllowsRecording: flowRecordingPolicy(() => registry) });
    const io = createMemoryIO();
    const session = await factory(observer)({ io, meta: { transport: 'simulate', flow: 'support-desk', language: 'en' }, logger: silentLogger });
    const summary = session.run();
    const answer = callerLine('yes');
    // The caller hears the greeting out, answers, hears the next question out, and hangs up.
    await io.waitForBot('speaking');
    await io.waitForBot('silent', { quietMs: 900 });
    await io.say(answer, { label: 'answer' });
    await io.waitForBot('speaking');
    await io.waitForBot('silent', { quietMs: 900 });
    await io.hangup();
    const result = await summary;
    expect(result.endReason).toBe('caller_hangup');
    expect(result.states).toEqual(['WELCOME', 'TICKET_VERIFICATION']);
    await observer.settled();

    const info = last();
    expect(info).toMatchObject({ callId: io.id, complete: true, channels: 2, sampleRate: RATE });
    expect(info.path).toBe(recordingPath(io.id, new Date(), 'wav'));
    const wav = readRecording(tmp, info.path);
    expect(statSync(join(tmp, info.path)).size).toBe(info.bytes);
    expect(Math.abs(wav.channelData[0].length - (info.durationMs * RATE) / 1000)).toBeLessThanOrEqual(RATE / 1000);
    const [caller, bot] = wav.channelData;
    const origin = io.framesStartMs!;

    // The caller's words, sample for sample, at their frame on the line.
    const said = io.callerLog.find((e): e is Extract<CallerLogEntry, { kind: 'audio' }> => e.kind === 'audio' && e.label === 'answer')!;
    expect(said).toBeDefined();
    const firstFrame = answer.samples.subarray(0, FRAME);
    let at = -1;
    for (let j = 0; j * FRAME < caller.length; j++) {
      if (caller.subarray(j * FRAME, (j + 1) * FRAME).every((v, i) => v === firstFrame[i])) {
        at = j * FRAME;
        break;
      }
    }
    expect(Math.abs((at * 1000) / RATE - (said.startMs - origin))).toBeLessThanOrEqual(20);
    expect(Array.from(caller.subarray(at, at + answer.samples.length))).toEqual(Array.from(answer.samples));
    // Nothing else on the caller side: the line was silent, the bot is not there.
    const callerSound = caller.reduce((n, v) => n + (v !== 0 ? 1 : 0), 0);
    expect(callerSound).toBeLessThanOrEqual(answer.samples.length);

    // Every bot frame played is on the bot channel, whole, within a frame or two of when it played (real time here).
    let checked = 0;
    for (const f of io.sent) {
      if (!f.samples.some((v) => Math.abs(v) > 200)) continue;
      const expected = Math.round(((f.playStartMs - origin) * RATE) / 1000);
      let best = -1;
      for (let off = Math.max(0, expected - 60 * 16); off <= expected + 60 * 16 && off + FRAME <= bot.length; off++) {
        let same = true;
        for (let i = 0; i < FRAME && same; i++) same = bot[off + i] === f.samples[i];
        if (same) {
          best = off;
          break;
        }
      }
      expect(best, `bot frame played at ${f.playStartMs - origin} ms`).toBeGreaterThanOrEqual(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
    // The bot channel is silent while the caller speaks (no echo of the caller there).
    const during = bot.subarray(at, at + answer.samples.length);
    expect(during.every((v) => v === 0)).toBe(true);

    // And the caller's side says what the caller said.
    const stt = engines.stt.get(engines.defaultStt)!;
    const speech = caller.subarray(Math.max(0, at - RATE / 2), at + answer.samples.length + RATE / 2);
    expect((await stt.transcribe({ samples: speech, sampleRate: RATE })).text.toLowerCase()).toMatch(/yes/);
  });

  it('records nothing for a flow that says `recording: false`, and records the flow next to it', async () => {
    const { sink, events } = memorySink();
    const observer = observerIn(tmp, { sink, flowAllowsRecording: flowRecordingPolicy(() => registry) });
    const create = factory(observer);
    for (const flow of ['quiet-line', 'loud-line']) {
      const io = createMemoryIO({ id: `flow-${flow}` });
      const session = await create({ io, meta: { transport: 'simulate', flow, language: 'en' }, logger: silentLogger });
      expect((await session.run()).endReason).toBe('bot_hangup');
    }
    await observer.settled();
    expect(observer.counters).toMatchObject({ skipped: 1, started: 1, completed: 1, failed: 0 });
    expect(events.map((e) => (e.kind === 'converted' ? e.callId : e.info.callId))).toEqual(['flow-loud-line', 'flow-loud-line']);
    expect(existsSync(join(tmp, recordingPath('flow-quiet-line', new Date(), 'wav')))).toBe(false);
    const wav = readRecording(tmp, recordingPath('flow-loud-line', new Date(), 'wav'));
    expect(wav.channelData[1].some((v) => Math.abs(v) > 1000)).toBe(true);

    // The same decision made at once: the observer does not even wrap the IO.
    const off = observerIn(tmp, { flowAllowsRecording: () => false });
    expect(off.open('x', META, createMemoryIO(), silentLogger)).toBeUndefined();
    expect(off.counters.skipped).toBe(1);
  });
});

// ---- a crash ----

function runChild(dir: string, mode: 'crash' | 'limited', options: { fileSizeKiB?: number; onLine?: (msg: Record<string, unknown>, kill: () => void) => void } = {}) {
  const script = join(ROOT, 'src/recording/test-crash-child.ts');
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)} ${JSON.stringify(dir)} ${mode}`;
  const command = options.fileSizeKiB ? `ulimit -f ${options.fileSizeKiB}; exec ${node}` : `exec ${node}`;
  const child = spawn('bash', ['-c', command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffered = '';
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const msg = JSON.parse(line) as Record<string, unknown>;
      messages.push(msg);
      options.onLine?.(msg, () => child.kill('SIGKILL'));
    }
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { messages, exited, stderr: () => stderr };
}

describe('a process killed mid-call', () => {
  it('leaves a WAV that decodes, holding the call up to shortly before the kill', async () => {
    let framesAtKill = 0;
    const child = runChild(tmp, 'crash', {
      onLine: (msg, kill) => {
        if (typeof msg.frames === 'number' && msg.frames >= 200 && framesAtKill === 0) {
          framesAtKill = msg.frames;
          kill();
        }
      },
    });
    const { signal } = await child.exited;
    expect(signal, child.stderr()).toBe('SIGKILL');
    const started = child.messages.find((m) => typeof m.started === 'string');
    expect(started).toBeDefined();
    expect(child.messages.some((m) => m.finished || m.done)).toBe(false);

    const wav = readRecording(tmp, started!.started as string);
    expect(wav.channels).toBe(2);
    const [caller, bot] = wav.channelData;
    const frames = Math.floor(caller.length / FRAME);
    // Caller frame k is level k + 1: the file holds them in order, with nothing missing or out of place.
    for (let k = 0; k < frames; k++) expect(caller[k * FRAME]).toBe(k + 1);
    // At most 1 s kept back for late news + 200 ms between writes + a little scheduling slack are lost.
    expect(frames).toBeGreaterThanOrEqual(framesAtKill - 90);
    expect(frames).toBeLessThanOrEqual(framesAtKill + 10);
    expect(bot.some((v) => v < 0)).toBe(true);
  });
});

// ---- conversion ----

function ffprobe(file: string): { channels: number; codec: string; durationSec: number; sampleRate: number } {
  const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=channels,codec_name,sample_rate:format=duration', '-of', 'json', file]).toString('utf8')) as {
    streams: Array<{ channels: number; codec_name: string; sample_rate: string }>;
    format: { duration: string };
  };
  return { channels: out.streams[0].channels, codec: out.streams[0].codec_name, sampleRate: Number(out.streams[0].sample_rate), durationSec: Number(out.format.duration) };
}

describe('conversion with ffmpeg', () => {
  it.each([
    ['ogg', 'opus'],
    ['mp3', 'mp3'],
  ] as const)('converts the finished WAV to %s in stereo, same duration, and updates the row', async (format, codec) => {
    const { sink, events } = memorySink();
    const observer = observerIn(tmp, { sink, format });
    await shortCall(observer, { id: `conv-${format}`, callerMs: 3000, botFrames: 60 });
    const finished = events.find((e) => e.kind === 'finished') as Extract<SinkEvent, { kind: 'finished' }>;
    const converted = events.find((e) => e.kind === 'converted') as Extract<SinkEvent, { kind: 'converted' }>;
    expect(finished.info).toMatchObject({ format: 'wav', complete: true });
    expect(converted.change.format).toBe(format);
    expect(converted.change.path).toBe(finished.info.path.replace(/\.wav$/, `.${format}`));
    const file = join(tmp, converted.change.path);
    expect(statSync(file).size).toBe(converted.change.bytes);
    expect(existsSync(join(tmp, finished.info.path))).toBe(false);
    expect(existsSync(`${file}.part`)).toBe(false);
    const probe = ffprobe(file);
    expect(probe.channels).toBe(2);
    expect(probe.codec).toBe(codec);
    // Opus is sample-exact; an MP3 at 16 kHz comes in frames of 576 samples (36 ms), with encoder padding.
    expect(Math.abs(probe.durationSec * 1000 - finished.info.durationMs)).toBeLessThanOrEqual(format === 'mp3' ? 150 : 40);
    expect(observer.counters).toMatchObject({ converted: 1, conversionFailed: 0 });
  });

  it('keeps the WAV, logs and counts when ffmpeg is missing', async () => {
    const { sink, events } = memorySink();
    const { logger, lines } = capturingLogger();
    const observer = createRecordingObserver({ dir: tmp, format: 'ogg', sink, logger, ffmpegPath: join(tmp, 'no-ffmpeg-here') });
    await shortCall(observer, { id: 'conv-missing', logger });
    expect(events.map((e) => e.kind)).toEqual(['started', 'finished']);
    const info = (events[1] as Extract<SinkEvent, { kind: 'finished' }>).info;
    expect(readRecording(tmp, info.path).channels).toBe(2);
    expect(observer.counters).toMatchObject({ converted: 0, conversionFailed: 1 });
    expect(lines().some((l) => String(l.msg).includes('stays WAV') && String((l.err as { message?: string })?.message).includes('ffmpeg is not installed'))).toBe(true);
  });
});

// ---- failures that must not stop the call ----

describe('a recorder that cannot write', () => {
  it('goes on with the call when the directory cannot be created, and says why', async () => {
    writeFileSync(join(tmp, 'a-file'), 'not a directory');
    const { logger, lines } = capturingLogger();
    const { sink, events } = memorySink();
    const observer = createRecordingObserver({ dir: join(tmp, 'a-file', 'recordings'), format: 'wav', sink, logger });
    const { frames, io } = await shortCall(observer, { id: 'no-dir', callerMs: 1000, botFrames: 20, logger });
    expect(frames).toBe(50);
    expect(io.sent.length).toBe(20);
    expect(observer.counters).toMatchObject({ failed: 1, started: 0, completed: 0 });
    expect(events).toEqual([]);
    const line = lines().find((l) => String(l.msg).startsWith('could not create the recording file'));
    expect((line?.err as { code?: string })?.code).toBe('ENOTDIR');
  });

  it('goes on with the call when the disk is full', async () => {
    // The file the recording would go to is the full device: every write fails with ENOSPC.
    const path = recordingPath('full-disk', new Date(), 'wav');
    mkdirSync(dirname(join(tmp, path)), { recursive: true });
    symlinkSync('/dev/full', join(tmp, path));
    const { logger, lines } = capturingLogger();
    const observer = createRecordingObserver({ dir: tmp, format: 'wav', logger });
    const { frames } = await shortCall(observer, { id: 'full-disk', callerMs: 1000, logger });
    expect(frames).toBe(50);
    expect(observer.counters).toMatchObject({ failed: 1, completed: 0, active: 0 });
    expect(lines().some((l) => (l.err as { code?: string })?.code === 'ENOSPC')).toBe(true);
  });

  it('stops recording when the disk fills up mid-call, keeps what was written, and the call runs to its end', async () => {
    const child = runChild(tmp, 'limited', { fileSizeKiB: 192 });
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    const done = child.messages.find((m) => m.done)?.done as { frames: number; counters: Record<string, number> };
    // The whole 5 s call ran; the recorder gave up once, saying why.
    expect(done.frames).toBe(250);
    expect(done.counters).toMatchObject({ failed: 1, completed: 0, started: 1 });
    expect(child.stderr()).toContain('could not write the recording');
    expect(child.stderr()).toContain('EFBIG');
    const finished = child.messages.find((m) => m.finished)?.finished as RecordingInfo;
    expect(finished.complete).toBe(false);
    const wav = readRecording(tmp, finished.path);
    const frames = Math.floor(wav.channelData[0].length / FRAME);
    expect(frames).toBeGreaterThan(50);
    expect(frames).toBeLessThan(250);
    for (let k = 0; k < frames; k++) expect(wav.channelData[0][k * FRAME]).toBe(k + 1);
    expect(finished.durationMs).toBe(Math.round((wav.channelData[0].length * 1000) / RATE));
  });
});

// ---- the recordings table ----

describe.each(storeTargets().map((t) => [t.name, t] as const))('the recordings table on %s', (_name, target) => {
  let database: TestDatabase;
  let store: Store;
  beforeAll(async () => {
    database = await target.create();
    store = await database.open();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await database?.dispose();
  });

  async function callRow(id: string): Promise<void> {
    store.writer(id).start(id, META, new Date());
    await store.flush();
  }

  it('writes the row as the file opens (waiting for the call\'s own row), and completes it at the end', async () => {
    const observer = observerIn(tmp, { sink: createDbRecordingSink(store.db), retentionDays: 30 });
    const io = createMemoryIO({ id: 'db-call', afterScript: 'hangup' });
    const observation = observer.open(io.id, META, io, silentLogger)!;
    void io.say(tone(3000));
    const reading = (async () => {
      for await (const _frame of observation.io!.frames()) {
        // read every frame
      }
    })();
    // The call's row arrives late, as the store's batches do.
    await new Promise((r) => setTimeout(r, 300));
    await callRow('db-call');
    // The row follows within the sink's retries, while the call still runs.
    let during: unknown;
    for (let i = 0; i < 100 && !during; i++) {
      during = await store.db.selectFrom('recordings').selectAll().where('call_id', '=', 'db-call').executeTakeFirst();
      if (!during) await new Promise((r) => setTimeout(r, 50));
    }
    expect(io.isClosed).toBe(false);
    expect(during).toMatchObject({ complete: false, format: 'wav', channels: 2, sample_rate: RATE });
    await reading;
    await observation.finish!(undefined);
    await observer.settled();
    const row = await store.db.selectFrom('recordings').selectAll().where('call_id', '=', 'db-call').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ complete: true, path: recordingPath('db-call', new Date(), 'wav'), duration_ms: 3000 });
    expect(Number(row.bytes)).toBe(statSync(join(tmp, row.path)).size);
    const expires = new Date(row.expires_at!).getTime() - new Date(row.created_at).getTime();
    expect(Math.abs(expires - 30 * 86_400_000)).toBeLessThan(60_000);
  });

  it('purges expired recordings, file and row, whether or not the file is still there, and old files with no row', async () => {
    const now = new Date();
    const day = 86_400_000;
    const add = async (id: string, expiresAt: Date | null, withFile: boolean) => {
      await callRow(id);
      const path = recordingPath(id, new Date(now.getTime() - 100 * day), 'wav');
      if (withFile) {
        mkdirSync(dirname(join(tmp, path)), { recursive: true });
        writeFileSync(join(tmp, path), encodeWav({ channels: [new Int16Array(160), new Int16Array(160)], sampleRate: RATE }));
      }
      await createDbRecordingSink(store.db).finished({ callId: id, path, format: 'wav', sampleRate: RATE, channels: 2, durationMs: 10, bytes: 684, complete: true, expiresAt });
      return path;
    };
    const expired = await add('old-1', new Date(now.getTime() - day), true);
    await add('old-gone', new Date(now.getTime() - day), false);
    const fresh = await add('fresh', new Date(now.getTime() + day), true);
    const forever = await add('forever', null, true);
    const old = new Date(now.getTime() - 100 * day);
    for (const p of [fresh, forever]) utimesSync(join(tmp, p), old, old);
    // A file the database never heard of, old enough to go, and one too recent.
    const orphan = join(tmp, '2020/01/01/orphan.wav');
    mkdirSync(dirname(orphan), { recursive: true });
    writeFileSync(orphan, 'x');
    utimesSync(orphan, old, old);
    utimesSync(dirname(orphan), old, old);
    const recent = join(tmp, 'recent.ogg');
    writeFileSync(recent, 'x');

    const result = await purgeExpiredRecordings({ db: store.db, dir: tmp, logger: silentLogger, retentionDays: 90 });
    expect(result).toEqual({ deleted: 1, missing: 1, failed: 0, orphans: 1 });
    expect(existsSync(join(tmp, expired))).toBe(false);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(dirname(orphan))).toBe(false);
    for (const p of [fresh, forever]) expect(existsSync(join(tmp, p))).toBe(true);
    expect(existsSync(recent)).toBe(true);
    const ids = (await store.db.selectFrom('recordings').select('call_id').where('call_id', 'in', ['old-1', 'old-gone', 'fresh', 'forever']).execute()).map((r) => r.call_id).sort();
    expect(ids).toEqual(['forever', 'fresh']);
    // Nothing left to do: a second run is a no-op.
    expect(await purgeExpiredRecordings({ db: store.db, dir: tmp, logger: silentLogger, retentionDays: 90 })).toEqual({ deleted: 0, missing: 0, failed: 0, orphans: 0 });
  });

  it('seals the recording of a call cut by a crash: header and row say what reached the disk', async () => {
    await callRow('crashed');
    const path = recordingPath('crashed', new Date(), 'wav');
    const file = join(tmp, path);
    mkdirSync(dirname(file), { recursive: true });
    // The header says 1 s (the last flush); 0.5 s more and half a sample frame made it to disk after it.
    const second = (level: number, ms: number) => new Int16Array((RATE * ms) / 1000).fill(level);
    const head = encodeWav({ channels: [second(5, 1000), second(-5, 1000)], sampleRate: RATE });
    const tail = Buffer.from(encodeWav({ channels: [second(6, 500), second(-6, 500)], sampleRate: RATE }).subarray(44));
    writeFileSync(file, Buffer.concat([head, tail, Buffer.from([1, 2])]));
    await createDbRecordingSink(store.db).started({ callId: 'crashed', path, format: 'wav', sampleRate: RATE, channels: 2, durationMs: 0, bytes: 44, complete: false, expiresAt: null });
    await store.closeInterrupted();

    expect(await recoverInterruptedRecordings({ db: store.db, dir: tmp, logger: silentLogger })).toBe(1);
    const row = await store.db.selectFrom('recordings').selectAll().where('call_id', '=', 'crashed').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ complete: false, duration_ms: 1500, bytes: 44 + 1.5 * RATE * 4 });
    const wav = readRecording(tmp, path);
    expect(wav.channelData[0].length).toBe(1.5 * RATE);
    expect(wav.channelData[0][RATE + 10]).toBe(6);
    expect(statSync(file).size).toBe(Number(row.bytes));
  });
});
