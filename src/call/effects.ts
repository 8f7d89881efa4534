/**
 * Side effects a flow asks the session to perform: saving a record (a ticket,
 * a lead) and calling a webhook. The result goes back to the dialog as an
 * `action-result` event. The default handler keeps records in memory (the
 * session reports them as events and in its summary; the store takes them from
 * there) and calls webhooks with fetch under the effect's timeout.
 */
import type { SideEffect } from '../dialog/types.js';

export interface EffectResult {
  ok: boolean;
  data?: Record<string, unknown>;
  error?: string;
}

export interface EffectContext {
  callId: string;
  /** Fires when the call ends: an effect still running should give up. */
  signal: AbortSignal;
}

export type EffectHandler = (effect: SideEffect, context: EffectContext) => Promise<EffectResult>;

/** Longest webhook body kept for the dialog. */
const MAX_BODY_CHARS = 64 * 1024;

export interface DefaultEffectsOptions {
  fetch?: typeof fetch;
}

/** Records are acknowledged (the session keeps them); webhooks are called with fetch. */
export function defaultEffects(options: DefaultEffectsOptions = {}): EffectHandler {
  const doFetch = options.fetch ?? fetch;
  return async (effect, context) => {
    if (effect.type === 'save_record') return { ok: true, data: { kind: effect.kind } };
    // A timer of our own, cleared when done, so no timeout outlives the request.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), Math.max(1, effect.timeoutMs));
    const signal = AbortSignal.any([timeout.signal, context.signal]);
    try {
      const headers: Record<string, string> = { ...effect.headers };
      let body: string | undefined;
      if (effect.body !== undefined && effect.method !== 'GET') {
        body = JSON.stringify(effect.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await doFetch(effect.url, { method: effect.method, headers, body, signal });
      const text = (await res.text()).slice(0, MAX_BODY_CHARS);
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      const data: Record<string, unknown> = { status: res.status, body: parsed };
      return res.ok ? { ok: true, data } : { ok: false, data, error: `webhook answered HTTP ${res.status}` };
    } catch (err) {
      if (timeout.signal.aborted) return { ok: false, error: `webhook ${effect.method} ${effect.url} timed out after ${effect.timeoutMs} ms` };
      if (context.signal.aborted) return { ok: false, error: 'the call ended before the webhook answered' };
      return { ok: false, error: `webhook ${effect.method} ${effect.url} failed: ${err instanceof Error ? err.message : String(err)}` };
    } finally {
      clearTimeout(timer);
    }
  };
}
