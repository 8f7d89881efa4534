/** Runs the `palabre` command line as a subprocess, the way a user does, for test/cli.test.ts. */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Run {
  code: number | null;
  stdout: Buffer;
  out: string;
  err: string;
}

/** The environment of the test run without any PALABRE_* setting, plus `env`. */
export function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PALABRE_')));
  return { ...clean, ...env };
}

export function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

export function palabre(args: string[], env: Record<string, string> = {}, timeoutMs = 45_000): Promise<Run> {
  return new Promise((done, fail) => {
    const child = start(args, env);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`palabre ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out);
      done({ code, stdout, out: stdout.toString('utf8'), err: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** Runs commands at most `limit` at a time: two cores, and each CLI start costs about a second. */
export async function runAll<K extends string>(jobs: Record<K, () => Promise<Run>>, limit = 3): Promise<Record<K, Run>> {
  const entries = Object.entries(jobs) as Array<[K, () => Promise<Run>]>;
  const results = {} as Record<K, Run>;
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const [key, job] = entries[next++];
      results[key] = await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, entries.length) }, worker));
  return results;
}

/** A usage or input error: one line on stderr, naming the problem, no stack trace. */
export function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code, run.err).not.toBe(0);
  const lines = run.err.trimEnd().split('\n');
  expect(lines, run.err).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.err).not.toMatch(/^\s+at /m);
}

export function seededNoise(n: number, rms: number, seed: number): Int16Array {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(rms * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
  return out;
}

/** `palabre chat …` as a subprocess with `lines` piped to its standard input. */
export function chat(args: string[], lines: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'chat', ...args], { cwd: ROOT, env: cliEnv(env) });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
    child.stdin.end(lines.join('\n') + '\n');
  });
}
