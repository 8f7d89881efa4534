/**
 * Twilio Media Streams messages (PROTOCOLS.md §3), checked at the edge: every
 * message Twilio sends is JSON text; anything that does not parse into one of
 * the shapes below is named precisely so the log says what was wrong.
 */

export interface TwilioStart {
  streamSid: string;
  callSid: string;
  accountSid?: string;
  customParameters: Record<string, string>;
  mediaFormat: { encoding: string; sampleRate: number; channels: number };
}

export type TwilioInbound =
  | { event: 'connected' }
  | { event: 'start'; streamSid: string; start: TwilioStart }
  | { event: 'media'; streamSid: string; payload: string }
  | { event: 'dtmf'; streamSid: string; digit: string }
  | { event: 'mark'; streamSid: string; name: string }
  | { event: 'stop'; streamSid: string };

/** Why a message was refused: `malformed` ends the stream, `unknown-event` is only noted (Twilio may add events). */
export type TwilioParseProblem = { ok: false; kind: 'garbage-json' | 'malformed' | 'unknown-event'; message: string };
export type TwilioParseResult = { ok: true; message: TwilioInbound } | TwilioParseProblem;

const DIGIT = /^[0-9*#A-D]$/;
const KNOWN_EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(message: string): TwilioParseProblem {
  return { ok: false, kind: 'malformed', message };
}

export function parseTwilioMessage(text: string): TwilioParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, kind: 'garbage-json', message: `not JSON: ${JSON.stringify(text.slice(0, 40))}${text.length > 40 ? '…' : ''}` };
  }
  if (!isObject(raw)) return malformed('a message must be a JSON object');
  const event = raw.event;
  if (typeof event !== 'string') return malformed('message without a string "event"');
  if (!KNOWN_EVENTS.has(event)) return { ok: false, kind: 'unknown-event', message: `unknown event "${event.slice(0, 40)}"` };
  if (event === 'connected') return { ok: true, message: { event } };
  const streamSid = raw.streamSid;
  if (typeof streamSid !== 'string' || streamSid === '') return malformed(`"${event}" without a "streamSid"`);
  const body = raw[event];
  switch (event) {
    case 'start': {
      if (!isObject(body)) return malformed('"start" without its "start" object');
      const callSid = body.callSid;
      if (typeof callSid !== 'string') return malformed('"start.callSid" is missing');
      const params = body.customParameters ?? {};
      if (!isObject(params)) return malformed('"start.customParameters" is not an object');
      const customParameters: Record<string, string> = {};
      for (const [k, v] of Object.entries(params)) if (typeof v === 'string') customParameters[k] = v;
      const format = body.mediaFormat;
      if (!isObject(format)) return malformed('"start.mediaFormat" is missing');
      return {
        ok: true,
        message: {
          event,
          streamSid,
          start: {
            streamSid,
            callSid,
            accountSid: typeof body.accountSid === 'string' ? body.accountSid : undefined,
            customParameters,
            mediaFormat: { encoding: String(format.encoding), sampleRate: Number(format.sampleRate), channels: Number(format.channels) },
          },
        },
      };
    }
    case 'media': {
      if (!isObject(body) || typeof body.payload !== 'string') return malformed('"media" without "media.payload"');
      // Only the caller's leg is carried; a both-tracks stream would mix two voices into one.
      if (body.track !== undefined && body.track !== 'inbound') return malformed(`"media.track" is "${String(body.track)}"; only "inbound" is supported`);
      return { ok: true, message: { event, streamSid, payload: body.payload } };
    }
    case 'dtmf': {
      const digit = isObject(body) ? body.digit : undefined;
      if (typeof digit !== 'string' || !DIGIT.test(digit)) return malformed(`"dtmf.digit" must be one of 0-9 * # A-D, got ${JSON.stringify(digit)}`);
      return { ok: true, message: { event, streamSid, digit } };
    }
    case 'mark': {
      const name = isObject(body) ? body.name : undefined;
      if (typeof name !== 'string') return malformed('"mark" without "mark.name"');
      return { ok: true, message: { event, streamSid, name } };
    }
    default:
      return { ok: true, message: { event: 'stop', streamSid } };
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Decodes a media payload, or undefined when it is not base64. */
export function decodePayload(payload: string): Buffer | undefined {
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) return undefined;
  return Buffer.from(payload, 'base64');
}
