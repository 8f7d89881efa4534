/**
 * Realtime failures as PalabreErrors, named after the engine and marked with
 * `details.retryable` as the other engines do: true when the same request may
 * succeed a moment later (a timeout, a dropped socket, 429, 5xx, a server
 * error event), false when only a configuration change helps (401/403, an
 * invalid request).
 */
import { PalabreError, type ErrorCode } from '../../errors.js';
import type { RealtimeErrorBody } from './protocol.js';

export const ENGINE = 'openai-realtime';

export function realtimeError(code: ErrorCode, message: string, retryable: boolean, details: Record<string, unknown> = {}, cause?: unknown): PalabreError {
  return new PalabreError(code, `openai realtime: ${message}`, { cause, details: { engine: ENGINE, retryable, ...details } });
}

/** The HTTP answer that refused the WebSocket upgrade. */
export function handshakeError(status: number, body: string): PalabreError {
  let said = body.trim().slice(0, 200);
  try {
    const o = JSON.parse(body) as { error?: { message?: string } };
    if (o.error?.message) said = o.error.message;
  } catch {
    // not JSON: the text as is
  }
  const why = said ? ` (${said})` : '';
  if (status === 401 || status === 403) return realtimeError('engine_unavailable', `the connection was refused with ${status}${why}; check engines.realtime.apiKey`, false, { status });
  if (status === 429) return realtimeError('engine_unavailable', `the connection was refused with 429, too many requests${why}`, true, { status });
  if (status >= 500) return realtimeError('engine_failed', `the connection failed with ${status}${why}`, true, { status });
  return realtimeError('engine_failed', `the connection was refused with ${status}${why}`, false, { status });
}

/** An `error` event of the server. */
export function serverError(body: RealtimeErrorBody): PalabreError {
  const code = body.code ? `${body.type}/${body.code}` : body.type;
  const retryable = body.type === 'server_error' || body.code === 'rate_limit_exceeded';
  return realtimeError(body.type === 'invalid_request_error' ? 'bad_request' : 'engine_failed', `${code}: ${body.message}`, retryable, { type: body.type, code: body.code ?? undefined, param: body.param ?? undefined });
}
