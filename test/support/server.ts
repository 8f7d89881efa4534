import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { decodeWav } from '../../src/audio/wav.js';
import { type Config, loadConfig } from '../../src/config.js';
import { type Engines, type LoadEnginesOptions, loadEngines } from '../../src/engines/registry.js';
import { silentLogger } from '../../src/log.js';
import { buildApp } from '../../src/server/app.js';

export interface TestServer {
  url: string;
  app: FastifyInstance;
  config: Config;
  engines: Engines;
  close(): Promise<void>;
}

/** A real server on a loopback port with real engines; `overrides` follow the config schema. */
export async function startServer(overrides: Record<string, unknown> = {}, engineOptions: LoadEnginesOptions = {}, shared?: Engines): Promise<TestServer> {
  const config = loadConfig({ env: {}, overrides: { server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' }, ...overrides } });
  const engines = shared ?? (await loadEngines(config, silentLogger, engineOptions));
  const app = await buildApp({ config, engines, logger: silentLogger });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address,
    app,
    config,
    engines,
    async close() {
      await app.close();
      if (!shared) await engines.close();
    },
  };
}

/** English speech from the Debian `flite` program (16 kHz WAV): our synthetic caller. */
export function fliteWav(text: string, voice = 'slt'): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'palabre-flite-'));
  try {
    const out = join(dir, 'say.wav');
    execFileSync('flite', ['-voice', voice, '-t', text, '-o', out]);
    return readFileSync(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Converts audio with the `ffmpeg` program (e.g. WAV → mp3), for upload tests. */
export function ffmpegConvert(input: Buffer, ext: string, args: string[] = []): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'wav', '-i', 'pipe:0', ...args, '-f', ext, 'pipe:1'], { input, maxBuffer: 64 * 1024 * 1024 });
}

export function multipartBody(fields: Record<string, string>, file?: { field: string; name: string; bytes: Uint8Array; type?: string }): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append(file.field, new Blob([new Uint8Array(file.bytes)], { type: file.type ?? 'application/octet-stream' }), file.name);
  return form;
}

export { wordErrorRate } from '../../src/engines/stt/wer.js';

const flite16k = new Map<string, Int16Array>();

/** A caller's line spoken by flite at 16 kHz (its native rate), synthesised once per text. */
export function fliteSamples16k(text: string): Int16Array {
  let samples = flite16k.get(text);
  if (!samples) {
    const wav = decodeWav(fliteWav(text));
    if (wav.sampleRate !== 16_000) throw new Error(`flite spoke at ${wav.sampleRate} Hz, not 16000`);
    samples = wav.samples;
    flite16k.set(text, samples);
  }
  return samples;
}
