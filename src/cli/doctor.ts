import { spawn } from 'node:child_process';
import { Command } from 'commander';
import type { EngineStatus } from '../engines/types.js';
import { cliLogger, configFor } from './context.js';

/** Runs `ffmpeg -version` and returns its first line, or why it could not run. */
export function probeFfmpeg(path: string): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const child = spawn(path, ['-hide_banner', '-version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ ok: false, detail: err.code === 'ENOENT' ? `${path} not found: compressed uploads (mp3, ogg, webm, m4a) get 415` : err.message }),
    );
    child.once('close', (code) => resolve(code === 0 ? { ok: true, detail: out.split('\n')[0] } : { ok: false, detail: `${path} exited with ${code}` }));
  });
}

/** ok: works; FAIL: a default engine is missing, palabre cannot do its job; --: optional, not available. */
type Mark = 'ok' | 'FAIL' | '--';

interface Check {
  mark: Mark;
  what: string;
  detail: string;
}

const MAX_LIST = 12;

function describe(s: EngineStatus): string {
  if (!s.loaded) return s.reason ?? 'not loaded';
  return Object.entries(s.info ?? {})
    .map(([k, v]) => {
      if (!Array.isArray(v)) return `${k}=${String(v)}`;
      // espeak lists 140 languages: a full list would bury the other checks.
      return `${k}=${v.slice(0, MAX_LIST).join('/')}${v.length > MAX_LIST ? `/… (${v.length})` : ''}`;
    })
    .join(' ');
}

function render(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.what.length));
  return checks.map((c) => `${c.mark.padStart(4)}  ${c.what.padEnd(width)}  ${c.detail}\n`).join('');
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check every engine and tool palabre can use, and say why one does not load (exit code 1 when a default engine is missing)')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const config = configFor(command);
      // Each engine that did not load is reported below with its reason; a warning log would say it twice.
      const { loadEngines } = await import('../engines/registry.js');
      const engines = await loadEngines(config, cliLogger(command, config, 'error'), { allStt: true });
      const [ffmpeg, remote] = await Promise.all([probeFfmpeg(config.audio.ffmpegPath), import('../engines/remote-checks.js').then((m) => m.checkRemoteEngines(config))]);
      await engines.close();
      const required = [
        ['vad', config.engines.vad.engine],
        ['denoise', config.engines.denoise.engine],
        ['tts', config.engines.tts.engine],
        ['stt', config.engines.stt.engine],
      ] as const;
      // A remote default engine that loads but does not answer (or refuses the key) is as missing as one that did not load.
      const unreachable = (kind: string, name: string) => remote.some((r) => r.kind === kind && r.engine === name && !r.ok);
      const missing = required.filter(([kind, name]) => !engines.statuses.some((s) => s.kind === kind && s.name === name && s.loaded) || unreachable(kind, name));
      if (opts.json) {
        process.stdout.write(JSON.stringify({ engines: engines.statuses, remote, ffmpeg, missingDefaults: missing.map(([k, n]) => `${k}:${n}`) }, null, 2) + '\n');
      } else {
        const checks: Check[] = engines.statuses.map((s) => {
          const isDefault = required.some(([k, n]) => k === s.kind && n === s.name);
          return { mark: s.loaded ? 'ok' : isDefault ? 'FAIL' : '--', what: `${s.kind} ${s.name}${isDefault ? ' (default)' : ''}`, detail: describe(s) };
        });
        for (const r of remote) {
          const isDefault = required.some(([k, n]) => k === r.kind && n === r.engine);
          checks.push({ mark: r.ok ? 'ok' : isDefault ? 'FAIL' : '--', what: `${r.kind} ${r.engine} (remote)`, detail: `${r.detail} [${r.ms} ms]` });
        }
        checks.push({ mark: ffmpeg.ok ? 'ok' : '--', what: 'ffmpeg (optional)', detail: ffmpeg.detail });
        process.stdout.write(render(checks));
        process.stdout.write(missing.length === 0 ? 'all default engines loaded\n' : `default engines missing: ${missing.map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
      }
      process.exitCode = missing.length === 0 ? 0 : 1;
    });
}
