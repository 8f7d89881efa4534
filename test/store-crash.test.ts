/**
 * kill -9 in the middle of a call: `palabre serve` runs as a user runs it
 * (AudioSocket on, the store on PGlite in a temporary data directory, or on
 * a fresh PostgreSQL database when PALABRE_TEST_DATABASE_URL is set), the
 * emulated Asterisk calls support-desk, and once the caller's lines are
 * stored the process is killed with SIGKILL. Restarted on the same data, the
 * server closes the call as interrupted, and the turns spoken before the
 * kill are all there.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resample } from '../src/audio/resample.js';
import { decodeWav } from '../src/audio/wav.js';
import { silentLogger } from '../src/log.js';
import { openStore } from '../src/store/db.js';
import { createPostgresDatabase, TEST_DATABASE_URL } from '../src/store/test-support.js';
import { AsteriskAudioSocket } from './support/asterisk-audiosocket.js';
import { start } from './support/cli.js';
import { fliteWav } from './support/server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

async function caller8k(text: string): Promise<Int16Array> {
  const wav = decodeWav(fliteWav(text));
  return (await resample({ samples: wav.samples, sampleRate: wav.sampleRate }, 8000)).samples;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Server {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

async function serve(env: Record<string, string>): Promise<Server> {
  const child = start(['serve'], env);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Logged once the HTTP server and the AudioSocket server both listen.
  await until(`the server to start (output: ${err})`, () => {
    if (child.exitCode !== null) throw new Error(`palabre serve exited with ${child.exitCode}: ${err}`);
    return err.includes('"msg":"palabre is listening"') || undefined;
  });
  return { child, exited, stderr: () => err };
}

/** The store's queue as /metrics shows it. */
async function storeMetrics(httpPort: number): Promise<{ depth: number; turns: number; dropped: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    depth: value(/^palabre_store_queue_depth (\d+)/m),
    turns: value(/^palabre_store_written_total\{table="turns"\} (\d+)/m),
    dropped: value(/^palabre_store_dropped_total\{[^}]*\} (\d+)/m),
  };
}

const targets: Array<{ name: string; url: () => Promise<string> }> = [{ name: 'PGlite', url: async () => '' }];
if (TEST_DATABASE_URL !== '')
  targets.push({
    name: 'PostgreSQL',
    url: async () => {
      const db = await createPostgresDatabase(TEST_DATABASE_URL);
      cleanups.push(() => db.drop());
      return db.url;
    },
  });

describe.each(targets.map((t) => [t.name, t] as const))('a call killed with SIGKILL, store on %s', (_name, target) => {
  it('keeps the turns spoken before the kill and closes the call as interrupted on restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'palabre-crash-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const url = await target.url();
    const [httpPort, audioPort] = [await freePort(), await freePort()];
    const env = {
      PALABRE_DATA_DIR: dataDir,
      PALABRE_STORE_URL: url,
      PALABRE_SERVER_PORT: String(httpPort),
      PALABRE_AUDIOSOCKET_ENABLED: 'true',
      PALABRE_AUDIOSOCKET_PORT: String(audioPort),
      PALABRE_LOG_LEVEL: 'info',
    };
    const yes = await caller8k('yes');
    const name = await caller8k('my name is john smith');

    const first = await serve(env);
    const uuid = randomUUID();
    const ast = await AsteriskAudioSocket.connect({ host: '127.0.0.1', port: audioPort, uuid });
    await ast.botDone(0);
    let voiced = ast.voiced;
    await ast.say(yes);
    await ast.botDone(voiced);
    voiced = ast.voiced;
    await ast.dtmf('123456');
    await ast.botDone(voiced);
    voiced = ast.voiced;
    await ast.say(name);
    // The bot answers the name: its line was handed to the store before that answer was spoken.
    await until('the answer to the name', () => (ast.voiced > voiced ? true : undefined), 30_000);
    const stored = await until('the store to write the queued lines', async () => {
      const m = await storeMetrics(httpPort);
      return m.depth === 0 && m.turns > 0 ? m : undefined;
    });
    expect(stored.dropped).toBe(0);

    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await ast.closed;

    // Restarted on the same data: the call left open is closed as interrupted.
    const second = await serve(env);
    second.child.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toEqual({ code: 0, signal: null });
    expect(second.stderr()).toMatch(/calls left open by an earlier stop were closed as interrupted/);

    const store = await openStore({ url, dataDir, logger: silentLogger });
    try {
      const call = await store.db.selectFrom('calls').selectAll().where('id', '=', uuid).executeTakeFirstOrThrow();
      expect(call).toMatchObject({ transport: 'audiosocket', flow: 'support-desk', outcome: 'interrupted', end_reason: 'interrupted' });
      expect(call.ended_at!.getTime()).toBeGreaterThanOrEqual(call.started_at.getTime());
      const turns = await store.db.selectFrom('turns').selectAll().where('call_id', '=', uuid).orderBy('seq').execute();
      const caller = turns.filter((t) => t.speaker === 'caller');
      // The two turns before the name ended with the bot's answers: text and timeline; the name line is there.
      expect(caller.map((t) => t.turn)).toEqual([1, 2, 3]);
      expect(caller[0]).toMatchObject({ text: 'yes', intent: 'YES', timeline: expect.objectContaining({ turn: 1, kind: 'speech' }) });
      expect(caller[1]).toMatchObject({ text: '123456', timeline: expect.objectContaining({ turn: 2, kind: 'dtmf' }) });
      expect(caller[2]?.text).toMatch(/^my name is john/);
      expect(turns.filter((t) => t.speaker === 'bot').length).toBeGreaterThanOrEqual(2);
      const events = await store.db.selectFrom('events').select('type').where('call_id', '=', uuid).execute();
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['call-started', 'state', 'dtmf']));
      expect(events.map((e) => e.type)).not.toContain('call-ended');

      // The partial recording survived: its row (sealed at restart, still marked incomplete) and a
      // playable stereo WAV holding the bot's prompts on the right and the caller's answers on the left.
      const rec = await store.db.selectFrom('recordings').selectAll().where('call_id', '=', uuid).executeTakeFirstOrThrow();
      expect(rec).toMatchObject({ complete: false, format: 'wav', channels: 2, sample_rate: 16_000 });
      const wav = decodeWav(readFileSync(join(dataDir, 'recordings', rec.path)));
      expect(wav.channels).toBe(2);
      const seconds = wav.channelData[0].length / wav.sampleRate;
      expect(seconds).toBeGreaterThan(5);
      expect(Math.abs(rec.duration_ms / 1000 - seconds)).toBeLessThan(0.1);
      const loud = (ch: Int16Array) => ch.reduce((n, v) => n + (Math.abs(v) > 2000 ? 1 : 0), 0) / wav.sampleRate;
      // Seconds of sound on each side: the bot's greeting and questions; the caller's "yes" at least.
      expect(loud(wav.channelData[1])).toBeGreaterThan(1);
      expect(loud(wav.channelData[0])).toBeGreaterThan(0.1);
    } finally {
      await store.close();
    }
  }, 300_000);
});
