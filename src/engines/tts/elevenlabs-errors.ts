/**
 * ElevenLabs failures as PalabreErrors. Each carries `details.retryable`: true when
 * asking again (or the next engine of a fallback chain) can help and nothing of the
 * utterance has been played yet. Rate limits and server errors are retryable;
 * a refused key, a bad request and anything after audio went out are not.
 * Messages name the status and ElevenLabs' own words, never the API key.
 */
import { PalabreError, type ErrorCode } from '../../errors.js';

export const ENGINE = 'ElevenLabs';

export interface FailureContext {
  /** What was being done, e.g. "ElevenLabs text-to-speech (voice X)". */
  what: string;
  /** Audio already yielded: a retry would repeat it to the caller. */
  audioSent: boolean;
}

/** `{detail: {status, message}}`, FastAPI's `{detail: [{loc, msg}]}`, `{detail: "…"}`, or the text. */
export function elevenLabsMessage(text: string): { status?: string; message: string } {
  try {
    const body = JSON.parse(text) as { detail?: unknown; message?: unknown; error?: unknown };
    const d = body.detail;
    if (typeof d === 'string') return { message: d };
    if (Array.isArray(d)) {
      const parts = d.map((e: { loc?: unknown; msg?: unknown }) => `${Array.isArray(e?.loc) ? e.loc.join('.') : '?'}: ${typeof e?.msg === 'string' ? e.msg : JSON.stringify(e)}`);
      return { status: 'validation_error', message: parts.join('; ') };
    }
    if (d && typeof d === 'object') {
      const o = d as { status?: unknown; message?: unknown };
      return { status: typeof o.status === 'string' ? o.status : undefined, message: typeof o.message === 'string' ? o.message : JSON.stringify(d) };
    }
    if (typeof body.message === 'string') return { status: typeof body.error === 'string' ? body.error : undefined, message: body.message };
  } catch {
    // Not JSON: the text itself.
  }
  return { message: text.replace(/\s+/gu, ' ').trim().slice(0, 300) };
}

export function failure(code: ErrorCode, message: string, ctx: FailureContext, retryable: boolean, extra: Record<string, unknown> = {}, cause?: unknown): PalabreError {
  return new PalabreError(code, message, { cause, details: { engine: 'elevenlabs', retryable: retryable && !ctx.audioSent, ...extra } });
}

/** An HTTP error answer. */
export function httpStatusError(status: number, bodyText: string, ctx: FailureContext, retryAfter?: string): PalabreError {
  const { status: why, message } = elevenLabsMessage(bodyText);
  const said = `${why ? `${why}: ` : ''}${message}`;
  const extra: Record<string, unknown> = { status, reason: why };
  const seconds = retryAfter !== undefined ? Number(retryAfter) : NaN;
  if (Number.isFinite(seconds)) extra.retryAfterMs = Math.round(seconds * 1000);
  if (status === 401 || status === 403) {
    return failure('engine_unavailable', `${ctx.what}: the API key was refused (HTTP ${status} ${said}); check engines.tts.elevenlabs.apiKey`, ctx, false, extra);
  }
  if (status === 429) return failure('engine_unavailable', `${ctx.what}: rate limited (HTTP 429 ${said})`, ctx, true, extra);
  if (status >= 500) return failure('engine_unavailable', `${ctx.what}: server error (HTTP ${status} ${said})`, ctx, true, extra);
  return failure('engine_failed', `${ctx.what}: request refused (HTTP ${status} ${said})`, ctx, false, extra);
}

/**
 * A WebSocket closed before its final message. ElevenLabs closes with 1008 (policy
 * violation) and a reason for what it refuses, including a bad key; 1011 and abnormal
 * closes are server or network trouble.
 */
export function wsCloseError(code: number, reason: string, ctx: FailureContext): PalabreError {
  const said = reason ? `: ${reason}` : '';
  const extra = { closeCode: code, closeReason: reason };
  if (code === 1008 && /api.?key|unauthori[sz]ed|authori[sz]ation/iu.test(reason)) {
    return failure('engine_unavailable', `${ctx.what}: the API key was refused (close ${code}${said}); check engines.tts.elevenlabs.apiKey`, ctx, false, extra);
  }
  if (code === 1008 && /too many|concurren|rate/iu.test(reason)) return failure('engine_unavailable', `${ctx.what}: rate limited (close ${code}${said})`, ctx, true, extra);
  if (code === 1008 || code === 1003 || code === 1007 || code === 1009) return failure('engine_failed', `${ctx.what}: request refused (close ${code}${said})`, ctx, false, extra);
  if (code === 1006) return failure('engine_failed', `${ctx.what}: the connection dropped before the last audio`, ctx, true, extra);
  return failure('engine_unavailable', `${ctx.what}: the server closed the stream before the last audio (close ${code}${said})`, ctx, true, extra);
}

export function malformed(what: string, ctx: FailureContext, sample: string): PalabreError {
  return failure('engine_failed', `${ctx.what}: malformed stream data (${what}): ${sample.slice(0, 120)}`, ctx, true, { reason: 'malformed' });
}
