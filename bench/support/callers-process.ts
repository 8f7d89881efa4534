/** The simulated callers' child process, seen from the benchmark: typed messages and waits with timeouts. */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromCallers, ToCallers } from './caller-protocol.js';

const ENTRY = fileURLToPath(new URL('./callers.ts', import.meta.url));

type Message<T extends FromCallers['type']> = Extract<FromCallers, { type: T }>;

export class CallersProcess {
  private readonly child: ChildProcess;
  private readonly waiters = new Map<string, Array<(m: FromCallers) => void>>();
  private failure: Error | undefined;
  private readonly exited: Promise<void>;

  /** `onCue` hears the callers announce each line, as they are about to say it. */
  constructor(onCue: (id: string, text: string) => void) {
    // The TypeScript loader the benchmark runs under goes to the child too; profiling and debugging flags do not.
    const inherited = process.execArgv.filter((a) => !/^--(cpu-prof|heap-prof|inspect)/.test(a));
    const execArgv = inherited.some((a) => a.includes('tsx')) ? inherited : [...inherited, '--import', 'tsx'];
    this.child = fork(ENTRY, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromCallers) => {
      if (m.type === 'cue') return onCue(m.id, m.text);
      if (m.type === 'error') this.fail(new Error(`the callers' process failed: ${m.message}`));
      const list = this.waiters.get(m.type);
      const next = list?.shift();
      next?.(m);
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`the callers' process exited with code ${code}`));
        resolve();
      }),
    );
  }

  send(m: ToCallers): void {
    if (this.failure) throw this.failure;
    this.child.send(m);
  }

  /** The next message of `type`; rejects after `timeoutMs` or when the process fails. */
  next<T extends FromCallers['type']>(type: T, timeoutMs: number): Promise<Message<T>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(type) ?? [];
      this.waiters.set(type, list);
      const timer = setTimeout(() => {
        list.splice(list.indexOf(done), 1);
        reject(new Error(`the callers' process sent no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (m: FromCallers): void => {
        clearTimeout(timer);
        if (m.type === 'error') reject(this.failure);
        else resolve(m as Message<T>);
      };
      list.push(done);
    });
  }

  async exit(): Promise<void> {
    if (this.child.exitCode === null && this.child.connected) this.child.send({ type: 'exit' } satisfies ToCallers);
    const timer = setTimeout(() => this.child.kill(), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const list of this.waiters.values()) for (const w of list.splice(0)) w({ type: 'error', message: err.message });
  }
}
