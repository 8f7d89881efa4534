/**
 * JSON schemas of the operator API's answers (published at /docs, and used
 * by Fastify to serialise: a field missing here is missing from the answer).
 */
import { CALL_OUTCOMES } from '../../store/queries.js';

const nullable = (type: string, description?: string) => ({ type: [type, 'null'], ...(description ? { description } : {}) });
const freeObject = { type: 'object', additionalProperties: true } as const;
/** Any JSON value as stored (jsonb). */
const anyJson = {} as const;

export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, statusCode: { type: 'integer' } },
} as const;

export const callItemSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    transport: { type: 'string' },
    externalId: nullable('string', "The transport's own id (AudioSocket UUID, Twilio CallSid…)"),
    callerId: nullable('string'),
    flow: { type: 'string' },
    language: { type: 'string' },
    startedAt: { type: 'string', format: 'date-time' },
    endedAt: nullable('string'),
    durationMs: nullable('integer'),
    endReason: nullable('string'),
    endDetail: nullable('string'),
    outcome: { type: 'string', enum: [...CALL_OUTCOMES] },
    sentiment: nullable('string', 'positive, neutral or negative'),
    sentimentScore: nullable('number', '-1 (unhappy) … 1 (happy)'),
    cost: nullable('number'),
    turnCount: { type: 'integer' },
    bargeIns: { type: 'integer' },
    errorCount: { type: 'integer' },
    meanTurnLatencyMs: nullable('number', 'End of caller turn → first bot audio, mean over the call'),
    hasRecording: { type: 'boolean' },
  },
} as const;

export const recordItemSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    callId: { type: 'string' },
    flow: { type: 'string' },
    kind: { type: 'string' },
    data: freeObject,
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const latencySummary = {
  type: 'object',
  properties: { count: { type: 'integer' }, mean: nullable('number'), p95: nullable('number', 'Nearest-rank 95th percentile') },
} as const;

export const callDetailSchema = {
  type: 'object',
  properties: {
    call: { type: 'object', properties: { ...callItemSchema.properties, usage: { ...anyJson, description: 'Per engine: audio seconds, characters, tokens, requests' }, states: anyJson } },
    turns: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          seq: { type: 'integer' },
          turn: nullable('integer'),
          speaker: { type: 'string', enum: ['caller', 'bot'] },
          text: { type: 'string' },
          confidence: nullable('number'),
          intent: nullable('string'),
          slots: anyJson,
          cut: { type: 'boolean', description: 'The bot was cut off; `heard` is what was played' },
          heard: nullable('string'),
          atMs: { type: 'integer', description: 'ms since the call started' },
          timeline: anyJson,
        },
      },
    },
    events: { type: 'array', items: { type: 'object', properties: { seq: { type: 'integer' }, atMs: { type: 'integer' }, type: { type: 'string' }, data: freeObject } } },
    records: { type: 'array', items: recordItemSchema },
    reports: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, kind: { type: 'string' }, data: freeObject, createdAt: { type: 'string' } } } },
    recording: {
      type: ['object', 'null'],
      properties: {
        url: { type: 'string', description: 'Download link; with an admin token it is signed and works without the header until it expires' },
        path: { type: 'string' },
        format: { type: 'string' },
        sampleRate: { type: 'integer' },
        channels: { type: 'integer' },
        durationMs: { type: 'integer' },
        bytes: { type: 'integer' },
        complete: { type: 'boolean', description: 'False while the call runs or after a crash' },
        createdAt: { type: 'string' },
        expiresAt: nullable('string'),
      },
    },
    latencies: {
      type: 'object',
      properties: {
        turns: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              turn: { type: 'integer' },
              kind: { type: 'string' },
              outcome: { type: 'string' },
              endOfTurnToFirstAudioMs: { type: 'number' },
              sttMs: { type: 'number' },
              dialogMs: { type: 'number' },
              ttsFirstAudioMs: { type: 'number' },
            },
          },
        },
        endOfTurnToFirstAudio: latencySummary,
        stt: latencySummary,
        dialog: latencySummary,
        ttsFirstAudio: latencySummary,
      },
    },
  },
} as const;

const countOf = (key: string) => ({ type: 'array', items: { type: 'object', properties: { [key]: { type: 'string' }, count: { type: 'integer' } } } });

export const statsSchema = {
  type: 'object',
  properties: {
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time', description: 'Exclusive' },
    timeZone: { type: 'string', description: 'The server time zone that bare dates and the default day are in' },
    calls: { type: 'integer' },
    meanDurationMs: nullable('number', 'Over the calls that ended'),
    sentiment: {
      type: 'object',
      properties: { rated: { type: 'integer' }, negative: { type: 'integer' }, unhappyShare: nullable('number', 'negative / rated') },
    },
    outcomes: { type: 'object', properties: Object.fromEntries(CALL_OUTCOMES.map((o) => [o, { type: 'integer' }])) },
    transfers: { type: 'integer' },
    problems: { type: 'object', properties: { byKind: countOf('kind'), field: { type: 'string' }, byValue: countOf('value') } },
    turnLatency: { type: 'object', properties: { turns: { type: 'integer' }, meanMs: nullable('number', 'End of caller turn → first bot audio') } },
  },
} as const;
