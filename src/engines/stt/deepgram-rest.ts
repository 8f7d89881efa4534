/**
 * One HTTP POST with the two limits a remote engine needs: a connect timeout
 * (the TCP/TLS connection must be up quickly, or the service is unreachable)
 * and an overall timeout (the answer, transcription included, must be back in
 * time), plus cancellation. node:http rather than fetch, because fetch cannot
 * tell the connection phase from the wait for the answer.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PalabreError } from '../../errors.js';
import { deepgramError } from './deepgram-errors.js';

export interface PostOptions {
  headers: Record<string, string>;
  connectTimeoutMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Largest answer read; more is a failure (a transcript is a few kB). */
  maxResponseBytes?: number;
}

export interface PostResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export function post(url: URL, body: Uint8Array, options: PostOptions): Promise<PostResponse> {
  const maxBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;
  return new Promise<PostResponse>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new PalabreError('aborted', 'deepgram: the transcription was cancelled', { cause: options.signal.reason }));
      return;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: 'POST', headers: { ...options.headers, 'content-length': String(body.length) } });
    let settled = false;
    const finish = (err: PalabreError | undefined, value?: PostResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(overallTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(value as PostResponse);
    };
    const onAbort = (): void => finish(new PalabreError('aborted', 'deepgram: the transcription was cancelled', { cause: options.signal?.reason }));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const connectTimer = setTimeout(
      () => finish(deepgramError('engine_failed', `no connection to ${url.host} within ${options.connectTimeoutMs} ms`, true, { timeout: true })),
      options.connectTimeoutMs,
    );
    const overallTimer = setTimeout(
      () => finish(deepgramError('engine_failed', `no complete answer within ${options.timeoutMs} ms`, true, { timeout: true })),
      options.timeoutMs,
    );
    req.on('socket', (socket) => {
      // A reused keep-alive socket is already connected.
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err) => finish(deepgramError('engine_failed', `the request to ${url.host} failed: ${err.message}`, true, {}, err)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) finish(deepgramError('engine_failed', `the answer is larger than ${maxBytes} bytes`, false));
        else chunks.push(c);
      });
      res.on('error', (err) => finish(deepgramError('engine_failed', `the answer was cut off: ${err.message}`, true, { status: res.statusCode }, err)));
      res.on('close', () => {
        if (!res.complete) finish(deepgramError('engine_failed', 'the answer was cut off before its end', true, { status: res.statusCode }));
      });
      res.on('end', () => {
        if (!res.complete) {
          finish(deepgramError('engine_failed', 'the answer was cut off before its end', true, { status: res.statusCode }));
          return;
        }
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}
