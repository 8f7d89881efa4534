/**
 * Resumable HTTP(S) download to a file: a `.part` file grows until complete,
 * a later attempt continues it with a Range request, redirects are followed,
 * a transfer that stops sending data times out, and a known SHA-256 is checked
 * before the file takes its final name.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { dirname } from 'node:path';
import { PalabreError } from '../errors.js';

export interface DownloadProgress {
  /** Bytes on disk so far, a resumed part included. */
  bytes: number;
  /** Full size when the server says it. */
  total?: number;
  /** Bytes per second over this attempt. */
  rate: number;
}

export interface DownloadOptions {
  url: string;
  /** Final path; the transfer writes `${dest}.part` until it is complete and verified. */
  dest: string;
  sha256?: string;
  /** A transfer with no data for this long fails (and is retried if it had made progress). */
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Further attempts after a transfer that was cut having made progress. Default 3. */
  retries?: number;
  maxRedirects?: number;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
  /** The transfer started from a part file or was cut and continued. */
  resumed: boolean;
  /** Range requests sent. */
  rangeRequests: number;
}

const NETWORK_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

interface Response {
  res: IncomingMessage;
  url: string;
}

/** GET with redirects followed by hand, so that the Range header and the stall timer cover every hop. */
function get(url: string, headers: Record<string, string>, opts: DownloadOptions, redirectsLeft: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new PalabreError('download_failed', `not a valid download URL: ${url}`));
      return;
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      reject(new PalabreError('download_failed', `only http and https downloads are supported, not ${parsed.protocol} (${url})`));
      return;
    }
    const lib = parsed.protocol === 'https:' ? https : http;
    const req = lib.get(parsed, { headers: { 'user-agent': 'palabre-models', ...headers } });
    const timer = setTimeout(() => req.destroy(stall(url, opts.timeoutMs)), opts.timeoutMs);
    const onAbort = (): void => {
      req.destroy(new PalabreError('aborted', `download of ${url} was cancelled`));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('response', (res) => {
      done();
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        if (redirectsLeft <= 0) {
          reject(new PalabreError('download_failed', `too many redirects fetching ${opts.url}`));
          return;
        }
        const next = new URL(res.headers.location, url).href;
        get(next, headers, opts, redirectsLeft - 1).then(resolve, reject);
        return;
      }
      resolve({ res, url });
    });
  });
}

function stall(url: string, ms: number): PalabreError {
  return new PalabreError('download_failed', `no data from ${host(url)} for ${ms} ms; the server stalled or the network is down`);
}

function networkError(err: unknown, url: string): PalabreError {
  if (err instanceof PalabreError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code && NETWORK_CODES.has(code)) {
    return new PalabreError('download_failed', `cannot reach ${host(url)}: ${code} (${(err as Error).message}); the machine may be offline`, { cause: err });
  }
  return new PalabreError('download_failed', `download from ${host(url)} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** A complete attempt carries the SHA-256 of the whole part when it hashed it on the way. */
type Attempt = { complete: true; total: number; sha256?: string } | { complete: false; progressed: boolean; error: PalabreError };

/** One request: continues the part file when it can, restarts it when the server ignores the Range. */
async function attempt(opts: DownloadOptions, part: string, state: { rangeRequests: number }): Promise<Attempt> {
  const have = await fileSize(part);
  const hash = createHash('sha256');
  const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
  if (have > 0) state.rangeRequests++;
  let response: Response;
  try {
    response = await get(opts.url, headers, opts, opts.maxRedirects ?? 10);
  } catch (err) {
    return { complete: false, progressed: false, error: networkError(err, opts.url) };
  }
  const { res, url } = response;
  const status = res.statusCode ?? 0;
  let offset = 0;
  let total: number | undefined;
  const length = Number(res.headers['content-length']);
  if (status === 416 && have > 0) {
    res.resume();
    // Nothing left to send: complete if the server's size is what we have, otherwise start over.
    const size = Number(/\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1]);
    if (size === have) return { complete: true, total: have };
    await truncate(part, 0);
    return { complete: false, progressed: true, error: new PalabreError('download_failed', `${host(url)} refused to resume; restarting`) };
  }
  if (status === 206 && have > 0) {
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    if (!m || Number(m[1]) !== have) {
      res.resume();
      await truncate(part, 0);
      return { complete: false, progressed: true, error: new PalabreError('download_failed', `${host(url)} resumed at the wrong offset; restarting`) };
    }
    offset = have;
    total = m[3] === '*' ? undefined : Number(m[3]);
    await hashFile(part, hash);
  } else if (status === 200) {
    // The server ignored the Range (or there was none): the body is the whole file, so the part starts over.
    if (have > 0) await truncate(part, 0);
    total = Number.isFinite(length) ? length : undefined;
  } else {
    res.resume();
    const what = status >= 400 ? `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}` : `unexpected HTTP status ${status}`;
    return { complete: false, progressed: false, error: new PalabreError('download_failed', `${what} from ${url}`, { details: { status, url } }) };
  }

  const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  const started = performance.now();
  let received = 0;
  let lastReport = 0;
  const report = (force: boolean): void => {
    const now = performance.now();
    if (!opts.onProgress || (!force && now - lastReport < 100)) return;
    lastReport = now;
    opts.onProgress({ bytes: offset + received, total, rate: received / Math.max((now - started) / 1000, 1e-3) });
  };
  const error = await new Promise<PalabreError | undefined>((resolve) => {
    let timer = setTimeout(() => res.destroy(stall(url, opts.timeoutMs)), opts.timeoutMs);
    const onAbort = (): void => {
      res.destroy(new PalabreError('aborted', `download of ${opts.url} was cancelled`));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      out.end(() => resolve(err === undefined ? undefined : networkError(err, url)));
    };
    res.on('data', (chunk: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(() => res.destroy(stall(url, opts.timeoutMs)), opts.timeoutMs);
      received += chunk.length;
      hash.update(chunk);
      if (!out.write(chunk)) {
        res.pause();
        out.once('drain', () => res.resume());
      }
      report(false);
    });
    res.on('end', () => finish(res.complete ? undefined : new Error(`connection closed after ${offset + received} bytes`)));
    res.on('error', (err) => finish(err));
    res.on('close', () => finish(res.complete ? undefined : new Error(`connection closed after ${offset + received} bytes`)));
  });
  report(true);
  if (error) return { complete: false, progressed: received > 0, error };
  const size = offset + received;
  if (total !== undefined && size !== total) {
    return { complete: false, progressed: received > 0, error: new PalabreError('download_failed', `${host(url)} sent ${size} of ${total} bytes`) };
  }
  return { complete: true, total: size, sha256: hash.digest('hex') };
}

export async function download(opts: DownloadOptions): Promise<DownloadResult> {
  const part = `${opts.dest}.part`;
  await mkdir(dirname(opts.dest), { recursive: true });
  const resumedFromDisk = (await fileSize(part)) > 0;
  const state = { rangeRequests: 0 };
  let retriesLeft = opts.retries ?? 3;
  let cut = false;
  for (;;) {
    if (opts.signal?.aborted) throw new PalabreError('aborted', `download of ${opts.url} was cancelled`, { cause: opts.signal.reason });
    const result = await attempt(opts, part, state);
    if (result.complete) {
      const sha256 = result.sha256 ?? (await sha256File(part));
      if (opts.sha256 && sha256 !== opts.sha256.toLowerCase()) {
        await rm(part, { force: true });
        throw new PalabreError('checksum_mismatch', `download from ${host(opts.url)} has SHA-256 ${sha256} but ${opts.sha256} was expected; the file was deleted, run the command again`, {
          details: { expected: opts.sha256, got: sha256, url: opts.url },
        });
      }
      await rename(part, opts.dest);
      return { bytes: result.total, sha256, resumed: resumedFromDisk || cut, rangeRequests: state.rangeRequests };
    }
    if (result.error.code === 'aborted' || !result.progressed || retriesLeft <= 0) throw result.error;
    retriesLeft--;
    cut = true;
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFile(path, hash);
  return hash.digest('hex');
}
