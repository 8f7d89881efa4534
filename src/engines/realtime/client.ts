/**
 * One Realtime API connection (wss://…/v1/realtime?model=…, `Authorization:
 * Bearer`): connects within a timeout, configures the session with
 * `session.update` and waits for `session.updated`, then carries audio and
 * control events both ways. The server's events come out as typed 'event's;
 * the end of the connection comes out once as 'closed', with the error when
 * it was not asked for. Nothing here knows about calls.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { encodeSlinLe } from '../../audio/slin.js';
import { PalabreError } from '../../errors.js';
import { handshakeError, realtimeError, serverError } from './errors.js';
import { normalizeEventType, type RealtimeClientEvent, type RealtimeOtherEvent, type RealtimeServerEvent, type RealtimeSessionSettings } from './protocol.js';

export interface RealtimeConnectOptions {
  /** The realtime endpoint without query (wss://api.openai.com/v1/realtime). */
  url: string;
  apiKey: string;
  model: string;
  /** The socket open and the session configured within this long, else a retryable failure. */
  connectTimeoutMs: number;
  session: Omit<RealtimeSessionSettings, 'type'>;
  signal?: AbortSignal;
}

export interface RealtimeClientEvents {
  event: [RealtimeServerEvent | RealtimeOtherEvent];
  /** Once: undefined after close(), else why the connection ended. */
  closed: [PalabreError | undefined];
  /** EventEmitter's own: used to hand over what came before the first listener. */
  newListener: [string | symbol, (...args: unknown[]) => void];
}

/** Largest server event accepted (an audio delta is a few tens of kB). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

export class RealtimeClient extends EventEmitter<RealtimeClientEvents> {
  private closing = false;
  private ended = false;
  /** Events that came before anyone listened (right after the set-up), handed to the first listener. */
  private backlog: Array<RealtimeServerEvent | RealtimeOtherEvent> | undefined = [];
  /** How the connection ended, when it ended before anyone listened for 'closed'. */
  private unheardClose: { err: PalabreError | undefined } | undefined;
  /** Messages sent, for tests and the log. */
  sent = 0;

  private constructor(private readonly ws: WebSocket, readonly model: string) {
    super();
  }

  /** Opens a connection and configures its session; rejects with a PalabreError naming the problem. */
  static connect(options: RealtimeConnectOptions): Promise<RealtimeClient> {
    const url = new URL(options.url);
    url.searchParams.set('model', options.model);
    return new Promise<RealtimeClient>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new PalabreError('aborted', 'opening the realtime connection was cancelled'));
        return;
      }
      const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${options.apiKey}` }, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
      const client = new RealtimeClient(ws, options.model);
      let settled = false;
      const finish = (err?: PalabreError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        ws.off('message', onSetupMessage);
        if (err) {
          ws.removeAllListeners();
          ws.on('error', () => undefined);
          ws.terminate();
          reject(err);
          return;
        }
        client.attach();
        resolve(client);
      };
      const timer = setTimeout(() => finish(realtimeError('engine_failed', `the connection to ${url.host} was not ready within ${options.connectTimeoutMs} ms`, true, { timeout: true })), options.connectTimeoutMs);
      const onAbort = (): void => finish(new PalabreError('aborted', 'opening the realtime connection was cancelled'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      let created = false;
      const onSetupMessage = (data: WebSocket.RawData): void => {
        const event = parse(data);
        if (!event) return finish(realtimeError('engine_failed', 'the server sent a message that is not JSON while the session was set up', false));
        if (event.type === 'error') return finish(serverError((event as Extract<RealtimeServerEvent, { type: 'error' }>).error));
        if (event.type === 'session.created' && !created) {
          created = true;
          client.send({ type: 'session.update', session: { type: 'realtime', ...options.session } });
        } else if (event.type === 'session.updated') {
          finish();
        }
      };
      ws.on('message', onSetupMessage);
      ws.on('unexpected-response', (req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(handshakeError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
        res.on('error', () => finish(handshakeError(res.statusCode ?? 0, '')));
      });
      ws.on('error', (err) => finish(realtimeError('engine_failed', `cannot connect to ${url.host}: ${err.message}`, true, {}, err)));
      ws.on('close', (code, reason) => finish(realtimeError('engine_failed', `the connection closed while the session was set up (${code}${reason.length ? ` ${reason.toString()}` : ''})`, true, { closeCode: code })));
    });
  }

  get open(): boolean {
    return !this.ended && this.ws.readyState === WebSocket.OPEN;
  }

  send(event: RealtimeClientEvent): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.sent++;
    this.ws.send(JSON.stringify(event));
  }

  /** Caller audio, PCM16 at 24 kHz. */
  appendAudio(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.send({ type: 'input_audio_buffer.append', audio: Buffer.from(encodeSlinLe(samples)).toString('base64') });
  }

  truncate(itemId: string, contentIndex: number, audioEndMs: number): void {
    this.send({ type: 'conversation.item.truncate', item_id: itemId, content_index: contentIndex, audio_end_ms: Math.max(0, Math.round(audioEndMs)) });
  }

  cancelResponse(responseId?: string): void {
    this.send(responseId ? { type: 'response.cancel', response_id: responseId } : { type: 'response.cancel' });
  }

  createResponse(instructions?: string): void {
    this.send(instructions ? { type: 'response.create', response: { instructions } } : { type: 'response.create' });
  }

  /** Closes the connection (1000); 'closed' follows with no error. Idempotent. */
  close(): Promise<void> {
    this.closing = true;
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => this.ws.terminate(), 2000);
      this.once('closed', () => {
        clearTimeout(force);
        resolve();
      });
      this.ws.close(1000, 'done');
    });
  }

  private attach(): void {
    this.on('newListener', (name) => {
      if (name === 'event' && this.backlog) {
        const held = this.backlog;
        this.backlog = undefined;
        queueMicrotask(() => {
          for (const e of held) this.emit('event', e);
        });
      } else if (name === 'closed' && this.unheardClose) {
        const { err } = this.unheardClose;
        this.unheardClose = undefined;
        queueMicrotask(() => this.emit('closed', err));
      }
    });
    this.ws.on('message', (data) => {
      const event = parse(data) ?? { type: 'error', event_id: '', error: { type: 'invalid_message', message: 'the server sent a message that is not a JSON event' } };
      if (this.backlog && this.listenerCount('event') === 0) this.backlog.push(event);
      else this.emit('event', event);
    });
    this.ws.on('error', () => undefined);
    this.ws.on('close', (code, reason) => {
      if (this.ended) return;
      this.ended = true;
      const why = `${code}${reason.length ? ` ${reason.toString()}` : ''}`;
      const err = this.closing ? undefined : realtimeError('engine_failed', `the connection dropped mid-session (${why})`, true, { closeCode: code });
      if (this.listenerCount('closed') === 0) this.unheardClose = { err };
      else this.emit('closed', err);
    });
  }
}

function parse(data: WebSocket.RawData): (RealtimeServerEvent | RealtimeOtherEvent) | undefined {
  try {
    const o = JSON.parse(data.toString()) as RealtimeOtherEvent;
    if (!o || typeof o !== 'object' || typeof o.type !== 'string') return undefined;
    o.type = normalizeEventType(o.type);
    return o as RealtimeServerEvent | RealtimeOtherEvent;
  } catch {
    return undefined;
  }
}
