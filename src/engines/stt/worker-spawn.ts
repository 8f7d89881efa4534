/**
 * Starts a worker thread from a sibling module of the caller, whether the
 * code runs compiled (dist/*.js) or from source under tsx or vitest
 * (src/*.ts): Node 20 cannot load a .ts worker by itself, so a .ts module is
 * loaded through tsx's programmatic API, which is a runtime dependency anyway.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `./name.ts` or `./name.js` next to `callerUrl`, matching the caller's own extension. */
export function siblingModule(callerUrl: string, name: string): URL {
  const ext = extname(fileURLToPath(callerUrl)) === '.ts' ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, callerUrl);
}

/** The ESM build of tsx's API: its CommonJS build cannot register the ESM loader from inside a worker. */
function tsxEsmApi(): string {
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import?: { default?: string } | string }> };
  const entry = pkg.exports['./esm/api']?.import;
  const rel = typeof entry === 'string' ? entry : entry?.default;
  if (!rel) throw new Error('this tsx version has no ESM ./esm/api export');
  return join(dirname(pkgFile), rel);
}

export function spawnModuleWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, options);
  const tsxApi = pathToFileURL(tsxEsmApi()).href;
  const code = [
    `import(${JSON.stringify(tsxApi)})`,
    `.then((api) => api.tsImport(${JSON.stringify(moduleUrl.href)}, ${JSON.stringify(moduleUrl.href)}))`,
  ].join('');
  return new Worker(code, { ...options, eval: true });
}
