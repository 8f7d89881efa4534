import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { download, type DownloadProgress } from './download.js';
import { sha256, startTestServer, type TestServer } from './test-server.js';

let server: TestServer;
let work: string;
const body = randomBytes(600_000);
const sum = sha256(body);

beforeAll(async () => {
  server = await startTestServer();
  work = mkdtempSync(join(tmpdir(), 'palabre-dl-'));
});

afterAll(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  server.requests.length = 0;
});

let n = 0;
function dest(): string {
  return join(work, `file-${n++}.bin`);
}

async function rejection(p: Promise<unknown>): Promise<PalabreError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return err as PalabreError;
  }
  throw new Error('expected a rejection');
}

describe('download', () => {
  it('fetches a file, verifies its checksum and reports progress', async () => {
    server.files.set('/a.bin', { body });
    const progress: DownloadProgress[] = [];
    const to = dest();
    const r = await download({ url: `${server.url}/a.bin`, dest: to, sha256: sum, timeoutMs: 2000, onProgress: (p) => progress.push(p) });
    expect(r).toEqual({ bytes: body.length, sha256: sum, resumed: false, rangeRequests: 0 });
    expect(readFileSync(to).equals(body)).toBe(true);
    expect(existsSync(`${to}.part`)).toBe(false);
    const last = progress[progress.length - 1];
    expect(last).toMatchObject({ bytes: body.length, total: body.length });
    expect(last.rate).toBeGreaterThan(0);
  });

  it('follows redirects', async () => {
    server.files.set('/real.bin', { body });
    server.redirects.set('/moved.bin', '/real.bin');
    const r = await download({ url: `${server.url}/moved.bin`, dest: dest(), sha256: sum, timeoutMs: 2000 });
    expect(r.bytes).toBe(body.length);
    expect(server.requests.map((q) => q.path)).toEqual(['/moved.bin', '/real.bin']);
  });

  it('resumes with a Range request after the server cuts the connection mid-way', async () => {
    server.files.set('/cut.bin', { body, behaviour: 'cut-once' });
    const r = await download({ url: `${server.url}/cut.bin`, dest: dest(), sha256: sum, timeoutMs: 2000 });
    expect(r.sha256).toBe(sum);
    expect(r.resumed).toBe(true);
    expect(r.rangeRequests).toBe(1);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].headers.range).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(server.requests[1].headers.range!)![0])).toBeGreaterThan(0);
  });

  it('continues a .part left by an earlier run, and finishes one that was already complete (416)', async () => {
    server.files.set('/p.bin', { body });
    const to = dest();
    writeFileSync(`${to}.part`, body.subarray(0, 250_000));
    const r = await download({ url: `${server.url}/p.bin`, dest: to, sha256: sum, timeoutMs: 2000 });
    expect(r).toMatchObject({ sha256: sum, resumed: true, rangeRequests: 1 });
    expect(server.requests[0].headers.range).toBe('bytes=250000-');

    const full = dest();
    writeFileSync(`${full}.part`, body);
    const again = await download({ url: `${server.url}/p.bin`, dest: full, sha256: sum, timeoutMs: 2000 });
    expect(again).toMatchObject({ bytes: body.length, sha256: sum });
    expect(readFileSync(full).equals(body)).toBe(true);
  });

  it('starts over cleanly when the server ignores the Range header', async () => {
    server.files.set('/ir.bin', { body, behaviour: 'ignore-range' });
    const to = dest();
    // A stale part with wrong bytes: it must not end up in the file.
    writeFileSync(`${to}.part`, randomBytes(100_000));
    const r = await download({ url: `${server.url}/ir.bin`, dest: to, sha256: sum, timeoutMs: 2000 });
    expect(r.sha256).toBe(sum);
    expect(readFileSync(to).equals(body)).toBe(true);
  });

  it('deletes the file and says checksum_mismatch when the SHA-256 differs', async () => {
    server.files.set('/bad.bin', { body });
    const to = dest();
    const wrong = 'ab'.repeat(32);
    const err = await rejection(download({ url: `${server.url}/bad.bin`, dest: to, sha256: wrong, timeoutMs: 2000 }));
    expect(err.code).toBe('checksum_mismatch');
    expect(err.message).toContain(sum);
    expect(err.message).toContain(wrong);
    expect(existsSync(to)).toBe(false);
    expect(existsSync(`${to}.part`)).toBe(false);
  });

  it('reports an HTTP error with its status', async () => {
    const err = await rejection(download({ url: `${server.url}/missing.bin`, dest: dest(), timeoutMs: 2000 }));
    expect(err.code).toBe('download_failed');
    expect(err.message).toMatch(/^HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/missing\.bin$/);
    expect(err.details).toMatchObject({ status: 404 });
  });

  it('says the machine may be offline when the connection is refused', async () => {
    // A port that was free a moment ago and has no listener now.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const err = await rejection(download({ url: `http://127.0.0.1:${port}/x.bin`, dest: dest(), timeoutMs: 2000 }));
    expect(err.code).toBe('download_failed');
    expect(err.message).toMatch(new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port}: ECONNREFUSED .*the machine may be offline$`));
  });

  it('fails when no data arrives for timeoutMs', async () => {
    server.files.set('/stall.bin', { body, behaviour: 'stall' });
    const started = performance.now();
    const err = await rejection(download({ url: `${server.url}/stall.bin`, dest: dest(), timeoutMs: 300 }));
    expect(err.code).toBe('download_failed');
    expect(err.message).toMatch(/no data from 127\.0\.0\.1:\d+ for 300 ms/);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('stops on abort, keeps the part, and a later run resumes it', async () => {
    server.files.set('/slow.bin', { body, behaviour: 'slow' });
    const to = dest();
    const ac = new AbortController();
    const p = download({
      url: `${server.url}/slow.bin`,
      dest: to,
      timeoutMs: 2000,
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.bytes > 60_000) ac.abort();
      },
    });
    const err = await rejection(p);
    expect(err.code).toBe('aborted');
    const kept = readFileSync(`${to}.part`).length;
    expect(kept).toBeGreaterThan(60_000);
    server.files.set('/slow.bin', { body });
    const r = await download({ url: `${server.url}/slow.bin`, dest: to, sha256: sum, timeoutMs: 2000 });
    expect(r).toMatchObject({ resumed: true, rangeRequests: 1, sha256: sum });
  });

  it('accepts a body without Content-Length', async () => {
    server.files.set('/nolen.bin', { body, behaviour: 'no-length' });
    const r = await download({ url: `${server.url}/nolen.bin`, dest: dest(), sha256: sum, timeoutMs: 2000 });
    expect(r.bytes).toBe(body.length);
  });

  it('refuses URLs that are not http(s)', async () => {
    const err = await rejection(download({ url: 'ftp://example.invalid/x', dest: dest(), timeoutMs: 2000 }));
    expect(err.message).toMatch(/only http and https/);
  });
});
