/**
 * One JSON POST to an OpenAI-compatible server, with a timeout and the
 * caller's signal. Every failure becomes a PalabreError naming the server and
 * what went wrong (status and the start of the body, timeout, refused
 * connection, invalid JSON), so a log line is enough to fix the setup.
 */
import { PalabreError } from '../../errors.js';

export interface ServerOptions {
  /** Base URL including the version prefix, e.g. http://localhost:11434/v1 or https://api.openai.com/v1. */
  baseUrl: string;
  /** Sent as a Bearer token when set. */
  apiKey?: string;
  model: string;
  /** Per request. */
  timeoutMs: number;
  /** Injected fetch (tests, proxies); default: the global fetch. */
  fetch?: typeof fetch;
}

export function endpoint(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path}`;
}

export async function postJson(
  server: ServerOptions,
  path: string,
  body: unknown,
  options: { what: string; signal?: AbortSignal; timeoutMs?: number },
): Promise<unknown> {
  const url = endpoint(server.baseUrl, path);
  const timeoutMs = options.timeoutMs ?? server.timeoutMs;
  const outer = options.signal;
  if (outer?.aborted) throw new PalabreError('aborted', `${options.what} request to ${url} was cancelled`, { cause: outer.reason });
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  const signal = outer ? AbortSignal.any([timeout.signal, outer]) : timeout.signal;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (server.apiKey) headers.authorization = `Bearer ${server.apiKey}`;
  const failed = (err: unknown): PalabreError => {
    if (outer?.aborted) return new PalabreError('aborted', `${options.what} request to ${url} was cancelled`, { cause: outer.reason });
    if (timeout.signal.aborted) {
      return new PalabreError('engine_unavailable', `${options.what} server ${url} did not answer within ${timeoutMs} ms`, { cause: err, details: { url, timeoutMs } });
    }
    const reason = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    return new PalabreError('engine_unavailable', `${options.what} server ${url} could not be reached: ${reason}`, { cause: err, details: { url } });
  };
  try {
    let response: Response;
    try {
      response = await (server.fetch ?? fetch)(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
    } catch (err) {
      throw failed(err);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw failed(err);
    }
    if (!response.ok) {
      const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 300);
      const code = response.status === 429 || response.status === 503 ? 'engine_unavailable' : 'engine_failed';
      throw new PalabreError(code, `${options.what} server ${url} answered HTTP ${response.status}${snippet ? `: ${snippet}` : ''}`, {
        details: { url, status: response.status },
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new PalabreError('engine_failed', `${options.what} server ${url} answered with invalid JSON: ${text.slice(0, 120)}`, { cause: err, details: { url } });
    }
  } finally {
    clearTimeout(timer);
  }
}
