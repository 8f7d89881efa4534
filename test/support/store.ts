/**
 * A known set of calls for the operator API tests, written through the
 * store's real write path (CallWriter: start, events, end) and the
 * recordings sink, with stereo WAV files written by the recorder's own WAV
 * writer. The figures the tests expect are worked out by hand from SEED.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sql } from 'kysely';
import type { CallEvent, CallEventBody, CallSummary, TurnTimeline } from '../../src/call/events.js';
import type { CallMeta } from '../../src/call/factory.js';
import type { CallEndReason } from '../../src/call/io.js';
import { PIPELINE_RATE } from '../../src/audio/frame.js';
import { decodeWav, WavFileWriter } from '../../src/audio/wav.js';
import { createDbRecordingSink } from '../../src/recording/db-sink.js';
import { callerSentiment } from '../../src/store/sentiment.js';
import type { Store } from '../../src/store/types.js';
import { fliteWav } from './server.js';

export interface SeedTurn {
  caller: string;
  bot: string;
  /** ms since the call started */
  endOfTurnMs: number;
  /** firstAudioOut − endOfTurn; absent: the bot did not speak */
  waitMs?: number;
  sttMs?: number;
  dialogMs?: number;
  intent?: string;
}

export interface SeedCall {
  id: string;
  meta: CallMeta;
  /** Minutes after the seed's base time (see seedCalls). */
  startMin: number;
  /** Base: 'past' (local midnight 3 days ago) or 'today' (local midnight today). */
  day: 'past' | 'today' | 'old';
  turns: SeedTurn[];
  records?: Array<{ kind: string; data: Record<string, unknown> }>;
  /** Absent: the call is still running. */
  end?: { reason: CallEndReason; durationMs: number; detail?: string };
  usage?: unknown;
  cost?: number;
  recording?: 'wav' | 'mp3' | 'missing';
}

export const SEED: SeedCall[] = [
  {
    id: 'call-a1',
    meta: { transport: 'audiosocket', flow: 'support-desk', language: 'en', callerId: '+33612345678', externalId: 'uuid-a1' },
    day: 'past',
    startMin: 9 * 60,
    turns: [
      { caller: 'my heating is broken and I am furious', bot: 'I am sorry to hear that', endOfTurnMs: 1000, waitMs: 520, sttMs: 300, dialogMs: 50, intent: 'report_problem' },
      { caller: 'the boiler makes a terrible noise', bot: 'I have opened a ticket', endOfTurnMs: 5000, waitMs: 800 },
    ],
    records: [{ kind: 'ticket', data: { problem: 'no_heating', name: 'Dupont, "Jo"', note: 'line one\r\nline two' } }],
    end: { reason: 'caller_hangup', durationMs: 120_000 },
    usage: { stt: { audioSeconds: 12.5, requests: 2 } },
    cost: 0.042,
    recording: 'wav',
  },
  {
    id: 'call-b2',
    meta: { transport: 'twilio', flow: 'support-desk', language: 'en', callerId: '+14155550100', externalId: 'CA0001' },
    day: 'past',
    startMin: 10 * 60,
    turns: [{ caller: 'thank you that is great', bot: 'I will put you through to a human', endOfTurnMs: 2000, waitMs: 600 }],
    records: [{ kind: 'ticket', data: { problem: 'billing', amount: 42 } }],
    end: { reason: 'transfer', durationMs: 60_000 },
    recording: 'mp3',
  },
  {
    id: 'call-c3',
    meta: { transport: 'browser', flow: 'heating-leads', language: 'fr', externalId: 'sess-c3' },
    day: 'past',
    startMin: 24 * 60 + 8 * 60,
    turns: [{ caller: 'bonjour', bot: 'Quel est votre code postal ?', endOfTurnMs: 1500 }],
    records: [{ kind: 'lead', data: { name: 'Martin', postcode: '75011', problem: 'no_heating' } }],
    end: { reason: 'caller_hangup', durationMs: 30_000, detail: 'hung up, "early"' },
    recording: 'missing',
  },
  {
    id: 'call-d4',
    meta: { transport: 'audiosocket', flow: 'support-desk', language: 'en', callerId: '100%_sure' },
    day: 'today',
    startMin: 1,
    turns: [
      { caller: 'this is unacceptable my internet is not working', bot: 'Let me check', endOfTurnMs: 1000, waitMs: 400 },
      { caller: 'still nothing', bot: 'A technician will call you', endOfTurnMs: 4000, waitMs: 700 },
    ],
    records: [{ kind: 'ticket', data: { problem: 'no_heating' } }],
    end: { reason: 'bot_hangup', durationMs: 90_000 },
  },
  {
    id: 'call-e5',
    meta: { transport: 'twilio', flow: 'support-desk', language: 'en', callerId: '+14155550199' },
    day: 'today',
    startMin: 2,
    turns: [{ caller: 'great thanks that is perfect', bot: 'Transferring you now', endOfTurnMs: 1200, waitMs: 1000 }],
    end: { reason: 'transfer', durationMs: 45_000 },
  },
  {
    id: 'call-f6',
    meta: { transport: 'browser', flow: 'support-desk', language: 'en' },
    day: 'today',
    startMin: 3,
    turns: [{ caller: 'I am still talking', bot: 'Go on', endOfTurnMs: 900 }],
  },
  // Pagination: 25 short calls on an older day, the first ten at the very same instant (ties broken by id).
  ...Array.from({ length: 25 }, (_, i): SeedCall => ({
    id: `bulk-${String(i).padStart(2, '0')}`,
    meta: { transport: 'simulate', flow: 'bulk-flow', language: 'en', callerId: `+3310000${String(i).padStart(2, '0')}` },
    day: 'old',
    startMin: i < 10 ? 0 : i,
    turns: [],
    end: { reason: 'caller_hangup', durationMs: 1000 },
  })),
];

/** The seed's days, in the server's (this process's) time zone. */
export function seedDays(now = new Date()) {
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const past = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 3);
  const old = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 10);
  return { today, past, old };
}

export function seedStart(call: SeedCall, days = seedDays()): Date {
  return new Date(days[call.day].getTime() + call.startMin * 60_000);
}

function timeline(turn: number, t: SeedTurn): TurnTimeline {
  const sttStart = t.endOfTurnMs;
  const sttFinal = sttStart + (t.sttMs ?? 200);
  const dialogDone = sttFinal + (t.dialogMs ?? 30);
  const tl: TurnTimeline = {
    turn,
    kind: 'speech',
    speechStartMs: t.endOfTurnMs - 800,
    speechEndMs: t.endOfTurnMs - 300,
    endOfTurnMs: t.endOfTurnMs,
    endReason: 'silence',
    sttStartMs: sttStart,
    sttFinalMs: sttFinal,
    text: t.caller,
    dialogStartMs: sttFinal,
    dialogDoneMs: dialogDone,
    intent: t.intent ?? null,
    outcome: 'answered',
  };
  if (t.waitMs !== undefined) {
    tl.ttsRequestMs = dialogDone;
    tl.firstTtsAudioMs = dialogDone + 10;
    tl.firstAudioOutMs = t.endOfTurnMs + t.waitMs;
  }
  return tl;
}

/** A stereo recording like the recorder's: the caller's speech (flite) on the left, a tone on the right. */
async function writeWav(file: string, seconds: number): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const speech = decodeWav(fliteWav('my heating is broken')).samples;
  const n = Math.round(seconds * PIPELINE_RATE);
  const left = new Int16Array(n);
  left.set(speech.subarray(0, Math.min(n, speech.length)));
  const right = new Int16Array(n);
  for (let i = 0; i < n; i++) right[i] = Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / PIPELINE_RATE));
  const writer = await WavFileWriter.open(file, { sampleRate: PIPELINE_RATE, channels: 2 });
  await writer.write([left, right]);
  await writer.close();
}

/** Writes SEED through the store (and the recordings under `recordingsDir`); returns the store flushed. */
export async function seedCalls(store: Store, recordingsDir: string, days = seedDays()): Promise<void> {
  const sink = createDbRecordingSink(store.db, { waitForCallMs: 0 });
  for (const call of SEED) {
    const startedAt = seedStart(call, days);
    const writer = store.writer(call.id);
    writer.start(call.id, call.meta, startedAt);
    const emit = (atMs: number, body: CallEventBody) => writer.event({ callId: call.id, atMs, ...body } as CallEvent);
    emit(0, { type: 'call-started', language: call.meta.language, startedAt: startedAt.toISOString() });
    emit(5, { type: 'state', from: null, to: 'greeting' });
    const timelines: TurnTimeline[] = [];
    const transcript: CallSummary['transcript'] = [];
    call.turns.forEach((t, i) => {
      const turn = i + 1;
      const tl = timeline(turn, t);
      timelines.push(tl);
      emit(tl.sttFinalMs as number, { type: 'transcript', role: 'caller', text: t.caller, turn, confidence: 0.9 });
      transcript.push({ role: 'caller', text: t.caller, atMs: tl.sttFinalMs as number, turn });
      if (t.intent) emit(tl.dialogDoneMs as number, { type: 'intent', intent: t.intent, confidence: 0.8, source: 'keywords', text: t.caller });
      emit(tl.dialogDoneMs as number, { type: 'turn', timeline: tl });
      emit((tl.firstAudioOutMs ?? (tl.dialogDoneMs as number)) + 500, { type: 'transcript', role: 'bot', text: t.bot, turn });
      transcript.push({ role: 'bot', text: t.bot, atMs: (tl.firstAudioOutMs ?? 0) + 500, turn });
    });
    for (const r of call.records ?? []) emit(6000, { type: 'record', kind: r.kind, data: r.data });
    if (call.end) {
      const endedAt = new Date(startedAt.getTime() + call.end.durationMs);
      emit(call.end.durationMs, { type: 'call-ended', reason: call.end.reason, endedAt: endedAt.toISOString(), durationMs: call.end.durationMs, ...(call.end.detail ? { detail: call.end.detail } : {}) });
      const summary: CallSummary = {
        id: call.id,
        language: call.meta.language,
        startedAt: startedAt.toISOString(),
        endedAt: endedAt.toISOString(),
        durationMs: call.end.durationMs,
        endReason: call.end.reason,
        ...(call.end.detail ? { endDetail: call.end.detail } : {}),
        transcript,
        states: ['greeting'],
        records: call.records ?? [],
        turns: timelines,
        bargeIns: { total: 0, false: 0 },
        errors: [],
      };
      writer.end(summary, { sentiment: callerSentiment(transcript), usage: call.usage, cost: call.cost ?? null });
    }
  }
  await store.flush();
  // Records are stamped when written; put them in their call, as a live call would have.
  await sql`update records set created_at = calls.started_at + interval '1 minute' from calls where calls.id = records.call_id`.execute(store.db);
  for (const call of SEED) {
    if (!call.recording) continue;
    const startedAt = seedStart(call, days);
    const ext = call.recording === 'mp3' ? 'mp3' : 'wav';
    const path = `${startedAt.getUTCFullYear()}/${call.id}.${ext}`;
    const file = join(recordingsDir, path);
    if (call.recording === 'wav') await writeWav(file, 3);
    if (call.recording === 'mp3') {
      await writeWav(file + '.wav', 2);
      writeFileSync(file, execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file + '.wav', '-f', 'mp3', 'pipe:1'], { maxBuffer: 16 << 20 }));
    }
    const bytes = call.recording === 'missing' ? 1000 : readFileSync(file).length;
    await sink.finished({ callId: call.id, path, format: ext, sampleRate: PIPELINE_RATE, channels: 2, durationMs: 3000, bytes, complete: true, expiresAt: null });
  }
}
