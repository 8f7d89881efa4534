/**
 * What a flow knows about the call itself: who calls, over which transport,
 * the call's id and when it started. Texts and prompts read them as
 * `{caller_id}`, `{transport}`, `{call_id}`, `{call_date}` and `{call_time}`
 * (date and time written in the flow's language).
 */
export interface CallContext {
  /** The caller's number or address, when the transport tells it. */
  callerId?: string;
  /** audiosocket, ari, twilio, browser, simulate, chat… */
  transport?: string;
  callId?: string;
  /** When the call started (default: when the dialog was created). */
  startedAt?: Date;
  /** Time zone for `call_date` / `call_time` (default: the server's). */
  timeZone?: string;
}

export const CONTEXT_VARIABLES = ['caller_id', 'transport', 'call_id', 'call_date', 'call_time'] as const;

/** The value of a context variable, undefined for any other name or an unknown value. */
export function contextValue(name: string, context: CallContext, language: string, startedAt: Date): string | undefined {
  const zone = context.timeZone ? { timeZone: context.timeZone } : {};
  switch (name) {
    case 'caller_id':
      return context.callerId;
    case 'transport':
      return context.transport;
    case 'call_id':
      return context.callId;
    case 'call_date':
      return new Intl.DateTimeFormat(language, { dateStyle: 'full', ...zone }).format(startedAt);
    case 'call_time':
      return new Intl.DateTimeFormat(language, { timeStyle: 'short', ...zone }).format(startedAt);
    default:
      return undefined;
  }
}
