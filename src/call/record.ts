/**
 * What a call leaves behind: its events as they happen (sent to listeners)
 * and the summary run() returns. Listeners are isolated: one that throws is
 * reported and the call goes on.
 */
import { PalabreError } from '../errors.js';
import type { CallEvent, CallEventBody, CallSummary, EngineStage, TranscriptLine, TurnTimeline } from './events.js';
import type { CallEndReason } from './io.js';

export class SessionRecord {
  readonly listeners = new Set<(e: CallEvent) => void>();
  private startedAt = new Date();
  private readonly transcriptLines: TranscriptLine[] = [];
  private readonly states: string[] = [];
  private readonly records: Array<{ kind: string; data: Record<string, unknown> }> = [];
  private readonly turns: TurnTimeline[] = [];
  private readonly errors: CallSummary['errors'] = [];
  private bargeIns = 0;
  private falseBargeIns = 0;
  /** After call-ended nothing more is sent: listeners may rely on it being last. */
  private closed = false;

  constructor(
    readonly callId: string,
    readonly language: string,
    private readonly onListenerError: (err: unknown) => void,
  ) {}

  emit(body: CallEventBody, atMs: number): void {
    if (this.closed) return;
    const event = { ...body, callId: this.callId, atMs: Math.round(atMs * 10) / 10 } as CallEvent;
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  start(atMs: number): void {
    this.startedAt = new Date();
    this.emit({ type: 'call-started', language: this.language, startedAt: this.startedAt.toISOString() }, atMs);
  }

  end(atMs: number, reason: CallEndReason, detail: string | undefined): void {
    if (this.closed) return;
    this.emit({ type: 'call-ended', reason, ...(detail ? { detail } : {}), endedAt: new Date(this.startedAt.getTime() + atMs).toISOString(), durationMs: Math.round(atMs) }, atMs);
    this.closed = true;
  }

  transcript(role: 'caller' | 'bot', text: string, atMs: number, extra: { turn?: number; cut?: boolean; heard?: string; confidence?: number }): void {
    const line: TranscriptLine = { role, text, atMs: Math.round(atMs), ...(extra.turn !== undefined ? { turn: extra.turn } : {}) };
    if (extra.cut) {
      line.cut = true;
      line.heard = extra.heard ?? '';
    }
    this.transcriptLines.push(line);
    this.emit({ type: 'transcript', role, text, ...extra }, atMs);
  }

  state(_from: string | null, to: string): void {
    this.states.push(to);
  }

  saveRecord(kind: string, data: Record<string, unknown>): void {
    this.records.push({ kind, data });
  }

  turn(timeline: TurnTimeline, atMs: number): void {
    const rounded = roundTimes(timeline);
    this.turns.push(rounded);
    this.emit({ type: 'turn', timeline: rounded }, atMs);
  }

  bargeIn(): void {
    this.bargeIns++;
  }

  falseBargeIn(): void {
    this.falseBargeIns++;
  }

  error(stage: EngineStage, err: unknown, atMs: number): void {
    const code = err instanceof PalabreError ? err.code : 'internal';
    const message = err instanceof Error ? err.message : String(err);
    this.errors.push({ stage, code, message, atMs: Math.round(atMs) });
    this.emit({ type: 'error', stage, code, message }, atMs);
  }

  summary(atMs: number, end: { reason: CallEndReason; detail?: string }): CallSummary {
    return {
      id: this.callId,
      language: this.language,
      startedAt: this.startedAt.toISOString(),
      endedAt: new Date(this.startedAt.getTime() + atMs).toISOString(),
      durationMs: Math.round(atMs),
      endReason: end.reason,
      ...(end.detail ? { endDetail: end.detail } : {}),
      transcript: [...this.transcriptLines],
      states: [...this.states],
      records: [...this.records],
      turns: [...this.turns],
      bargeIns: { total: this.bargeIns, false: this.falseBargeIns },
      errors: [...this.errors],
    };
  }
}

/** Timeline times to 0.1 ms: enough for latencies, and short in JSON. */
function roundTimes(t: TurnTimeline): TurnTimeline {
  const out = { ...t } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'number' && k !== 'turn') out[k] = Math.round(v * 10) / 10;
  if (t.bargeIn) out.bargeIn = { ...t.bargeIn, detectedAtMs: Math.round(t.bargeIn.detectedAtMs * 10) / 10, stoppedAtMs: Math.round(t.bargeIn.stoppedAtMs * 10) / 10 };
  return out as unknown as TurnTimeline;
}
