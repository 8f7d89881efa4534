/**
 * Asterisk REST Interface client: REST calls with HTTP Basic auth (fetch),
 * and the application's events WebSocket (`/ari/events?app=…`), kept open
 * for as long as the client runs: when it drops or cannot be opened it is
 * reopened after a wait that doubles from reconnectMinMs to reconnectMaxMs
 * (with some jitter, so many palabre processes do not stampede a restarted
 * Asterisk). Asterisk ejects calls entering Stasis while no WebSocket is
 * connected for the app, so reconnecting is what keeps the service up.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { z } from 'zod';
import { PalabreError, type ErrorCode } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { parseAriMessage, type AriEvent } from './events.js';

export interface AriClientOptions {
  /** Asterisk's HTTP server, e.g. http://127.0.0.1:8088 (with http.conf's prefix if any). */
  url: string;
  username: string;
  password: string;
  app: string;
  requestTimeoutMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** A WebSocket that answers no ping for this long is dropped and reopened. Default 20 s. */
  pingIntervalMs?: number;
  logger?: Logger;
  fetch?: typeof fetch;
}

export interface AriClientCounters {
  /** Events WebSocket opened (first time and after drops). */
  connects: number;
  /** Reconnection attempts after a drop or a failed open. */
  reconnects: number;
  disconnects: number;
  /** Events received, by type (`other` types under their own name). */
  events: Record<string, number>;
  /** Messages that were not a readable event. */
  badMessages: number;
  /** REST calls that failed, by HTTP status ("0" when Asterisk could not be reached). */
  restErrors: Record<string, number>;
}

export type AriQuery = Record<string, string | number | boolean | undefined>;

/** A REST call Asterisk refused or that never got an answer; `status` 0 means no answer. */
export class AriError extends PalabreError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number,
    readonly ariMessage: string,
  ) {
    super(codeFor(statusCode), `ARI ${method} ${path} ${statusCode === 0 ? 'got no answer' : `answered ${statusCode}`}: ${ariMessage}`);
  }
}

function codeFor(status: number): ErrorCode {
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status >= 400 && status < 500) return 'bad_request';
  return 'engine_failed';
}

type Listener = { event: (e: AriEvent) => void; connected: (info: { reconnect: boolean }) => void; disconnected: (info: { reason: string }) => void };

export class AriClient {
  readonly counters: AriClientCounters = { connects: 0, reconnects: 0, disconnects: 0, events: {}, badMessages: 0, restErrors: {} };
  readonly app: string;
  private readonly base: string;
  private readonly auth: string;
  private readonly options: AriClientOptions;
  private readonly logger: Logger;
  private readonly fetchImpl: typeof fetch;
  private readonly emitter = new EventEmitter();
  private ws: WebSocket | undefined;
  private running = false;
  private everConnected = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private openWaiters: Array<() => void> = [];

  constructor(options: AriClientOptions) {
    this.options = options;
    this.app = options.app;
    // People paste the URL with /ari at the end; the client adds it itself.
    this.base = options.url.replace(/\/+$/, '').replace(/\/ari$/, '') + '/ari';
    this.auth = 'Basic ' + Buffer.from(`${options.username}:${options.password}`).toString('base64');
    this.logger = options.logger ?? silentLogger;
    this.fetchImpl = options.fetch ?? fetch;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  on<E extends keyof Listener>(event: E, listener: Listener[E]): void {
    this.emitter.on(event, listener);
  }

  off<E extends keyof Listener>(event: E, listener: Listener[E]): void {
    this.emitter.off(event, listener);
  }

  // ---- REST ----

  /** One REST call; resolves with the parsed JSON (checked against `schema` when given), or undefined for 204. */
  async request<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, options: { query?: AriQuery; body?: unknown; schema?: z.ZodType<T> } = {}): Promise<T | undefined> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const shown = path.split('?')[0];
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers: { authorization: this.auth, accept: 'application/json', ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
      });
    } catch (err) {
      this.countRestError(0);
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.options.requestTimeoutMs ?? 5_000} ms` : `${(err as Error).message}${(err as { cause?: Error }).cause ? ` (${(err as { cause?: Error }).cause?.message})` : ''}`;
      throw new AriError(method, shown, 0, `${why} from ${this.base}`);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      this.countRestError(res.status);
      let message = text.slice(0, 200) || res.statusText;
      try {
        const json = JSON.parse(text) as { message?: unknown; error?: unknown };
        if (typeof json.message === 'string') message = json.message;
        else if (typeof json.error === 'string') message = json.error;
      } catch {
        // Not JSON: keep the text.
      }
      if (res.status === 401) message += ` (check ari.username "${this.options.username}" and ari.password against ari.conf)`;
      throw new AriError(method, shown, res.status, message);
    }
    if (res.status === 204 || text === '') return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AriError(method, shown, res.status, `answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
    if (!options.schema) return json as T;
    const parsed = options.schema.safeParse(json);
    if (!parsed.success) throw new AriError(method, shown, res.status, `unexpected answer: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }

  private countRestError(status: number): void {
    const key = String(status);
    this.counters.restErrors[key] = (this.counters.restErrors[key] ?? 0) + 1;
  }

  // ---- events ----

  /** Opens the events WebSocket and keeps it open until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.open();
  }

  /** Resolves once the events WebSocket is open (now, if it is). */
  whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => this.openWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000, 'palabre stopping');
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1_000).unref();
    });
  }

  private eventsUrl(): string {
    const url = new URL(this.base.replace(/^http/, 'ws') + '/events');
    url.searchParams.set('app', this.app);
    url.searchParams.set('subscribeAll', 'false');
    return url.toString();
  }

  private open(): void {
    if (!this.running) return;
    const ws = new WebSocket(this.eventsUrl(), { headers: { authorization: this.auth }, handshakeTimeout: this.options.requestTimeoutMs ?? 5_000 });
    this.ws = ws;
    let failure = '';
    let opened = false;
    ws.on('open', () => {
      opened = true;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.counters.connects++;
      this.logger.info({ stasisApp: this.app, url: this.eventsUrl(), reconnect }, 'ARI events WebSocket connected');
      this.startPing(ws);
      for (const w of this.openWaiters.splice(0)) w();
      this.emitter.emit('connected', { reconnect });
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.counters.badMessages++;
        return;
      }
      this.onMessage(data.toString());
    });
    ws.on('pong', () => (this.awaitingPong = false));
    ws.on('error', (err) => (failure = err.message));
    ws.on('close', (code) => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws) return;
      this.ws = undefined;
      const reason = failure || `closed with code ${code}`;
      if (opened) {
        this.counters.disconnects++;
        this.emitter.emit('disconnected', { reason });
      }
      if (!this.running) return;
      this.scheduleReconnect(reason);
    });
  }

  private scheduleReconnect(reason: string): void {
    const min = this.options.reconnectMinMs ?? 500;
    const max = Math.max(min, this.options.reconnectMaxMs ?? 30_000);
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt = Math.min(this.attempt + 1, 30);
    this.counters.reconnects++;
    const unauthorized = /\b401\b/.test(reason);
    const log = { stasisApp: this.app, reason, retryInMs: Math.round(delay) };
    if (unauthorized) this.logger.error(log, `ARI refused the events WebSocket (401): check ari.username "${this.options.username}" and ari.password against ari.conf`);
    else this.logger.warn(log, 'ARI events WebSocket is down; reconnecting (calls entering Stasis meanwhile are refused by Asterisk)');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private startPing(ws: WebSocket): void {
    const every = this.options.pingIntervalMs ?? 20_000;
    this.awaitingPong = false;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (ws.readyState !== WebSocket.OPEN) return;
      if (this.awaitingPong) {
        this.logger.warn({ stasisApp: this.app }, 'ARI events WebSocket answered no ping; reopening it');
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
    }, every);
    this.pingTimer.unref();
  }

  private onMessage(text: string): void {
    const parsed = parseAriMessage(text);
    if (!parsed.ok) {
      this.counters.badMessages++;
      this.logger.warn({ problem: parsed.problem }, 'unreadable ARI event ignored');
      return;
    }
    const type = parsed.event.type === 'other' ? parsed.event.name : parsed.event.type;
    this.counters.events[type] = (this.counters.events[type] ?? 0) + 1;
    try {
      this.emitter.emit('event', parsed.event);
    } catch (err) {
      this.logger.error({ err, type }, 'handling an ARI event failed');
    }
  }
}
