import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { CATALOG, downloadUrl, type CatalogModel } from './catalog.js';
import { MANIFEST, ModelManager } from './manager.js';
import { makeTarBz2, sha256, startTestServer, type TestServer } from './test-server.js';

let server: TestServer;
let work: string;
let archive: Buffer;
let catalog: CatalogModel[];

beforeAll(async () => {
  server = await startTestServer();
  work = mkdtempSync(join(tmpdir(), 'palabre-models-'));
  archive = makeTarBz2(work, 'fake-zipformer', { 'encoder.int8.onnx': 300_000, 'decoder.onnx': 20_000, 'joiner.int8.onnx': 10_000, 'tokens.txt': '<blk> 0\na 1\n', 'README.md': 'test' });
  const incomplete = makeTarBz2(work, 'fake-zipformer', { 'encoder.int8.onnx': 1000, 'tokens.txt': 'a 0\n' });
  server.files.set('/releases/fake-zipformer.tar.bz2', { body: archive });
  server.files.set('/releases/incomplete.tar.bz2', { body: incomplete });
  server.files.set('/releases/slow.tar.bz2', { body: archive, behaviour: 'slow' });
  server.files.set('/releases/vad.onnx', { body: Buffer.from('onnx bytes') });
  server.files.set('/mirror/fake-zipformer.tar.bz2', { body: archive });
  const files = { encoder: 'encoder.int8.onnx', decoder: 'decoder.onnx', joiner: 'joiner.int8.onnx', tokens: 'tokens.txt' };
  const base: Omit<CatalogModel, 'id' | 'url'> = { kind: 'stt-streaming', languages: ['en'], description: 'test', format: 'tar.bz2', root: 'fake-zipformer', files, license: 'test' };
  catalog = [
    { ...base, id: 'fake', url: `${server.url}/releases/fake-zipformer.tar.bz2`, sha256: sha256(archive) },
    { ...base, id: 'fake-mirrored', url: 'http://upstream.invalid/releases/fake-zipformer.tar.bz2' },
    { ...base, id: 'fake-incomplete', url: `${server.url}/releases/incomplete.tar.bz2` },
    { ...base, id: 'fake-wrongsum', url: `${server.url}/releases/fake-zipformer.tar.bz2`, sha256: '0'.repeat(64) },
    { ...base, id: 'fake-slow', url: `${server.url}/releases/slow.tar.bz2` },
    { id: 'fake-vad', kind: 'vad', languages: ['multi'], description: 'test', url: `${server.url}/releases/vad.onnx`, format: 'file', root: '', files: { model: 'vad.onnx' }, license: 'test' },
  ];
});

afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(work, 'models-'));
  server.requests.length = 0;
});

async function rejection(p: Promise<unknown> | (() => unknown)): Promise<PalabreError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return err as PalabreError;
  }
  throw new Error('expected a rejection');
}

/** Nothing but installed models and the downloads folder may be left in the models dir. */
function leftovers(): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('.staging') || f.includes('.old-'));
}

describe('ModelManager', () => {
  it('pull → list shows it installed → resolve gives the files → rm', async () => {
    const m = new ModelManager({ dir, catalog, timeoutMs: 2000 });
    expect((await m.state('fake')).installed).toBe(false);
    const state = await m.pull('fake');
    expect(state.installed).toBe(true);
    expect(state.bytes).toBeGreaterThan(330_000);
    expect(readFileSync(join(dir, 'fake', 'tokens.txt'), 'utf8')).toBe('<blk> 0\na 1\n');
    const manifest = JSON.parse(readFileSync(join(dir, 'fake', MANIFEST), 'utf8'));
    expect(manifest).toMatchObject({ id: 'fake', sha256: sha256(archive), bytes: archive.length });
    expect(existsSync(join(dir, '.downloads', 'fake-zipformer.tar.bz2'))).toBe(false);
    expect(leftovers()).toEqual([]);

    const listed = await m.list();
    expect(listed.find((s) => s.model.id === 'fake')).toMatchObject({ installed: true, missing: [] });
    expect(listed.find((s) => s.model.id === 'fake-vad')).toMatchObject({ installed: false });

    const resolved = m.resolve('fake');
    expect(resolved.files.encoder).toBe(join(dir, 'fake', 'encoder.int8.onnx'));

    // Pulling again is a no-op.
    server.requests.length = 0;
    await m.pull('fake');
    expect(server.requests).toHaveLength(0);

    expect(await m.rm('fake')).toBe(true);
    expect((await m.state('fake')).installed).toBe(false);
    expect(await m.rm('fake')).toBe(false);
  });

  it('resolve names the command to run when a model is missing', async () => {
    const m = new ModelManager({ dir, catalog });
    const err = await rejection(() => m.resolve('fake'));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toBe('model fake is not downloaded; run `palabre models pull fake`');
  });

  it('installs a plain file model', async () => {
    const m = new ModelManager({ dir, catalog });
    await m.pull('fake-vad');
    expect(readFileSync(m.resolve('fake-vad').files.model, 'utf8')).toBe('onnx bytes');
  });

  it('fetches from a mirror as ${baseUrl}/${file name}', async () => {
    const m = new ModelManager({ dir, catalog, baseUrl: `${server.url}/mirror/` });
    expect(m.urlOf(catalog[1])).toBe(`${server.url}/mirror/fake-zipformer.tar.bz2`);
    expect((await m.pull('fake-mirrored')).installed).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual(['/mirror/fake-zipformer.tar.bz2']);
  });

  it('refuses an archive without the files the engine needs and installs nothing', async () => {
    const m = new ModelManager({ dir, catalog });
    const err = await rejection(m.pull('fake-incomplete'));
    expect(err.code).toBe('download_failed');
    expect(err.message).toMatch(/incomplete\.tar\.bz2 lacks decoder\.onnx, joiner\.int8\.onnx/);
    expect(existsSync(join(dir, 'fake-incomplete'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('a checksum mismatch installs nothing', async () => {
    const m = new ModelManager({ dir, catalog });
    const err = await rejection(m.pull('fake-wrongsum'));
    expect(err.code).toBe('checksum_mismatch');
    expect(existsSync(join(dir, 'fake-wrongsum'))).toBe(false);
  });

  it('an interrupted pull leaves no model and the next pull resumes the download', async () => {
    const m = new ModelManager({ dir, catalog, timeoutMs: 2000 });
    const ac = new AbortController();
    const err = await rejection(m.pull('fake-slow', { signal: ac.signal, onProgress: (p) => p.bytes > 50_000 && ac.abort() }));
    expect(err.code).toBe('aborted');
    expect((await m.state('fake-slow')).installed).toBe(false);
    server.files.set('/releases/slow.tar.bz2', { body: archive });
    const state = await m.pull('fake-slow');
    expect(state.installed).toBe(true);
    expect(server.requests[server.requests.length - 1].headers.range).toMatch(/^bytes=\d+-$/);
  });

  it('names unknown models', async () => {
    const m = new ModelManager({ dir, catalog });
    const err = await rejection(m.pull('nope'));
    expect(err.code).toBe('not_found');
    expect(err.message).toMatch(/unknown model "nope"; known models: fake, fake-mirrored/);
  });
});

describe('the built-in catalog', () => {
  it('has English and French recognisers, a VAD and a voice, all from sherpa-onnx releases', () => {
    const ids = new Set(CATALOG.map((m) => m.id));
    expect(ids.size).toBe(CATALOG.length);
    for (const lang of ['en', 'fr']) expect(CATALOG.some((m) => m.kind.startsWith('stt') && m.languages.includes(lang))).toBe(true);
    expect(CATALOG.some((m) => m.kind === 'vad')).toBe(true);
    expect(CATALOG.some((m) => m.kind === 'tts' && m.languages.includes('fr'))).toBe(true);
    for (const m of CATALOG) {
      expect(m.url).toMatch(/^https:\/\/github\.com\/k2-fsa\/sherpa-onnx\/releases\/download\/(asr|tts)-models\/[\w.-]+\.(tar\.bz2|onnx)$/);
      expect(m.format === 'file' ? m.url.endsWith('.onnx') : m.url.endsWith('.tar.bz2')).toBe(true);
      if (m.format === 'tar.bz2') expect(m.url).toContain(`/${m.root}.tar.bz2`);
      if (m.sha256 !== undefined) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      if (m.kind.startsWith('stt')) expect(m.sherpa).toBeDefined();
      expect(m.license).not.toBe('');
    }
    expect(downloadUrl(CATALOG[0], 'https://mirror.example/models')).toBe('https://mirror.example/models/sherpa-onnx-streaming-zipformer-en-2023-06-26.tar.bz2');
  });
});
