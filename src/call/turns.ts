/**
 * Acts on what turn-taking decides: opens and closes caller turns (audio
 * capture, STT), stops the bot on a barge-in and resumes it after a false one,
 * collects digits, reports no-input, and keeps each turn's timeline until it
 * is complete.
 *
 * A false interruption (fewer than bargeIn.minWords words transcribed) makes
 * the bot say again what was cut, from the start of the sentence it was cut
 * in, without involving the dialog: its state did not change, and a `repeat`
 * event would restart the whole prompt (and may count as a repeat in the flow).
 */
import type { DialogEvent } from '../dialog/types.js';
import type { SpeechCapture, TurnAudio } from './capture.js';
import { countSpokenDigits } from './digits.js';
import type { TurnTimeline } from './events.js';
import type { SayRequest } from './player.js';
import type { SessionCore } from './session-core.js';
import type { TurnSignal } from './turn-taking.js';

interface Resumable {
  req: SayRequest;
  text: string;
}

type Signal<T extends TurnSignal['type']> = Extract<TurnSignal, { type: T }>;

type Transcript = { ok: true; text: string; confidence?: number } | { ok: false; error: unknown };

export class TurnHandler {
  private turnNo = 0;
  private active: TurnTimeline | undefined;
  private readonly open = new Set<TurnTimeline>();
  /** What a barge-in cut, by turn, to say again if the interruption proves false. */
  private readonly resume = new Map<number, Resumable[]>();
  private lastBotStopMs = -Infinity;
  private lastTurnEndMs = -Infinity;
  private noInputCount = 0;
  /** The last turn's transcript handed on (or dropped). */
  private delivered: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: SessionCore,
    private readonly capture: SpeechCapture,
  ) {}

  handle(signals: TurnSignal[]): void {
    const core = this.core;
    for (const s of signals) {
      if (core.ending()) return;
      switch (s.type) {
        case 'speech-start':
          this.onSpeechStart(s.startMs);
          break;
        case 'barge-in':
          this.onBargeIn(s);
          break;
        case 'speech-ignored':
          core.emit({ type: 'speech-ignored', startMs: s.startMs, endMs: s.endMs, reason: s.reason });
          if (this.active && !core.detector.inTurn) {
            // The turn under way was dropped (the bot started speaking and barge-in is off).
            this.capture.cancel();
            this.open.delete(this.active);
            this.active = undefined;
          }
          break;
        case 'end-of-turn':
          this.onEndOfTurn(s);
          break;
        case 'digits':
          this.sendDigits(s, this.newTurn(s.digits.length > 0 ? 'dtmf' : 'speech', s.reason));
          break;
        case 'no-input':
          this.noInputCount++;
          core.emit({ type: 'no-input', count: this.noInputCount });
          core.toDialog({ type: 'no-input' }, this.newTurn('no-input', 'no-input'));
          break;
      }
    }
    core.armDeadline();
  }

  /** A keypad digit the current state accepts. */
  dtmf(digit: string): void {
    const core = this.core;
    const spec = core.detector.currentSpec;
    if (!spec) return;
    // A key pressed while the bot speaks interrupts it, when the state lets the caller interrupt.
    if (core.botSpeaking() && spec.bargeIn.allowed) core.interrupt();
    this.noInputCount = 0;
    this.handle(core.detector.digit(digit, core.now()));
  }

  botStopped(atMs: number): void {
    this.lastBotStopMs = atMs;
  }

  finish(turn: TurnTimeline, outcome: TurnTimeline['outcome']): void {
    if (!this.open.delete(turn)) return;
    turn.outcome = outcome;
    this.core.record.turn(turn, this.core.now());
  }

  /** The call ended: turns still open are recorded as cancelled. */
  finishAll(): void {
    for (const turn of [...this.open]) this.finish(turn, 'cancelled');
  }

  private newTurn(kind: TurnTimeline['kind'], endReason: TurnTimeline['endReason']): TurnTimeline {
    const turn: TurnTimeline = { turn: ++this.turnNo, kind, endOfTurnMs: this.core.now(), endReason, outcome: 'answered' };
    this.open.add(turn);
    return turn;
  }

  private onSpeechStart(startMs: number): void {
    const core = this.core;
    const turn = this.newTurn('speech', 'silence');
    turn.speechStartMs = startMs;
    this.active = turn;
    this.noInputCount = 0;
    const spec = core.detector.currentSpec;
    // With barge-in off, nothing the caller said over the bot may reach the STT, pre-roll included.
    const notBefore = Math.max(this.lastTurnEndMs, spec && !spec.bargeIn.allowed ? this.lastBotStopMs : -Infinity);
    this.capture.begin(turn.turn, startMs, notBefore, spec, core.signal);
    core.emit({ type: 'speech', phase: 'start', startMs });
  }

  private onBargeIn(s: Signal<'barge-in'>): void {
    const core = this.core;
    const outcomes = core.interrupt();
    const stoppedAtMs = core.now();
    const turn = this.active;
    if (!turn) return;
    turn.bargeIn = { detectedAtMs: s.atMs, stoppedAtMs };
    this.resume.set(
      turn.turn,
      outcomes.filter((o) => (o.status === 'cut' || o.status === 'dropped') && o.rest !== '').map((o) => ({ req: o.request, text: o.rest })),
    );
    const heard = outcomes
      .filter((o) => o.status === 'cut')
      .map((o) => o.heard)
      .join(' ');
    core.record.bargeIn();
    core.emit({ type: 'barge-in', outcome: 'detected', turn: turn.turn, speechStartMs: s.startMs, reactionMs: stoppedAtMs - s.atMs, heard });
  }

  private onEndOfTurn(s: Signal<'end-of-turn'>): void {
    const core = this.core;
    const turn = this.active;
    this.active = undefined;
    this.lastTurnEndMs = s.atMs;
    if (!turn) return;
    turn.speechEndMs = s.endMs;
    turn.endOfTurnMs = s.atMs;
    turn.endReason = s.reason;
    core.emit({ type: 'speech', phase: 'end', startMs: s.startMs, endMs: s.endMs, reason: s.reason });
    core.setBusy(+1);
    // Transcripts run side by side but reach the dialog in the order the turns were spoken.
    const transcript = this.transcribe(turn, this.capture.end(s.endMs));
    const step = this.delivered.then(() => transcript).then((t) => this.deliver(turn, t));
    this.delivered = step.catch(() => undefined);
    core.track(step.finally(() => core.setBusy(-1)));
  }

  private async transcribe(turn: TurnTimeline, audio: TurnAudio): Promise<Transcript> {
    const core = this.core;
    turn.sttStartMs = core.now();
    try {
      const result = await core.clock.track(core.withTimeout(audio.final(core.signal), core.options.sttTimeoutMs, 'speech-to-text'));
      turn.sttFinalMs = core.now();
      turn.text = result.text.trim();
      return { ok: true, text: turn.text, confidence: result.confidence };
    } catch (err) {
      audio.close();
      return { ok: false, error: err };
    }
  }

  private deliver(turn: TurnTimeline, t: Transcript): void {
    const core = this.core;
    if (core.ending()) return;
    if (!t.ok) {
      const next = core.engineFailure('stt', t.error);
      this.finish(turn, 'failed');
      if (next === 'error-path') return;
      // The caller was not understood: take up what they cut, or have the dialog ask again.
      if (turn.bargeIn) this.resumeAfter(turn);
      else core.toDialog({ type: 'repeat' });
      return;
    }
    core.engineSucceeded('stt');
    const { text, confidence } = t;
    if (text !== '') core.record.transcript('caller', text, core.now(), { turn: turn.turn, confidence });
    const spec = core.detector.currentSpec ?? core.fallbackListen;
    if (turn.bargeIn) {
      const words = text.split(/\s+/u).filter((w) => w !== '').length;
      turn.bargeIn.genuine = words >= spec.bargeIn.minWords;
      const base = { type: 'barge-in' as const, turn: turn.turn, speechStartMs: turn.speechStartMs ?? 0, text };
      if (!turn.bargeIn.genuine) {
        core.record.falseBargeIn();
        const resumed = this.resumeAfter(turn);
        core.emit({ ...base, outcome: 'false', resumed });
        this.finish(turn, 'false-interruption');
        return;
      }
      this.resume.delete(turn.turn);
      core.emit({ ...base, outcome: 'confirmed' });
    }
    if (spec.endpointing.mode === 'digits') {
      const done = core.detector.spokenDigits(text, countSpokenDigits(text), core.now()).find((s): s is Signal<'digits'> => s.type === 'digits');
      if (done) this.sendDigits(done, turn);
      else this.finish(turn, 'collecting-digits');
      core.armDeadline();
      return;
    }
    if (text === '') {
      core.emit({ type: 'speech-ignored', startMs: turn.speechStartMs ?? 0, endMs: turn.speechEndMs ?? 0, reason: 'no-words' });
      this.finish(turn, 'empty');
      return;
    }
    core.toDialog({ type: 'utterance', text, confidence, language: core.language }, turn);
  }

  /** Says again what a barge-in cut, from the start of the sentence it fell in; returns that text. */
  private resumeAfter(turn: TurnTimeline): string {
    const parts = this.resume.get(turn.turn) ?? [];
    this.resume.delete(turn.turn);
    for (const p of parts) this.core.speak({ ...p.req, text: p.text });
    return parts.map((p) => p.text).join(' ');
  }

  private sendDigits(s: Signal<'digits'>, turn: TurnTimeline): void {
    turn.endReason = s.reason;
    turn.endOfTurnMs = s.atMs;
    let event: DialogEvent | undefined;
    if (s.digits.length > 0) event = { type: 'dtmf', digits: s.digits };
    else if (s.spoken.length > 0) event = { type: 'utterance', text: s.spoken.join(' '), language: this.core.language };
    if (event) this.core.toDialog(event, turn);
    else this.finish(turn, 'empty');
  }
}
