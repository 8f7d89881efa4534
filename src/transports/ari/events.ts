/**
 * ARI models and the events palabre acts on, as Asterisk's REST data models
 * describe them (Channel, Playback, Bridge, LiveRecording; StasisStart,
 * StasisEnd, ChannelDtmfReceived, ChannelHangupRequest, ChannelDestroyed,
 * PlaybackStarted/Finished). Each message from the events WebSocket is
 * checked before use: a known event with a broken shape is refused by name,
 * an event palabre does not use is passed on as `other`.
 */
import { z } from 'zod';

const callerId = z.object({ name: z.string().default(''), number: z.string().default('') });

export const channelSchema = z.object({
  id: z.string().min(1),
  name: z.string().default(''),
  state: z.string().default(''),
  caller: callerId.default({ name: '', number: '' }),
  dialplan: z.object({ context: z.string(), exten: z.string(), priority: z.number() }).partial().optional(),
  language: z.string().optional(),
  channelvars: z.record(z.string(), z.unknown()).nullish(),
});
export type AriChannel = z.infer<typeof channelSchema>;

export const playbackSchema = z.object({
  id: z.string().min(1),
  media_uri: z.string().default(''),
  target_uri: z.string().default(''),
  state: z.string().default(''),
});
export type AriPlayback = z.infer<typeof playbackSchema>;

export const bridgeSchema = z.object({ id: z.string().min(1), channels: z.array(z.string()).default([]) });
export type AriBridge = z.infer<typeof bridgeSchema>;

export const variableSchema = z.object({ value: z.string() });

const base = { application: z.string().optional(), timestamp: z.string().optional() };

const knownEvents = {
  StasisStart: z.object({ ...base, type: z.literal('StasisStart'), args: z.array(z.string()).default([]), channel: channelSchema }),
  StasisEnd: z.object({ ...base, type: z.literal('StasisEnd'), channel: channelSchema }),
  ChannelDtmfReceived: z.object({ ...base, type: z.literal('ChannelDtmfReceived'), channel: channelSchema, digit: z.string().length(1), duration_ms: z.number().optional() }),
  ChannelHangupRequest: z.object({ ...base, type: z.literal('ChannelHangupRequest'), channel: channelSchema, cause: z.number().optional(), soft: z.boolean().optional() }),
  ChannelDestroyed: z.object({ ...base, type: z.literal('ChannelDestroyed'), channel: channelSchema, cause: z.number().optional(), cause_txt: z.string().optional() }),
  PlaybackStarted: z.object({ ...base, type: z.literal('PlaybackStarted'), playback: playbackSchema }),
  PlaybackFinished: z.object({ ...base, type: z.literal('PlaybackFinished'), playback: playbackSchema }),
} as const;

export type KnownAriEventType = keyof typeof knownEvents;
export type KnownAriEvent = { [K in KnownAriEventType]: z.infer<(typeof knownEvents)[K]> }[KnownAriEventType];
export type AriEvent = KnownAriEvent | { type: 'other'; name: string; raw: Record<string, unknown> };

export type ParsedAriMessage = { ok: true; event: AriEvent } | { ok: false; problem: string };

function isKnown(type: string): type is KnownAriEventType {
  return Object.hasOwn(knownEvents, type);
}

/** One text message of the events WebSocket. */
export function parseAriMessage(text: string): ParsedAriMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: `not JSON: ${JSON.stringify(text.slice(0, 60))}` };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, problem: 'not a JSON object' };
  const raw = json as Record<string, unknown>;
  if (typeof raw.type !== 'string' || raw.type === '') return { ok: false, problem: 'no "type" field' };
  if (!isKnown(raw.type)) return { ok: true, event: { type: 'other', name: raw.type, raw } };
  const parsed = knownEvents[raw.type].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, problem: `${raw.type} with ${issue?.path.join('.') || 'its body'}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, event: parsed.data as KnownAriEvent };
}

/** The channel an event is about, when it is about one. */
export function eventChannel(event: AriEvent): AriChannel | undefined {
  return 'channel' in event ? (event.channel as AriChannel) : undefined;
}
