import { spawn } from 'node:child_process';
import { PalabreError, throwIfAborted } from '../../errors.js';
import { Channel } from './channel.js';
import { Limiter } from './limiter.js';
import type { EspeakParams } from './styles.js';
import { WavStreamReader } from './wav-stream.js';
import { runProgram } from './engine-support.js';

/**
 * The Debian `espeak-ng` program, one process per request: processes run in parallel,
 * so this back-end has no single-instance queue, only a bound on how many run at once.
 * Text goes through stdin (never argv, never a shell), so quotes, dashes and markup-like
 * characters are spoken or skipped by espeak, not interpreted by anything else.
 */

const STDERR_KEEP = 2048;

export class EspeakCli {
  private readonly limiter: Limiter;
  private closed = false;
  private readonly children = new Set<ReturnType<typeof spawn>>();

  constructor(
    readonly program: string,
    maxProcesses: number,
    maxQueue: number,
  ) {
    this.limiter = new Limiter(maxProcesses, maxQueue, 'espeak-ng (program)');
  }

  async listVoices(): Promise<string> {
    return runProgram(this.program, ['--voices'], 'espeak-ng');
  }

  async *synthesize(text: string, identifier: string, params: EspeakParams, signal?: AbortSignal): AsyncGenerator<Int16Array, void, undefined> {
    throwIfAborted(signal, 'espeak-ng synthesis');
    const release = await this.limiter.acquire(signal);
    let channel: Channel<Int16Array>;
    try {
      if (this.closed) throw new PalabreError('engine_unavailable', 'espeak-ng was closed');
      throwIfAborted(signal, 'espeak-ng synthesis');
      channel = this.start(text, identifier, params, signal, release);
    } catch (e) {
      release();
      throw e;
    }
    yield* channel;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.limiter.rejectAll(new PalabreError('engine_unavailable', 'espeak-ng was closed'));
    for (const c of this.children) c.kill('SIGKILL');
  }

  private start(text: string, identifier: string, p: EspeakParams, signal: AbortSignal | undefined, release: () => void): Channel<Int16Array> {
    // --stdin reads the whole input as one text (without it espeak speaks line by line); -b 1 = UTF-8.
    const args = ['--stdout', '--stdin', '-b', '1', '-v', identifier, '-s', String(p.rate), '-p', String(p.pitch), '-a', String(p.amplitude)];
    const child = spawn(this.program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    const channel = new Channel<Int16Array>(() => child.kill('SIGKILL'), signal, 'espeak-ng synthesis');
    const reader = new WavStreamReader(this.program);
    let stderr = '';
    let settled = false;
    const finish = (error?: PalabreError): void => {
      if (settled) return;
      settled = true;
      this.children.delete(child);
      release();
      if (error) channel.fail(error);
      else channel.end();
    };
    child.stdout.on('data', (buf: Buffer) => {
      if (settled) return;
      try {
        const samples = reader.push(buf);
        if (samples.length > 0) channel.push(samples);
      } catch (e) {
        child.kill('SIGKILL');
        finish(e instanceof PalabreError ? e : new PalabreError('engine_failed', String(e)));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-STDERR_KEEP)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? `the espeak-ng program '${this.program}' is not on PATH` : `could not run '${this.program}': ${e.message}`;
      finish(new PalabreError(e.code === 'ENOENT' ? 'engine_unavailable' : 'engine_failed', why, { cause: e }));
    });
    child.on('close', (code, sig) => {
      if (code === 0) finish();
      else if (channel.isCancelled) finish();
      else if (/voice does not exist/iu.test(stderr)) finish(new PalabreError('bad_request', `espeak-ng has no voice '${identifier}'`));
      else finish(new PalabreError('engine_failed', `espeak-ng exited with ${sig ?? `code ${code}`}: ${stderr.trim() || 'no message'}`));
    });
    // A killed child closes stdin under us; that EPIPE is expected, not a fault.
    child.stdin.on('error', () => undefined);
    child.stdin.end(text, 'utf8');
    return channel;
  }
}
