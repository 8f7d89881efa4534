/**
 * The store's tables as Kysely sees them. The migrations in
 * `src/store/migrations/` create exactly these; both PGlite and PostgreSQL
 * run the same SQL. Times are `timestamptz`, JSON is `jsonb`, ids of calls
 * are the call's own id (the transport's UUID or a generated one).
 */
import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/** A timestamptz column: written as an ISO string or a Date, read as a Date. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** A jsonb column holding an array or an object; SQL NULL when written as null or left out. */
export type Json = JSONColumnType<object | null, string | null | undefined, string | null>;
/** A jsonb column holding an object; written as JSON text (JSON.stringify), read back parsed. */
export type JsonObject = JSONColumnType<Record<string, unknown>, string, string>;

/**
 * How a call ended up, for the operator: derived from the end reason and what
 * the flow did (a transfer, saved records).
 */
export type CallOutcome = 'completed' | 'transferred' | 'abandoned' | 'failed' | 'interrupted' | 'in_progress';

export type Sentiment = 'positive' | 'neutral' | 'negative';

export interface CallsTable {
  id: string;
  transport: string;
  /** The palabre instance carrying the call (`server.instanceId`); null for calls stored before it was kept. */
  server_id: string | null;
  /** The transport's own id: AudioSocket UUID, Twilio CallSid, Asterisk channel id, browser session id. */
  external_id: string | null;
  caller_id: string | null;
  flow: string;
  language: string;
  started_at: Timestamp;
  ended_at: Timestamp | null;
  duration_ms: number | null;
  /** CallEndReason, or 'interrupted' when the process died mid-call. Null while the call runs. */
  end_reason: string | null;
  end_detail: string | null;
  outcome: CallOutcome;
  sentiment: Sentiment | null;
  /** -1 (unhappy) … 1 (happy). */
  sentiment_score: number | null;
  /** Cost in the price table's currency, when one is configured. */
  cost: number | null;
  /** Per engine: audio seconds, characters, tokens, requests, errors. */
  usage: Json;
  /** Dialog states in the order they were entered. */
  states: Json;
  /** Number of caller turns, barge-ins, false barge-ins, errors: the figures lists show without joining. */
  turn_count: Generated<number>;
  barge_ins: Generated<number>;
  error_count: Generated<number>;
  /** Mean and p95 of the time from end of caller turn to first bot audio (ms), computed at the end. */
  mean_turn_latency_ms: number | null;
  created_at: Generated<Date>;
}

export interface TurnsTable {
  id: Generated<number>;
  call_id: string;
  /** Order of the line within its call (0, 1, 2…), as written. */
  seq: number;
  /** The caller turn this line belongs to (bot lines carry the turn they answer). */
  turn: number | null;
  speaker: 'caller' | 'bot';
  text: string;
  confidence: number | null;
  intent: string | null;
  slots: Json;
  /** The bot was cut off by a barge-in; `heard` is what was actually played. */
  cut: Generated<boolean>;
  heard: string | null;
  at_ms: number;
  /** The TurnTimeline of a caller turn (speech, end of turn, STT, dialog, TTS, first audio out). */
  timeline: Json;
  created_at: Generated<Date>;
}

export interface EventsTable {
  id: Generated<number>;
  call_id: string;
  seq: number;
  at_ms: number;
  /** CallEvent type: state, intent, slot, barge-in, dtmf, error, effect, fallback… */
  type: string;
  data: JsonObject;
  created_at: Generated<Date>;
}

/** What flows save: tickets, leads, callback slots. `kind` is the flow's record name. */
export interface RecordsTable {
  id: Generated<number>;
  call_id: string;
  flow: string;
  kind: string;
  data: JsonObject;
  created_at: Generated<Date>;
}

export interface RecordingsTable {
  call_id: string;
  /** Path relative to the recordings directory. */
  path: string;
  /** 'wav', or the compressed format after conversion ('ogg', 'mp3'). */
  format: string;
  sample_rate: number;
  channels: number;
  duration_ms: number;
  bytes: number;
  /** False while the call runs (and after a crash): the file holds what was recorded so far. */
  complete: boolean;
  created_at: Generated<Date>;
  /** After this the purge job deletes the file and the row. */
  expires_at: Timestamp | null;
}

/** Session feedback reports (the speaking coach's fluency and pronunciation report). */
export interface ReportsTable {
  id: Generated<number>;
  call_id: string;
  kind: string;
  data: JsonObject;
  created_at: Generated<Date>;
}

export interface Database {
  calls: CallsTable;
  turns: TurnsTable;
  events: EventsTable;
  records: RecordsTable;
  recordings: RecordingsTable;
  reports: ReportsTable;
}
