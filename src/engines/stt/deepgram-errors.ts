/**
 * Deepgram failures as PalabreErrors. Every one names the engine in its
 * message and carries `details.engine = 'deepgram'` and `details.retryable`:
 * true when the same request may succeed a moment later (429, 5xx, a timeout,
 * a dropped connection), so a fallback chain knows whether trying again is
 * worth it; false when only a configuration change helps (401/403, 400).
 */
import { PalabreError, type ErrorCode } from '../../errors.js';

export const ENGINE = 'deepgram';

export interface DeepgramErrorDetails {
  status?: number;
  closeCode?: number;
  requestId?: string;
  timeout?: boolean;
}

export function deepgramError(code: ErrorCode, message: string, retryable: boolean, details: DeepgramErrorDetails = {}, cause?: unknown): PalabreError {
  return new PalabreError(code, `deepgram: ${message}`, { cause, details: { engine: ENGINE, retryable, ...details } });
}

/** Whether a PalabreError says a retry may succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof PalabreError && err.details?.retryable === true;
}

/** Deepgram's error body (`{err_code, err_msg, request_id}`, or `{category, message}` on some routes), as one line. */
export function describeErrorBody(body: string): { text: string; requestId?: string } {
  try {
    const o = JSON.parse(body) as Record<string, unknown>;
    const code = typeof o.err_code === 'string' ? o.err_code : typeof o.category === 'string' ? o.category : undefined;
    const msg = typeof o.err_msg === 'string' ? o.err_msg : typeof o.message === 'string' ? o.message : undefined;
    const text = [code, msg].filter(Boolean).join(': ');
    return { text: text || body.slice(0, 200), requestId: typeof o.request_id === 'string' ? o.request_id : undefined };
  } catch {
    return { text: body.trim().slice(0, 200) };
  }
}

/** An HTTP answer other than 2xx, from the REST API or the WebSocket handshake. */
export function httpError(status: number, body: string, what: string, headerRequestId?: string): PalabreError {
  const { text, requestId } = describeErrorBody(body);
  const details = { status, requestId: requestId ?? headerRequestId };
  const said = text ? ` (${text})` : '';
  if (status === 401 || status === 403) {
    return deepgramError('engine_unavailable', `${what} was refused with ${status}${said}; check engines.stt.deepgram.apiKey and the key's permissions`, false, details);
  }
  if (status === 429) return deepgramError('engine_unavailable', `${what} was refused with 429, too many requests${said}; the project's concurrency limit is reached`, true, details);
  if (status >= 500) return deepgramError('engine_failed', `${what} failed with ${status}${said}`, true, details);
  if (status === 400 || status === 413 || status === 415 || status === 422) {
    return deepgramError('bad_request', `${what} was rejected with ${status}${said}`, false, details);
  }
  return deepgramError('engine_failed', `${what} answered ${status}${said}`, false, details);
}

/**
 * A live stream closed by the server before it was done. Deepgram puts its
 * reason in the close frame: NET-0001 (no audio or KeepAlive for 10 s),
 * NET-0000 (nothing to say within its timeout), DATA-0000 (audio it cannot decode).
 */
export function closedError(code: number, reason: string): PalabreError {
  const why = reason ? `${code} ${reason}` : String(code);
  if (reason.startsWith('DATA-')) return deepgramError('bad_audio', `the live stream was closed (${why}): Deepgram cannot decode the audio it was sent`, false, { closeCode: code });
  if (reason === 'NET-0001') return deepgramError('engine_failed', `the live stream was closed (${why}): no audio or KeepAlive reached Deepgram for 10 s`, true, { closeCode: code });
  return deepgramError('engine_failed', `the live stream was closed mid-way (${why})`, true, { closeCode: code });
}
