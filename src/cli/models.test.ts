import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import type { CatalogModel } from '../models/catalog.js';
import { makeTarBz2, startTestServer, type TestServer } from '../models/test-server.js';
import { modelsCommand, type ModelsDeps } from './models.js';

let server: TestServer;
let work: string;
let catalog: CatalogModel[];

beforeAll(async () => {
  server = await startTestServer();
  work = mkdtempSync(join(tmpdir(), 'palabre-cli-models-'));
  server.files.set('/m.tar.bz2', { body: makeTarBz2(work, 'm', { 'model.onnx': 400_000, 'tokens.txt': 'a 0\n' }) });
  catalog = [
    { id: 'tiny-test', kind: 'stt-offline', languages: ['en', 'fr'], description: 'test', url: `${server.url}/m.tar.bz2`, format: 'tar.bz2', root: 'm', files: { model: 'model.onnx', tokens: 'tokens.txt' }, bytes: 400_000, license: 'MIT' },
    { id: 'gone', kind: 'vad', languages: ['multi'], description: 'test', url: `${server.url}/missing.onnx`, format: 'file', root: '', files: { model: 'x.onnx' }, license: 'MIT' },
  ];
});

afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

async function run(args: string[], extra: Partial<ModelsDeps> = {}): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const deps: ModelsDeps = { modelsDir: join(work, 'models'), timeoutMs: 2000, catalog, out: (t) => (out += t), err: (t) => (err += t), tty: false, ...extra };
  const cmd = modelsCommand(() => deps);
  cmd.exitOverride();
  await cmd.parseAsync(args, { from: 'user' });
  return { out, err };
}

describe('palabre models', () => {
  it('list → pull (with progress lines) → list shows installed → rm', async () => {
    const before = await run(['list']);
    expect(before.out).toMatch(/^ID\s+KIND\s+LANGUAGES\s+STATE\s+DOWNLOAD\s+LICENCE\n/);
    expect(before.out).toMatch(/tiny-test\s+stt-offline\s+en,fr\s+-\s+391 KB\s+MIT/);

    const pull = await run(['pull', 'tiny-test']);
    expect(pull.err).toContain(`pull tiny-test: ${server.url}/m.tar.bz2`);
    expect(pull.err).toMatch(/pull tiny-test: 100% \(\d+ KB \/ \d+ KB, .*\/s\)/);
    expect(pull.out).toMatch(/^tiny-test installed in .*models\/tiny-test \(391 KB\)\n$/);

    const after = await run(['list', '--json']);
    const listed = JSON.parse(after.out) as { id: string; installed: boolean }[];
    expect(listed.find((m) => m.id === 'tiny-test')?.installed).toBe(true);
    expect((await run(['pull', 'tiny-test'])).out).toMatch(/already installed/);

    expect((await run(['rm', 'tiny-test'])).out).toBe('tiny-test removed\n');
    expect((await run(['rm', 'tiny-test'])).out).toBe('tiny-test was not installed\n');
  });

  it('draws a progress bar on a terminal', async () => {
    const writes: string[] = [];
    const origWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await run(['pull', 'tiny-test', '--force'], { tty: true });
    } finally {
      process.stderr.write = origWrite;
    }
    expect(writes.join('')).toMatch(/tiny-test \[.*\] 100% /);
    await run(['rm', 'tiny-test']);
  });

  it('fails with a one-line PalabreError for unknown ids and HTTP errors', async () => {
    await expect(run(['pull', 'nope'])).rejects.toThrow(PalabreError);
    await expect(run(['pull', 'nope'])).rejects.toThrow(/^unknown model "nope"; known models: tiny-test, gone$/);
    const err = await run(['pull', 'gone']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).message).toMatch(/^HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/missing\.onnx$/);
  });
});
