/**
 * A local HTTP file server for the model download tests (127.0.0.1, port 0),
 * with the misbehaviours real servers show: cut connections, ignored Range
 * headers, stalls, redirects and slow bodies. Every request is recorded.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export type Behaviour = 'normal' | 'cut-once' | 'ignore-range' | 'stall' | 'slow' | 'no-length';

export interface ServedFile {
  body: Buffer;
  behaviour?: Behaviour;
}

export interface TestServer {
  url: string;
  files: Map<string, ServedFile>;
  redirects: Map<string, string>;
  requests: { path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const files = new Map<string, ServedFile>();
  const redirects = new Map<string, string>();
  const requests: TestServer['requests'] = [];
  const cutDone = new Set<string>();
  const server: Server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ path, headers: req.headers });
    const to = redirects.get(path);
    if (to) {
      res.writeHead(302, { location: to });
      res.end();
      return;
    }
    const file = files.get(path);
    if (!file) {
      res.writeHead(404, 'Not Found');
      res.end('no such file');
      return;
    }
    const behaviour = file.behaviour ?? 'normal';
    const body = file.body;
    if (behaviour === 'stall') {
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 0));
      return; // never sends the body
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    if (range && behaviour !== 'ignore-range') {
      start = Number(range[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, behaviour === 'no-length' ? {} : { 'content-length': body.length });
    }
    const rest = body.subarray(start);
    if (behaviour === 'cut-once' && !cutDone.has(path)) {
      cutDone.add(path);
      res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (behaviour === 'slow') {
      let at = 0;
      const timer = setInterval(() => {
        if (at >= rest.length || res.destroyed) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(rest.subarray(at, at + 4096));
        at += 4096;
      }, 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(rest);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    files,
    redirects,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** A real .tar.bz2 made with the system tar: `<root>/` holding the given files (random bytes unless text is given). */
export function makeTarBz2(workDir: string, root: string, files: Record<string, number | string>): Buffer {
  const src = join(workDir, `src-${randomBytes(3).toString('hex')}`);
  mkdirSync(join(src, root), { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(src, root, name), typeof content === 'number' ? randomBytes(content) : content);
  }
  const out = join(workDir, `${root}-${randomBytes(3).toString('hex')}.tar.bz2`);
  const run = spawnSync('tar', ['-cjf', out, '-C', src, root], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`tar failed: ${run.stderr}`);
  return readFileSync(out);
}
