/**
 * One streamed POST to ElevenLabs, body chunks yielded as they arrive. node:http(s)
 * rather than fetch, to tell the three clocks apart: the connection (TCP and TLS)
 * within `connectTimeoutMs`, the first body byte (and then each next one) within
 * `firstByteTimeoutMs`, everything within `timeoutMs`. An abort, a timeout or a
 * consumer that stops reading destroys the request, which closes the connection.
 * A kept-alive socket the server had already closed is retried once on a new one.
 */
import http from 'node:http';
import https from 'node:https';
import { PalabreError } from '../../errors.js';
import { failure, httpStatusError, type FailureContext } from './elevenlabs-errors.js';

export interface PostStreamOptions {
  url: URL;
  headers: Record<string, string>;
  body: string;
  agent?: http.Agent;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  ctx: FailureContext;
}

type Stop = 'aborted' | 'connect' | 'first-byte' | 'stall' | 'overall';

const ERROR_BODY_LIMIT = 64 * 1024;

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code ? `${e.code}${e.message && !e.message.includes(e.code) ? ` (${e.message})` : ''}` : e instanceof Error ? e.message : String(err);
}

async function readText(res: http.IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < ERROR_BODY_LIMIT) parts.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(parts).toString('utf8').slice(0, ERROR_BODY_LIMIT);
}

export async function* postStream(o: PostStreamOptions): AsyncGenerator<Buffer, void, undefined> {
  for (let attempt = 0; ; attempt++) {
    const stale = { value: false };
    try {
      yield* once(o, attempt === 0 ? stale : undefined);
      return;
    } catch (err) {
      if (stale.value && attempt === 0) continue;
      throw err;
    }
  }
}

async function* once(o: PostStreamOptions, stale: { value: boolean } | undefined): AsyncGenerator<Buffer, void, undefined> {
  const { ctx } = o;
  if (o.signal?.aborted) throw new PalabreError('aborted', `${ctx.what} was cancelled`, { cause: o.signal.reason });
  const mod = o.url.protocol === 'https:' ? https : http;
  let stop: Stop | undefined;
  const timers = new Map<Stop, NodeJS.Timeout>();
  const req = mod.request(o.url, { method: 'POST', headers: { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) }, agent: o.agent });
  const halt = (why: Stop): void => {
    stop ??= why;
    req.destroy(new Error(why));
  };
  const arm = (what: Stop, ms: number): void => {
    clearTimeout(timers.get(what));
    timers.set(what, setTimeout(() => halt(what), ms));
  };
  const disarm = (what: Stop): void => {
    clearTimeout(timers.get(what));
    timers.delete(what);
  };
  const onAbort = (): void => halt('aborted');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  arm('overall', o.timeoutMs);
  arm('connect', o.connectTimeoutMs);

  const explain = (err: unknown, stage: 'before' | 'during'): PalabreError => {
    if (err instanceof PalabreError) return err;
    switch (stop) {
      case 'aborted':
        return new PalabreError('aborted', `${ctx.what} was cancelled`, { cause: o.signal?.reason });
      case 'connect':
        return failure('engine_unavailable', `${ctx.what}: could not connect to ${o.url.host} within ${o.connectTimeoutMs} ms`, ctx, true, { timeout: 'connect' }, err);
      case 'first-byte':
        return failure('engine_unavailable', `${ctx.what}: no audio within ${o.firstByteTimeoutMs} ms of connecting`, ctx, true, { timeout: 'first-byte' }, err);
      case 'stall':
        return failure('engine_failed', `${ctx.what}: the audio stream stalled for ${o.firstByteTimeoutMs} ms`, ctx, true, { timeout: 'stall' }, err);
      case 'overall':
        return failure('engine_unavailable', `${ctx.what}: not finished within ${o.timeoutMs} ms`, ctx, true, { timeout: 'overall' }, err);
      default:
        return stage === 'before'
          ? failure('engine_unavailable', `${ctx.what}: could not reach ${o.url.host}: ${reason(err)}`, ctx, true, {}, err)
          : failure('engine_failed', `${ctx.what}: the connection dropped mid-stream: ${reason(err)}`, ctx, true, {}, err);
    }
  };

  let finished = false;
  try {
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (err) => {
        if (stale && req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' && stop === undefined) stale.value = true;
        reject(err);
      });
    });
    req.once('socket', (socket) => {
      const connected = (): void => {
        disarm('connect');
        arm('first-byte', o.firstByteTimeoutMs);
      };
      // A kept-alive socket is connected already; TLS counts as part of connecting.
      if (!socket.connecting && !(socket as { pending?: boolean }).pending) connected();
      else socket.once(o.url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    req.end(o.body);
    let res: http.IncomingMessage;
    try {
      res = await response;
    } catch (err) {
      throw explain(err, 'before');
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      let text = '';
      try {
        text = await readText(res);
      } catch (err) {
        throw explain(err, 'before');
      }
      const retryAfter = res.headers['retry-after'];
      throw httpStatusError(status, text, ctx, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    }
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        disarm('first-byte');
        arm('stall', o.firstByteTimeoutMs);
        if (chunk.length > 0) yield chunk;
      }
    } catch (err) {
      throw explain(err, 'during');
    }
    // A destroy right as the body ended can end the iteration without an error.
    if (stop !== undefined) throw explain(new Error(stop), 'during');
    if (!res.complete) throw explain(new Error('the response ended before its last chunk'), 'during');
    finished = true;
  } finally {
    for (const t of timers.values()) clearTimeout(t);
    o.signal?.removeEventListener('abort', onAbort);
    if (!finished) req.destroy();
  }
}
