/**
 * Per-turn latencies of one call, read from the turn timelines the session
 * wrote: how long the caller waited for the bot's first audio after the end
 * of their turn, and the share of that spent in STT and in the dialog. A
 * figure is absent when its step did not happen (a DTMF turn has no STT, a
 * turn answered in silence has no first audio).
 */
import type { TurnTimeline } from '../call/events.js';

export interface TurnLatency {
  turn: number;
  kind: TurnTimeline['kind'];
  outcome: TurnTimeline['outcome'];
  /** End of the caller's turn → first frame of the bot's answer sent. */
  endOfTurnToFirstAudioMs?: number;
  /** STT asked for its final → final text. */
  sttMs?: number;
  /** Dialog handed the turn → dialog done. */
  dialogMs?: number;
  /** Speech asked of the TTS (or phrase cache) → its first audio. */
  ttsFirstAudioMs?: number;
}

export interface LatencySummary {
  /** Turns that had this figure. */
  count: number;
  mean: number | null;
  /** Nearest-rank 95th percentile. */
  p95: number | null;
}

export interface CallLatencies {
  turns: TurnLatency[];
  endOfTurnToFirstAudio: LatencySummary;
  stt: LatencySummary;
  dialog: LatencySummary;
  ttsFirstAudio: LatencySummary;
}

function span(from: number | undefined, to: number | undefined): number | undefined {
  return typeof from === 'number' && typeof to === 'number' && to >= from ? to - from : undefined;
}

export function turnLatency(t: TurnTimeline): TurnLatency {
  const out: TurnLatency = { turn: t.turn, kind: t.kind, outcome: t.outcome };
  const e2a = span(t.endOfTurnMs, t.firstAudioOutMs);
  const stt = span(t.sttStartMs, t.sttFinalMs);
  const dialog = span(t.dialogStartMs, t.dialogDoneMs);
  const tts = span(t.ttsRequestMs, t.firstTtsAudioMs);
  if (e2a !== undefined) out.endOfTurnToFirstAudioMs = e2a;
  if (stt !== undefined) out.sttMs = stt;
  if (dialog !== undefined) out.dialogMs = dialog;
  if (tts !== undefined) out.ttsFirstAudioMs = tts;
  return out;
}

/** Nearest rank: the smallest value with at least p of the values at or below it. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

export function summarize(values: number[]): LatencySummary {
  if (values.length === 0) return { count: 0, mean: null, p95: null };
  return { count: values.length, mean: values.reduce((a, b) => a + b, 0) / values.length, p95: percentile(values, 0.95) };
}

function isTimeline(v: unknown): v is TurnTimeline {
  const t = v as Partial<TurnTimeline> | null;
  return typeof t === 'object' && t !== null && typeof t.turn === 'number' && typeof t.endOfTurnMs === 'number';
}

/** Latencies from timelines as stored (jsonb, possibly malformed or repeated): one per turn number, the last one wins. */
export function callLatencies(timelines: unknown[]): CallLatencies {
  const byTurn = new Map<number, TurnTimeline>();
  for (const t of timelines) if (isTimeline(t)) byTurn.set(t.turn, t);
  const turns = [...byTurn.values()].sort((a, b) => a.turn - b.turn).map(turnLatency);
  const pick = (key: 'endOfTurnToFirstAudioMs' | 'sttMs' | 'dialogMs' | 'ttsFirstAudioMs') =>
    summarize(turns.map((t) => t[key]).filter((v): v is number => v !== undefined));
  return {
    turns,
    endOfTurnToFirstAudio: pick('endOfTurnToFirstAudioMs'),
    stt: pick('sttMs'),
    dialog: pick('dialogMs'),
    ttsFirstAudio: pick('ttsFirstAudioMs'),
  };
}
