/** `palabre models list | pull ID | rm ID`: the model catalog and what is installed. */
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { CatalogModel } from '../models/catalog.js';
import type { DownloadProgress } from '../models/download.js';
import { ModelManager, type ModelState } from '../models/manager.js';

export interface ModelsDeps {
  modelsDir: string;
  baseUrl?: string;
  timeoutMs: number;
  /** Catalog override, for tests. */
  catalog?: readonly CatalogModel[];
  /** Where results go (stdout) and where progress goes (stderr); the process streams by default. */
  out?: (text: string) => void;
  err?: (text: string) => void;
  /** Draw a progress bar (default: when stderr is a terminal). */
  tty?: boolean;
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

function table(states: ModelState[]): string {
  const rows = states.map((s) => [
    s.model.id,
    s.model.kind,
    s.model.languages.join(','),
    s.installed ? `installed (${formatBytes(s.bytes)})` : s.missing.length < Object.keys(s.model.files).length ? 'incomplete' : `-`,
    s.model.bytes === undefined ? '' : formatBytes(s.model.bytes),
    s.model.license,
  ]);
  const header = ['ID', 'KIND', 'LANGUAGES', 'STATE', 'DOWNLOAD', 'LICENCE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Progress as a bar on a terminal and as a line every 10 % (or every 10 MB when the size is unknown) otherwise. */
function progressReporter(id: string, deps: ModelsDeps): { onProgress: (p: DownloadProgress) => void; stop: () => void } {
  const err = deps.err ?? ((t: string) => process.stderr.write(t));
  if (deps.tty ?? process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      // noTTYOutput: a bar asked for explicitly is drawn even when stderr is not a terminal (tests, `script`).
      { format: `${id} [{bar}] {percentage}% {done} / {size} {speed}/s`, hideCursor: true, clearOnComplete: false, stream: process.stderr, noTTYOutput: deps.tty === true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      onProgress: (p) => {
        const payload = { done: formatBytes(p.bytes), size: formatBytes(p.total), speed: formatBytes(Math.round(p.rate)) };
        if (!started) {
          bar.start(p.total ?? 0, p.bytes, payload);
          started = true;
        } else {
          if (p.total !== undefined) bar.setTotal(p.total);
          bar.update(p.bytes, payload);
        }
      },
      stop: () => {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let lastStep = -1;
  return {
    onProgress: (p) => {
      const step = p.total ? Math.floor((p.bytes / p.total) * 10) : Math.floor(p.bytes / (10 * 1024 * 1024));
      if (step === lastStep) return;
      lastStep = step;
      const pct = p.total ? `${Math.floor((p.bytes / p.total) * 100)}%` : formatBytes(p.bytes);
      err(`pull ${id}: ${pct} (${formatBytes(p.bytes)} / ${formatBytes(p.total)}, ${formatBytes(Math.round(p.rate))}/s)\n`);
    },
    stop: () => undefined,
  };
}

export function modelsCommand(depsOrGetter: ModelsDeps | (() => ModelsDeps)): Command {
  const deps = (): ModelsDeps => (typeof depsOrGetter === 'function' ? depsOrGetter() : depsOrGetter);
  const manager = (d: ModelsDeps): ModelManager => new ModelManager({ dir: d.modelsDir, baseUrl: d.baseUrl, timeoutMs: d.timeoutMs, catalog: d.catalog });
  const print = (d: ModelsDeps, text: string): void => (d.out ?? ((t: string) => process.stdout.write(t)))(`${text}\n`);

  const command = new Command('models').description('list, download and remove speech models (sherpa-onnx recognisers, voices)');

  command
    .command('list')
    .description('the model catalog with what is installed')
    .addOption(new Option('--json', 'machine-readable output'))
    .action(async (opts: { json?: boolean }) => {
      const d = deps();
      const states = await manager(d).list();
      if (opts.json) {
        print(d, JSON.stringify(states.map((s) => ({ ...s.model, installed: s.installed, path: s.path, installedBytes: s.bytes, missing: s.missing })), null, 2));
      } else print(d, table(states));
    });

  command
    .command('pull')
    .description('download and unpack a model (resumes an interrupted download)')
    .argument('<id>', 'model id (see `palabre models list`)')
    .option('--force', 'download again even when installed')
    .action(async (id: string, opts: { force?: boolean }) => {
      const d = deps();
      const m = manager(d);
      const model = m.get(id);
      const progress = progressReporter(id, d);
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const before = await m.state(id);
        if (before.installed && !opts.force) {
          print(d, `${id} is already installed in ${before.path}`);
          return;
        }
        (d.err ?? ((t: string) => process.stderr.write(t)))(`pull ${id}: ${m.urlOf(model)}\n`);
        const state = await m.pull(id, { force: opts.force, signal: ac.signal, onProgress: progress.onProgress });
        progress.stop();
        print(d, `${id} installed in ${state.path} (${formatBytes(state.bytes)})`);
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onSigint);
      }
    });

  command
    .command('rm')
    .description('delete an installed model')
    .argument('<id>', 'model id')
    .action(async (id: string) => {
      const d = deps();
      const removed = await manager(d).rm(id);
      print(d, removed ? `${id} removed` : `${id} was not installed`);
    });

  return command;
}
