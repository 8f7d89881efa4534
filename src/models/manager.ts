/**
 * Models on disk: `<dir>/<id>/` holds one installed model, unpacked from its
 * archive into a temporary folder and renamed into place only once complete,
 * so an interrupted pull never leaves a half model where an engine looks.
 * Downloads in progress live in `<dir>/.downloads/` and resume from there.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PalabreError } from '../errors.js';
import { CATALOG, downloadName, downloadUrl, type CatalogModel } from './catalog.js';
import { download, type DownloadProgress } from './download.js';
import { extractTarBz2 } from './extract.js';

export interface ModelManagerOptions {
  /** Config `models.dir`. */
  dir: string;
  /** Config `models.baseUrl`: a mirror holding the release assets under their upstream file names. */
  baseUrl?: string;
  /** Config `models.timeoutMs`: a download with no data for this long fails. */
  timeoutMs?: number;
  /** The models known; the built-in catalog by default. */
  catalog?: readonly CatalogModel[];
}

export interface ModelState {
  model: CatalogModel;
  installed: boolean;
  /** Where the model lives (or would live). */
  path: string;
  /** Bytes on disk when installed. */
  bytes?: number;
  /** Files the engine needs that are absent (a damaged install). */
  missing: string[];
}

export interface ResolvedModel {
  model: CatalogModel;
  dir: string;
  /** Role → absolute path. */
  files: Record<string, string>;
}

export interface PullOptions {
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Download again even when installed. */
  force?: boolean;
}

export const MANIFEST = '.palabre-model.json';

async function du(path: string): Promise<number> {
  const st = await stat(path);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await du(join(path, entry));
  return total;
}

export class ModelManager {
  readonly dir: string;
  private readonly catalog: readonly CatalogModel[];

  constructor(private readonly options: ModelManagerOptions) {
    this.dir = options.dir;
    this.catalog = options.catalog ?? CATALOG;
  }

  models(): readonly CatalogModel[] {
    return this.catalog;
  }

  get(id: string): CatalogModel {
    const model = this.catalog.find((m) => m.id === id);
    if (!model) throw new PalabreError('not_found', `unknown model "${id}"; known models: ${this.catalog.map((m) => m.id).join(', ')}`);
    return model;
  }

  pathOf(id: string): string {
    return join(this.dir, id);
  }

  urlOf(model: CatalogModel): string {
    return downloadUrl(model, this.options.baseUrl);
  }

  async state(id: string): Promise<ModelState> {
    const model = this.get(id);
    const path = this.pathOf(id);
    if (!existsSync(path)) return { model, installed: false, path, missing: Object.values(model.files) };
    const missing = Object.values(model.files).filter((f) => !existsSync(join(path, f)));
    return { model, installed: missing.length === 0, path, bytes: await du(path), missing };
  }

  list(): Promise<ModelState[]> {
    return Promise.all(this.catalog.map((m) => this.state(m.id)));
  }

  /** The files an engine opens; engine_unavailable naming the command to run when they are not there. */
  resolve(id: string): ResolvedModel {
    const model = this.get(id);
    const dir = this.pathOf(id);
    const files = Object.fromEntries(Object.entries(model.files).map(([role, f]) => [role, join(dir, f)]));
    const missing = Object.values(files).filter((f) => !existsSync(f));
    if (missing.length === Object.keys(files).length) {
      throw new PalabreError('engine_unavailable', `model ${id} is not downloaded; run \`palabre models pull ${id}\``, { details: { dir } });
    }
    if (missing.length > 0) {
      throw new PalabreError('engine_unavailable', `model ${id} is incomplete (missing ${missing.join(', ')}); run \`palabre models pull ${id} --force\``, { details: { dir, missing } });
    }
    return { model, dir, files };
  }

  async pull(id: string, options: PullOptions = {}): Promise<ModelState> {
    const model = this.get(id);
    if (!options.force) {
      const current = await this.state(id);
      if (current.installed) return current;
    }
    const downloads = join(this.dir, '.downloads');
    await mkdir(downloads, { recursive: true });
    const archive = join(downloads, downloadName(model));
    const url = this.urlOf(model);
    const got = await download({
      url,
      dest: archive,
      sha256: model.sha256,
      timeoutMs: this.options.timeoutMs ?? 30_000,
      signal: options.signal,
      onProgress: options.onProgress,
    });

    const staging = join(this.dir, `.staging-${id}-${randomBytes(4).toString('hex')}`);
    await mkdir(staging, { recursive: true });
    try {
      let root = staging;
      if (model.format === 'tar.bz2') {
        await extractTarBz2(archive, staging, options.signal);
        root = model.root ? join(staging, model.root) : staging;
        if (!existsSync(root)) throw new PalabreError('download_failed', `archive ${downloadName(model)} has no folder ${model.root}/; is the mirror serving the right file?`);
      } else {
        const [only] = Object.values(model.files);
        await rename(archive, join(staging, only));
      }
      const missing = Object.values(model.files).filter((f) => !existsSync(join(root, f)));
      if (missing.length > 0) throw new PalabreError('download_failed', `archive ${downloadName(model)} lacks ${missing.join(', ')}`);
      await writeFile(join(root, MANIFEST), JSON.stringify({ id, url, sha256: got.sha256, bytes: got.bytes, installedAt: new Date().toISOString() }, null, 2));
      const target = this.pathOf(id);
      // Swap in: the old copy (if any) moves aside first, so the target is never a mix of both.
      const old = `${target}.old-${randomBytes(4).toString('hex')}`;
      if (existsSync(target)) await rename(target, old);
      await rename(root, target);
      await rm(old, { recursive: true, force: true });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    await rm(archive, { force: true });
    return this.state(id);
  }

  /** Removes an installed model (and any partial download); false when there was nothing. */
  async rm(id: string): Promise<boolean> {
    const model = this.get(id);
    const path = this.pathOf(id);
    const had = existsSync(path);
    await rm(path, { recursive: true, force: true });
    const part = join(this.dir, '.downloads', `${downloadName(model)}.part`);
    const hadPart = existsSync(part);
    await rm(part, { force: true });
    return had || hadPart;
  }
}
