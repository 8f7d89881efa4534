/**
 * The browser WebSocket protocol: binary messages are PCM16 little-endian mono
 * audio, text messages are JSON control messages. This file only reads and
 * checks what the client sends, so every refusal names the problem.
 *
 * In (client → server):
 *   {"type":"start","sampleRate":16000}   declares the rate of the audio the client sends and wants back
 *   {"type":"dtmf","digit":"5"}           one keypad key: 0-9 * # A-D
 *   {"type":"hangup"}                     the caller hangs up
 *   binary                                PCM16 LE mono at the declared rate, any even length
 * Out (server → client):
 *   {"type":"ready","sessionId","sampleRate","flow","language"}   once the rate is known and the call starts
 *   {"type":"event","event":CallEvent}   everything the call reports (transcript, state, intent, barge-in…)
 *   {"type":"clear"}                     drop the bot audio buffered so far (barge-in)
 *   {"type":"error","message"}           a bad message, named; the socket stays open unless it says `fatal`
 *   {"type":"ended","reason"}            the call is over; the socket closes next
 *   binary                               bot audio, PCM16 LE mono at the client's rate, 20 ms frames
 *
 * Refusals: a bad message gets an `error` naming it (JSON that does not parse,
 * an unknown type, audio before `start`, an odd byte count, a message over
 * 64 KiB); five within 10 s close the socket with 1008, an unsupported rate
 * with 1003, no `start` within 10 s with 1008; a message over 1 MiB is cut off
 * by the WebSocket layer itself (1009). Sockets for unknown, taken or ended
 * sessions are closed with 4404, 4409 and 4410.
 */

/** Rates a browser client may declare; AudioContext rates other than these are downsampled by the page. */
export const CLIENT_RATES = [8_000, 16_000, 24_000, 48_000] as const;
export type ClientRate = (typeof CLIENT_RATES)[number];

export const DTMF_DIGIT = /^[0-9*#A-D]$/;

export function isClientRate(rate: unknown): rate is ClientRate {
  return typeof rate === 'number' && (CLIENT_RATES as readonly number[]).includes(rate);
}

export type ClientMessage =
  | { type: 'start'; sampleRate: ClientRate }
  | { type: 'dtmf'; digit: string }
  | { type: 'hangup' };

export type ServerMessage =
  | { type: 'ready'; sessionId: string; sampleRate: number; flow?: string; language?: string }
  | { type: 'event'; event: unknown }
  | { type: 'clear' }
  | { type: 'error'; message: string; fatal?: boolean }
  | { type: 'ended'; reason: string };

/** A parse result: the message, or why it was refused and whether the socket must close. */
export type Parsed = { ok: true; message: ClientMessage } | { ok: false; message: string; fatal: boolean };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 20 ? value.slice(0, 20) + '…' : value}"`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

export function parseClientMessage(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, fatal: false, message: `malformed JSON message: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, fatal: false, message: `a control message must be a JSON object with a "type", got ${describe(value)}` };
  }
  const msg = value as Record<string, unknown>;
  switch (msg.type) {
    case 'start':
      if (!isClientRate(msg.sampleRate)) {
        return { ok: false, fatal: true, message: `unsupported sampleRate ${describe(msg.sampleRate)} in "start": use one of ${CLIENT_RATES.join(', ')}` };
      }
      return { ok: true, message: { type: 'start', sampleRate: msg.sampleRate } };
    case 'dtmf':
      if (typeof msg.digit !== 'string' || !DTMF_DIGIT.test(msg.digit)) {
        return { ok: false, fatal: false, message: `"dtmf" needs "digit", one keypad key of 0-9 * # A-D, got ${describe(msg.digit)}` };
      }
      return { ok: true, message: { type: 'dtmf', digit: msg.digit } };
    case 'hangup':
      return { ok: true, message: { type: 'hangup' } };
    default:
      return { ok: false, fatal: false, message: `unknown message type ${describe(msg.type)}: expected "start", "dtmf" or "hangup"` };
  }
}
