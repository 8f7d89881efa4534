/**
 * The one HTTP layer every OpenAI-compatible call goes through (chat, speech,
 * transcription, embeddings, models): base URL with its version prefix, a
 * Bearer key, and three clocks per request — the whole exchange
 * (`timeoutMs`), the wait for the answer to start and any silence inside a
 * streamed answer (`connectTimeoutMs`), and the caller's signal.
 *
 * Every failure is a PalabreError whose message names the server and the
 * cause (the server's own words for an HTTP error) and whose details say
 * whether trying again, or trying the next engine of a fallback chain, makes
 * sense (`retryable`, `retryAfterMs`). The API key never appears in one.
 */
import { PalabreError } from '../../errors.js';

export interface OpenAiServerOptions {
  /** Base URL including the version prefix, e.g. http://localhost:11434/v1 or https://api.openai.com/v1. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>` when set. */
  apiKey?: string;
  /** Longest a whole exchange may take. */
  timeoutMs: number;
  /** Longest wait for the answer to start, and for each next piece of a streamed answer; default min(10 s, timeoutMs). */
  connectTimeoutMs?: number;
  /** Injected fetch (tests, proxies); default: the global fetch. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  /** Subject of error messages, e.g. "embeddings server https://…/v1/embeddings"; default the URL. */
  what?: string;
  method?: 'GET' | 'POST';
  /** Sent as a JSON body. */
  json?: unknown;
  /** Sent as multipart/form-data. */
  form?: FormData;
  accept?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

/** An answer whose headers have arrived with a 2xx status; its body is read through the same clocks. */
export interface OpenAiReply {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  /** Where the consumer is, for error messages about a broken stream (e.g. "after 3 piece(s) of text"). */
  progress: string;
  /** Body chunks as they arrive. Stopping early (break) releases the connection. */
  chunks(): AsyncGenerator<Uint8Array>;
  /** The whole body as text. */
  text(): Promise<string>;
  /** Releases the connection and the clocks; safe to call more than once. */
  close(): void;
}

export interface OpenAiClient {
  readonly baseUrl: string;
  /** The full URL of an endpoint path such as "chat/completions". */
  url(path: string): string;
  /** Sends the request and waits for the headers; a non-2xx answer becomes an error carrying the server's message. */
  open(path: string, options?: RequestOptions): Promise<OpenAiReply>;
  /** The whole answer parsed as JSON. */
  json(path: string, options?: RequestOptions): Promise<unknown>;
  /** The whole answer as text. */
  text(path: string, options?: RequestOptions): Promise<string>;
}

export function endpoint(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/**
 * The server's own words from an error body: OpenAI's `{error:{message}}`,
 * `{error:"…"}`, Mistral's `{message}`, FastAPI's `{detail:"…"}` (speaches) or
 * `{detail:{message}}` (Kokoro-FastAPI), else the start of the text.
 */
export function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.message === 'string') return body.message;
    if (typeof body.detail === 'string') return body.detail;
    const detail = body.detail as { message?: unknown } | Array<{ msg?: unknown; loc?: unknown[] }> | undefined;
    if (Array.isArray(detail)) return detail.map((d) => `${Array.isArray(d.loc) ? d.loc.join('.') + ': ' : ''}${String(d.msg)}`).join('; ');
    if (typeof detail?.message === 'string') return detail.message;
  } catch {
    // Not JSON: the text itself.
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** `retry-after-ms` (OpenAI), else `retry-after` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null) return undefined;
  const seconds = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Statuses where the same request may succeed later or elsewhere: rate limits and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Whether a failed request may be tried again or handed to the next engine of a fallback chain. */
export function isRetryable(err: unknown): boolean {
  return err instanceof PalabreError && err.details?.retryable === true;
}

type Failure = 'aborted' | 'timeout' | 'idle' | null;

export function createOpenAiClient(server: OpenAiServerOptions): OpenAiClient {
  const baseUrl = server.baseUrl.replace(/\/+$/, '');
  const key = server.apiKey ?? '';
  // A server echoing the key (some do, in 401 bodies) must not carry it into logs.
  const scrub = (text: string): string => (key.length >= 6 ? text.split(key).join('***') : text);

  async function open(path: string, options: RequestOptions = {}): Promise<OpenAiReply> {
    const url = endpoint(baseUrl, path);
    const what = options.what ?? url;
    const timeoutMs = options.timeoutMs ?? server.timeoutMs;
    const connectTimeoutMs = options.connectTimeoutMs ?? server.connectTimeoutMs ?? Math.min(10_000, timeoutMs);
    const outer = options.signal;
    if (outer?.aborted) throw new PalabreError('aborted', `${what}: request cancelled`, { cause: outer.reason, details: { url, retryable: false } });

    const controller = new AbortController();
    let failure: Failure = null;
    let answered = false;
    let closed = false;
    const stop = (why: Exclude<Failure, null>) => {
      failure ??= why;
      controller.abort();
    };
    const onAbort = () => stop('aborted');
    outer?.addEventListener('abort', onAbort, { once: true });
    const overall = setTimeout(() => stop('timeout'), timeoutMs);
    // The idle clock only says something the overall one does not when it is shorter.
    const idleMs = connectTimeoutMs < timeoutMs ? connectTimeoutMs : undefined;
    let idle = idleMs === undefined ? undefined : setTimeout(() => stop('idle'), idleMs);
    const touch = () => {
      if (idleMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => stop('idle'), idleMs);
    };
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(overall);
      clearTimeout(idle);
      outer?.removeEventListener('abort', onAbort);
      controller.abort();
    };
    // Set by the consumer of a streamed answer through `reply.progress`.
    const where = { progress: '' };
    const failed = (err: unknown): PalabreError => {
      if (err instanceof PalabreError) return err;
      const stage = answered ? where.progress || 'mid-stream' : 'before answering';
      switch (failure) {
        case 'aborted':
          return new PalabreError('aborted', `${what}: request cancelled`, { cause: outer?.reason, details: { url, retryable: false } });
        case 'timeout':
          return new PalabreError('engine_unavailable', answered ? `${what} did not finish its reply within ${timeoutMs} ms` : `${what} did not answer within ${timeoutMs} ms`, {
            cause: err,
            details: { url, timeoutMs, retryable: true },
          });
        case 'idle':
          return new PalabreError('engine_unavailable', `${what} sent nothing for ${connectTimeoutMs} ms ${stage}`, { cause: err, details: { url, connectTimeoutMs, retryable: true } });
        default: {
          const reason = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
          if (!answered) return new PalabreError('engine_unavailable', `${what} could not be reached: ${reason}`, { cause: err, details: { url, retryable: true } });
          return new PalabreError('engine_failed', `${what} broke off its reply ${stage}: ${reason}`, { cause: err, details: { url, retryable: true } });
        }
      }
    };

    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    if (key !== '') headers.authorization = `Bearer ${key}`;
    let body: string | FormData | undefined;
    if (options.form) body = options.form;
    else if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }

    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (!response.body) {
        close();
        return;
      }
      const reader = response.body.getReader();
      let done = false;
      try {
        for (;;) {
          let next: Awaited<ReturnType<typeof reader.read>>;
          try {
            next = await reader.read();
          } catch (err) {
            throw failed(err);
          }
          if (next.done) {
            done = true;
            return;
          }
          touch();
          yield next.value;
        }
      } finally {
        // A consumer that stops early (barge-in) must not leave the connection streaming.
        if (!done) await reader.cancel().catch(() => undefined);
        close();
      }
    }

    async function text(): Promise<string> {
      const decoder = new TextDecoder();
      let out = '';
      for await (const chunk of chunks()) out += decoder.decode(chunk, { stream: true });
      return out + decoder.decode();
    }

    let response: Response;
    try {
      response = await (server.fetch ?? fetch)(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal: controller.signal });
    } catch (err) {
      const error = failed(err);
      close();
      throw error;
    }
    answered = true;
    touch();
    const reply: OpenAiReply = {
      url,
      status: response.status,
      headers: response.headers,
      get progress() {
        return where.progress;
      },
      set progress(value: string) {
        where.progress = value;
      },
      chunks,
      text,
      close,
    };
    if (!response.ok) {
      let bodyText: string;
      try {
        bodyText = await text();
      } catch (err) {
        close();
        throw err instanceof PalabreError ? err : failed(err);
      }
      const message = scrub(serverMessage(bodyText));
      const status = response.status;
      const retryable = isRetryableStatus(status);
      const unavailable = status === 429 || status === 502 || status === 503 || status === 504;
      const hint = status === 401 || status === 403 ? ' (check the API key)' : '';
      const details: Record<string, unknown> = { url, status, retryable };
      const after = retryAfterMs(response.headers);
      if (after !== undefined) details.retryAfterMs = after;
      throw new PalabreError(unavailable ? 'engine_unavailable' : 'engine_failed', `${what} answered HTTP ${status}${message ? `: ${message}` : ''}${hint}`, { details });
    }
    return reply;
  }

  async function text(path: string, options: RequestOptions = {}): Promise<string> {
    const reply = await open(path, options);
    try {
      return await reply.text();
    } finally {
      reply.close();
    }
  }

  return {
    baseUrl,
    url: (path) => endpoint(baseUrl, path),
    open,
    text,
    async json(path, options = {}) {
      const body = await text(path, options);
      try {
        return JSON.parse(body) as unknown;
      } catch (err) {
        throw new PalabreError('engine_failed', `${options.what ?? endpoint(baseUrl, path)} answered with invalid JSON: ${body.slice(0, 120)}`, {
          cause: err,
          details: { url: endpoint(baseUrl, path), retryable: false },
        });
      }
    },
  };
}
