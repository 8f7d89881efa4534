import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { loadEngines } from '../engines/registry.js';
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

function line(ok: boolean, what: string, detail: string): string {
  return `${ok ? ' ok ' : 'FAIL'}  ${what.padEnd(22)} ${detail}`;
}

function describe(s: EngineStatus): string {
  if (!s.loaded) return s.reason ?? 'not loaded';
  return Object.entries(s.info ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('/') : String(v)}`)
    .join(' ');
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check every engine and tool palabre can use, and say why one does not load')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const config = configFor(command);
      const engines = await loadEngines(config, cliLogger(command, config), { allStt: true });
      const ffmpeg = await probeFfmpeg(config.audio.ffmpegPath);
      const required = [
        ['vad', config.engines.vad.engine],
        ['denoise', config.engines.denoise.engine],
        ['tts', config.engines.tts.engine],
        ['stt', config.engines.stt.engine],
      ] as const;
      const missing = required.filter(([kind, name]) => !engines.statuses.some((s) => s.kind === kind && s.name === name && s.loaded));
      if (opts.json) {
        process.stdout.write(JSON.stringify({ engines: engines.statuses, ffmpeg, missingDefaults: missing.map(([k, n]) => `${k}:${n}`) }, null, 2) + '\n');
      } else {
        for (const s of engines.statuses) {
          const isDefault = required.some(([k, n]) => k === s.kind && n === s.name);
          process.stdout.write(line(s.loaded || !isDefault, `${s.kind} ${s.name}${isDefault ? ' (default)' : ''}`, describe(s)) + '\n');
        }
        process.stdout.write(line(ffmpeg.ok, 'ffmpeg (optional)', ffmpeg.detail) + '\n');
        process.stdout.write(missing.length === 0 ? 'all default engines loaded\n' : `default engines missing: ${missing.map(([k, n]) => `${k} ${n}`).join(', ')}\n`);
      }
      await engines.close();
      process.exitCode = missing.length === 0 ? 0 : 1;
    });
}
