/**
 * One ElevenLabs stream-input session (`/v1/text-to-speech/{voice}/stream-input`):
 * text goes in as it is written, audio comes back as it is made.
 *
 * Client messages: an opening `{"text":" ", voice_settings, generation_config}`,
 * then each piece as `{"text":"… ", "flush"?: true}` (text ends with a space; flush
 * makes the server speak what it holds now instead of waiting for its chunk
 * schedule), then `{"text":""}` to end. Server messages: `{"audio": base64,
 * "alignment"?, "normalizedAlignment"?}` and finally `{"isFinal": true}`, after
 * which the server closes. The key goes in the `xi-api-key` upgrade header.
 *
 * Clocks: the connection within `connectTimeoutMs`; the first audio within
 * `firstByteTimeoutMs` of the first piece sent; everything within `timeoutMs`.
 * There is no stall clock after the first audio: a gap may be the text source
 * (an LLM) thinking, not the server. An abort or a consumer that stops reading
 * terminates the socket and stops reading the pieces.
 */
import WebSocket from 'ws';
import { PalabreError } from '../../errors.js';
import { parseWsAlignment, type CharTimings } from './elevenlabs-alignment.js';
import { failure, httpStatusError, malformed, wsCloseError, type FailureContext } from './elevenlabs-errors.js';

export interface StreamInputOptions {
  url: URL;
  headers: Record<string, string>;
  /** The opening message (without its text, which is always " "). */
  init: Record<string, unknown>;
  /** Text pieces, already normalised and non-empty. */
  pieces: AsyncIterable<string>;
  flushEachPiece: boolean;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  ctx: FailureContext;
}

export interface StreamInputAudio {
  audio: Buffer;
  /** Times relative to the start of this message's audio. */
  alignment?: CharTimings;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/u;

export function decodeBase64Audio(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** A single reader's queue of messages, ended normally or with an error. */
class Inbox<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private error: PalabreError | undefined;
  private ended = false;

  get closed(): boolean {
    return this.ended || this.error !== undefined;
  }
  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake?.();
  }
  fail(err: PalabreError): void {
    if (this.closed) return;
    this.error = err;
    this.wake?.();
  }
  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.wake?.();
  }
  async next(): Promise<T | undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

export async function* streamInput(o: StreamInputOptions): AsyncGenerator<StreamInputAudio, void, undefined> {
  const { ctx } = o;
  if (o.signal?.aborted) throw new PalabreError('aborted', `${ctx.what} was cancelled`, { cause: o.signal.reason });
  const inbox = new Inbox<StreamInputAudio>();
  const timers: NodeJS.Timeout[] = [];
  let firstByteTimer: NodeJS.Timeout | undefined;
  let opened = false;
  let final = false;
  let sending: AsyncIterator<string> | undefined;
  const ws = new WebSocket(o.url, { headers: o.headers, handshakeTimeout: o.connectTimeoutMs, perMessageDeflate: false, maxPayload: 32 * 1024 * 1024 });

  const fail = (err: PalabreError): void => {
    inbox.fail(err);
    ws.terminate();
  };
  const onAbort = (): void => fail(new PalabreError('aborted', `${ctx.what} was cancelled`, { cause: o.signal?.reason }));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  timers.push(setTimeout(() => fail(failure('engine_unavailable', `${ctx.what}: not finished within ${o.timeoutMs} ms`, ctx, true, { timeout: 'overall' })), o.timeoutMs));
  timers.push(
    setTimeout(() => {
      if (!opened) fail(failure('engine_unavailable', `${ctx.what}: could not connect to ${o.url.host} within ${o.connectTimeoutMs} ms`, ctx, true, { timeout: 'connect' }));
    }, o.connectTimeoutMs),
  );

  const send = (message: Record<string, unknown>): Promise<void> =>
    new Promise((resolve, reject) => ws.send(JSON.stringify(message), (err) => (err ? reject(err) : resolve())));

  async function pump(): Promise<void> {
    sending = o.pieces[Symbol.asyncIterator]();
    for (;;) {
      let r: IteratorResult<string>;
      try {
        r = await sending.next();
      } catch (err) {
        if (err instanceof PalabreError) throw err;
        throw failure('engine_failed', `${ctx.what}: the text to speak failed: ${reason(err)}`, ctx, false, {}, err);
      }
      if (r.done || inbox.closed) break;
      await send(o.flushEachPiece ? { text: `${r.value} `, flush: true } : { text: `${r.value} ` });
      firstByteTimer ??= setTimeout(
        () => fail(failure('engine_unavailable', `${ctx.what}: no audio within ${o.firstByteTimeoutMs} ms of the first text`, ctx, true, { timeout: 'first-byte' })),
        o.firstByteTimeoutMs,
      );
    }
    if (!inbox.closed) await send({ text: '' });
  }

  ws.on('unexpected-response', (_req, res) => {
    const parts: Buffer[] = [];
    res.on('data', (c: Buffer) => parts.push(c));
    res.on('end', () => fail(httpStatusError(res.statusCode ?? 0, Buffer.concat(parts).toString('utf8'), ctx)));
    res.on('error', () => fail(httpStatusError(res.statusCode ?? 0, '', ctx)));
  });
  ws.on('open', () => {
    opened = true;
    void send({ text: ' ', ...o.init })
      .then(pump)
      .catch((err: unknown) => {
        // A send refused because the server is closing: its close code and reason say why.
        if (inbox.closed || ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
        if (err instanceof PalabreError) fail(err);
        else fail(failure('engine_failed', `${ctx.what}: could not send the text: ${reason(err)}`, ctx, true, {}, err));
      });
  });
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    let msg: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      msg = parsed as Record<string, unknown>;
    } catch {
      fail(malformed('a message that is not a JSON object', ctx, isBinary ? `<${(data as Buffer).length} binary bytes>` : text));
      return;
    }
    if (typeof msg.audio === 'string' && msg.audio !== '') {
      const audio = decodeBase64Audio(msg.audio);
      if (!audio) return fail(malformed('audio that is not base64', ctx, msg.audio));
      let alignment: CharTimings | undefined;
      try {
        alignment = parseWsAlignment(msg.alignment ?? msg.normalizedAlignment);
      } catch (err) {
        return fail(malformed((err as Error).message, ctx, text));
      }
      clearTimeout(firstByteTimer);
      ctx.audioSent = true;
      inbox.push({ audio, alignment });
    } else if (typeof msg.error === 'string' || (typeof msg.message === 'string' && msg.audio === undefined && msg.isFinal === undefined)) {
      const said = [msg.error, msg.message].filter((x) => typeof x === 'string').join(': ');
      fail(failure('engine_failed', `${ctx.what}: the server reported an error: ${said}`, ctx, false, { reason: msg.error }));
    }
    if (msg.isFinal === true) {
      final = true;
      inbox.end();
    }
  });
  ws.on('close', (code, why) => {
    if (final) inbox.end();
    else fail(wsCloseError(code, why.toString(), ctx));
  });
  ws.on('error', (err) => {
    if (!opened) fail(failure('engine_unavailable', `${ctx.what}: could not reach ${o.url.host}: ${reason(err)}`, ctx, true, {}, err));
    else fail(failure('engine_failed', `${ctx.what}: the connection failed mid-stream: ${reason(err)}`, ctx, true, {}, err));
  });

  try {
    for (;;) {
      const item = await inbox.next();
      if (item === undefined) break;
      // Audio queued before an abort is not handed on.
      if (o.signal?.aborted) throw new PalabreError('aborted', `${ctx.what} was cancelled`, { cause: o.signal.reason });
      yield item;
    }
  } finally {
    for (const t of timers) clearTimeout(t);
    clearTimeout(firstByteTimer);
    o.signal?.removeEventListener('abort', onAbort);
    if (ws.readyState !== WebSocket.CLOSED) {
      if (final) ws.close();
      else ws.terminate();
    }
    // Stop the text source too (an LLM stream would otherwise go on for nobody).
    void sending?.return?.(undefined)?.catch(() => undefined);
  }
}
