/**
 * The write side of the store: a CallWriter per call turns call events into
 * rows and pushes them on the shared WriteQueue, which writes them in
 * batches (one transaction, one multi-row insert per table).
 *
 * Rows, as they happen:
 * - 'transcript' → a turns row (caller lines with their turn and confidence,
 *   bot lines with the turn they answer, cut and heard);
 * - 'turn' → the timeline, intent and slots set on the caller line of that
 *   turn; a turn with no caller line (keypad, silence, noise) gets a caller
 *   row of its own, with the keys pressed or '' as text, so every turn keeps
 *   its timeline;
 * - 'record' → a records row;
 * - everything else → an events row, except the high-volume events listed
 *   in NOT_STORED, whose content the turn timelines already hold.
 *
 * The calls row is inserted by start() and completed by end(). Every batch
 * that touches a call whose row is not known to be written inserts that row
 * too (ON CONFLICT DO NOTHING), so losing the start write to an overflow
 * never orphans the call's other rows.
 */
import type { Insertable, Kysely, Updateable } from 'kysely';
import type { CallEvent, CallSummary } from '../call/events.js';
import type { CallMeta } from '../call/factory.js';
import type { Logger } from '../log.js';
import { callerTurnCount, deriveOutcome, meanTurnLatencyMs } from './call-end.js';
import { cleanText, toJson } from './json.js';
import type { StoreMetrics } from './metrics.js';
import { type DropReason, type QueueOptions, WriteQueue } from './queue.js';
import type { CallsTable, Database, EventsTable, RecordsTable, TurnsTable } from './schema.js';
import type { CallWriter, WriterStats } from './types.js';

export interface WriterOptions extends QueueOptions {
  /** Stored with every call: the instance carrying it. */
  serverId?: string;
  /** Time from a write's push to its commit, ms (the store benchmark's write latency). */
  onLatency?: (ms: number) => void;
}

/** Events not stored: streaming partial hypotheses (several a second while the caller speaks), and VAD speech and bot-audio edges (in the turn timelines). */
export const NOT_STORED: ReadonlySet<CallEvent['type']> = new Set(['partial', 'speech', 'bot-audio']);

type TurnFields = Pick<Updateable<TurnsTable>, 'timeline' | 'intent' | 'slots'>;

type Item =
  | { op: 'call'; callId: string }
  | { op: 'turn'; callId: string; row: Insertable<TurnsTable> }
  | { op: 'timeline'; callId: string; turn: number; set: TurnFields }
  | { op: 'event'; callId: string; row: Insertable<EventsTable> }
  | { op: 'record'; callId: string; row: Insertable<RecordsTable> }
  | { op: 'end'; callId: string; set: Updateable<CallsTable> };

const TABLE: Record<Item['op'], string> = { call: 'calls', turn: 'turns', timeline: 'turns', event: 'events', record: 'records', end: 'calls' };

interface OpenCall {
  row: Insertable<CallsTable>;
  /** The calls row is known to be in the database. */
  stored: boolean;
  /** Writes of this call in the queue; the entry is forgotten once the call has ended and none is left. */
  pending: number;
  ended: boolean;
}

export interface StoreWriter {
  writer(callId: string): CallWriter;
  flush(): Promise<void>;
  stats(): WriterStats;
  close(): Promise<void>;
}

export function createWriter(db: Kysely<Database>, options: WriterOptions, logger: Logger, metrics?: StoreMetrics): StoreWriter {
  const calls = new Map<string, OpenCall>();

  /** Queued writes of a call settled (written, or dropped after being queued). */
  const settled = (items: Item[], stored: boolean) => {
    for (const item of items) {
      const call = calls.get(item.callId);
      if (!call) continue;
      if (stored) call.stored = true;
      call.pending--;
      if (call.ended && call.pending <= 0) calls.delete(item.callId);
    }
  };

  const queue = new WriteQueue<Item>(
    options,
    {
      write: (batch) => writeBatch(db, batch, calls),
      written(batch, ms) {
        settled(batch, true);
        if (!metrics) return;
        metrics.batchSeconds.observe(ms / 1000);
        const perTable = new Map<string, number>();
        for (const item of batch) perTable.set(TABLE[item.op], (perTable.get(TABLE[item.op]) ?? 0) + 1);
        for (const [table, n] of perTable) metrics.written.inc({ table }, n);
      },
      dropped(items, reason: DropReason) {
        if (reason === 'failed' || reason === 'rejected') settled(items, false);
        metrics?.dropped.inc({ reason }, items.length);
      },
      depth: (n) => metrics?.queueDepth.set(n),
      latency: options.onLatency,
    },
    logger,
  );

  return {
    writer: (callId) =>
      new StoreCallWriter(callId, calls, options.serverId, (item) => {
        const call = calls.get(item.callId);
        if (queue.push(item) && call) call.pending++;
        if (call && item.op === 'end') {
          call.ended = true;
          if (call.pending === 0) calls.delete(item.callId);
        }
      }),
    flush: () => queue.flush(),
    stats: () => queue.stats(),
    close: () => queue.close(),
  };
}

/** One transaction: calls first (new ones, and any whose row is not known to be stored), then inserts per table, then updates in order. */
async function writeBatch(db: Kysely<Database>, batch: Item[], calls: Map<string, OpenCall>): Promise<void> {
  const callRows = new Map<string, Insertable<CallsTable>>();
  const turns: Array<Insertable<TurnsTable>> = [];
  const events: Array<Insertable<EventsTable>> = [];
  const records: Array<Insertable<RecordsTable>> = [];
  const updates: Item[] = [];
  for (const item of batch) {
    const call = calls.get(item.callId);
    if (call && !call.stored) callRows.set(item.callId, call.row);
    if (item.op === 'turn') turns.push(item.row);
    else if (item.op === 'event') events.push(item.row);
    else if (item.op === 'record') records.push(item.row);
    else if (item.op === 'timeline' || item.op === 'end') updates.push(item);
  }
  await db.transaction().execute(async (tx) => {
    if (callRows.size > 0)
      await tx
        .insertInto('calls')
        .values([...callRows.values()])
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    if (turns.length > 0) await tx.insertInto('turns').values(turns).execute();
    if (events.length > 0) await tx.insertInto('events').values(events).execute();
    if (records.length > 0) await tx.insertInto('records').values(records).execute();
    for (const u of updates) {
      if (u.op === 'timeline')
        await tx.updateTable('turns').set(u.set).where('call_id', '=', u.callId).where('speaker', '=', 'caller').where('turn', '=', u.turn).execute();
      else if (u.op === 'end') await tx.updateTable('calls').set(u.set).where('id', '=', u.callId).execute();
    }
  });
}

class StoreCallWriter implements CallWriter {
  private turnSeq = 0;
  private eventSeq = 0;
  private flow = 'unknown';
  /** The caller turn the latest lines belong to (bot lines answer it; intents and slots are its). */
  private lastCallerTurn: number | null = null;
  private readonly callerLines = new Set<number>();
  private readonly intents = new Map<number, string | null>();
  private readonly slots = new Map<number, Record<string, unknown>>();
  /** Keys accepted since the last turn ended: the text of a keypad turn. */
  private digits = '';
  private started = false;
  private ended = false;

  constructor(
    private readonly callId: string,
    private readonly calls: Map<string, OpenCall>,
    private readonly serverId: string | undefined,
    private readonly push: (item: Item) => void,
  ) {}

  start(_callId: string, meta: CallMeta, startedAt: Date): void {
    if (this.started) return;
    this.started = true;
    this.flow = meta.flow;
    this.calls.set(this.callId, {
      row: {
        id: this.callId,
        transport: meta.transport,
        server_id: this.serverId ?? null,
        external_id: meta.externalId ?? null,
        caller_id: meta.callerId === undefined ? null : cleanText(meta.callerId),
        flow: meta.flow,
        language: meta.language,
        started_at: startedAt,
        outcome: 'in_progress',
        usage: null,
        states: toJson([]),
      },
      stored: false,
      pending: 0,
      ended: false,
    });
    this.push({ op: 'call', callId: this.callId });
  }

  event(event: CallEvent): void {
    if (this.ended || NOT_STORED.has(event.type)) return;
    // A writer used without start() still gets a calls row, so its other rows have a parent.
    if (!this.started) this.start(this.callId, { transport: 'simulate', flow: 'unknown', language: 'und' }, new Date(Date.now() - event.atMs));
    const atMs = Math.round(event.atMs);
    switch (event.type) {
      case 'transcript': {
        const caller = event.role === 'caller';
        if (caller && event.turn !== undefined) {
          this.lastCallerTurn = event.turn;
          this.callerLines.add(event.turn);
        }
        this.pushTurn({
          turn: caller ? (event.turn ?? this.lastCallerTurn) : this.lastCallerTurn,
          speaker: event.role,
          text: cleanText(event.text),
          confidence: event.confidence ?? null,
          cut: event.cut ?? false,
          heard: event.heard === undefined ? null : cleanText(event.heard),
          at_ms: atMs,
        });
        return;
      }
      case 'turn': {
        const t = event.timeline;
        const set: TurnFields = {
          timeline: toJson(t),
          intent: this.intents.has(t.turn) ? (this.intents.get(t.turn) ?? null) : (t.intent ?? null),
          slots: this.slots.has(t.turn) ? toJson(this.slots.get(t.turn)) : null,
        };
        if (this.callerLines.has(t.turn)) this.push({ op: 'timeline', callId: this.callId, turn: t.turn, set });
        else {
          const text = t.text ?? (t.kind === 'dtmf' ? this.digits : '');
          this.pushTurn({ turn: t.turn, speaker: 'caller', text: cleanText(text), confidence: null, cut: false, heard: null, at_ms: Math.round(t.endOfTurnMs), ...set });
        }
        this.digits = '';
        this.intents.delete(t.turn);
        this.slots.delete(t.turn);
        this.callerLines.delete(t.turn);
        return;
      }
      case 'record':
        this.push({ op: 'record', callId: this.callId, row: { call_id: this.callId, flow: this.flow, kind: cleanText(event.kind), data: toJson(event.data ?? {}) } });
        return;
      case 'intent':
        if (this.lastCallerTurn !== null) this.intents.set(this.lastCallerTurn, event.intent);
        break;
      case 'slot':
        if (this.lastCallerTurn !== null) this.slots.set(this.lastCallerTurn, { ...this.slots.get(this.lastCallerTurn), [event.name]: event.value });
        break;
      case 'dtmf':
        if (event.accepted) this.digits += event.digit;
        break;
    }
    const { callId: _callId, atMs: _atMs, type, ...data } = event;
    this.push({ op: 'event', callId: this.callId, row: { call_id: this.callId, seq: this.eventSeq++, at_ms: atMs, type, data: toJson(data) } });
  }

  end(summary: CallSummary, extra: Parameters<CallWriter['end']>[1] = {}): void {
    if (this.ended) return;
    if (!this.started) this.start(this.callId, { transport: 'simulate', flow: 'unknown', language: summary.language }, new Date(summary.startedAt));
    this.ended = true;
    this.push({
      op: 'end',
      callId: this.callId,
      set: {
        ended_at: summary.endedAt,
        duration_ms: Math.round(summary.durationMs),
        end_reason: summary.endReason,
        end_detail: summary.endDetail === undefined ? null : cleanText(summary.endDetail),
        outcome: extra.outcome ?? deriveOutcome(summary),
        sentiment: extra.sentiment?.label ?? null,
        sentiment_score: extra.sentiment ? Math.round(extra.sentiment.score * 1000) / 1000 : null,
        usage: extra.usage === undefined ? null : toJson(extra.usage),
        cost: extra.cost ?? null,
        states: toJson(summary.states),
        turn_count: callerTurnCount(summary.turns),
        barge_ins: summary.bargeIns.total - summary.bargeIns.false,
        error_count: summary.errors.length,
        mean_turn_latency_ms: meanTurnLatencyMs(summary.turns),
      },
    });
  }

  private pushTurn(row: Omit<Insertable<TurnsTable>, 'call_id' | 'seq'>): void {
    this.push({ op: 'turn', callId: this.callId, row: { call_id: this.callId, seq: this.turnSeq++, ...row } });
  }
}
