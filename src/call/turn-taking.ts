/**
 * Turn-taking for one call: decides, from one VAD probability per 20 ms frame
 * and the dialog's current ListenSpec, when the caller started a turn, when
 * the turn is over, when the caller is interrupting the bot, when keypad or
 * spoken digits are complete and when nobody said anything. Pure logic on
 * explicit times (ms since the call started, the end of each frame), so it is
 * tested with synthetic timelines; the session feeds it and acts on what it says.
 */
import { FRAME_MS } from '../audio/frame.js';
import { PalabreError } from '../errors.js';
import type { ListenSpec } from '../dialog/types.js';

export interface TurnTakingOptions {
  /** VAD probability at which speech starts (default 0.5). */
  threshold?: number;
  /** Once in speech, it continues down to threshold − stayMargin (default 0.15), as the VAD segmenter does. */
  stayMargin?: number;
  frameMs?: number;
  /** Non-speech that drops speech not yet long enough to count (default 120 ms); longer pauses start over. */
  pendingGapMs?: number;
  /** In digits mode, the pause that ends one spoken chunk of digits so it can be transcribed and counted (default 700 ms). */
  digitsSpeechSilenceMs?: number;
}

export type EndOfTurnReason = 'silence' | 'max-length';
export type DigitsReason = 'count' | 'terminator' | 'inter-digit';

export type TurnSignal =
  /** Speech lasted the minimum: a caller turn is under way (startMs is where the speech began). */
  | { type: 'speech-start'; atMs: number; startMs: number }
  /** The caller has spoken over the bot for bargeIn.minSpeechMs: stop the bot now. */
  | { type: 'barge-in'; atMs: number; startMs: number }
  | { type: 'speech-ignored'; atMs: number; startMs: number; endMs: number; reason: 'too-short' | 'bot-speaking' }
  /** The turn is over: its audio runs from startMs to endMs. `bargeIn` when it began by interrupting the bot. */
  | { type: 'end-of-turn'; atMs: number; startMs: number; endMs: number; reason: EndOfTurnReason; bargeIn: boolean }
  /** Keypad input (any mode) or a spoken-digits turn is complete: keypad digits and/or the transcripts of spoken chunks. */
  | { type: 'digits'; atMs: number; digits: string; spoken: string[]; reason: DigitsReason }
  | { type: 'no-input'; atMs: number; sinceMs: number };

interface Region {
  startMs: number;
  /** End of the last frame that was speech. */
  lastSpeechMs: number;
  inSpeech: boolean;
  phase: 'pending' | 'turn' | 'ignored';
  bargeIn: boolean;
}

export class TurnDetector {
  private readonly threshold: number;
  private readonly stay: number;
  private readonly frameMs: number;
  private readonly pendingGapMs: number;
  private readonly digitsSpeechSilenceMs: number;
  private spec: ListenSpec | undefined;
  private botSpeaking = false;
  private busy = false;
  private region: Region | undefined;
  /** No-input counts from here; undefined while disarmed. */
  private noInputFrom: number | undefined;
  private keypad = '';
  private spoken: string[] = [];
  private spokenCount = 0;
  private digitsDeadline: number | undefined;

  constructor(options: TurnTakingOptions = {}) {
    this.threshold = options.threshold ?? 0.5;
    this.stay = Math.max(0, this.threshold - (options.stayMargin ?? 0.15));
    this.frameMs = options.frameMs ?? FRAME_MS;
    this.pendingGapMs = options.pendingGapMs ?? 120;
    this.digitsSpeechSilenceMs = options.digitsSpeechSilenceMs ?? 700;
    if (!(this.threshold > 0 && this.threshold <= 1)) throw new PalabreError('bad_request', `turn-taking threshold must be in (0, 1], got ${this.threshold}`);
  }

  get listening(): boolean {
    return this.spec !== undefined;
  }

  get currentSpec(): ListenSpec | undefined {
    return this.spec;
  }

  /** True while a confirmed caller turn is under way. */
  get inTurn(): boolean {
    return this.region?.phase === 'turn';
  }

  /** Keypad digits or spoken chunks collected towards a digits turn. */
  get digitsPending(): boolean {
    return this.keypad.length > 0 || this.spoken.length > 0;
  }

  /** Listens with `spec` from now on: a new question, so digits collected for the previous one are dropped. */
  listen(spec: ListenSpec, atMs: number): void {
    checkSpec(spec);
    this.spec = spec;
    this.resetDigits();
    if (!this.botSpeaking && !this.busy) this.noInputFrom = atMs;
  }

  /** Stops listening (the call is ending): nothing more is reported. */
  stop(): void {
    this.spec = undefined;
    this.region = undefined;
    this.noInputFrom = undefined;
    this.resetDigits();
  }

  /** The bot's audio started or stopped playing. */
  setBotSpeaking(speaking: boolean, atMs: number): TurnSignal[] {
    if (speaking === this.botSpeaking) return [];
    this.botSpeaking = speaking;
    const out: TurnSignal[] = [];
    if (speaking) {
      this.noInputFrom = undefined;
      const r = this.region;
      if (r && this.spec && !this.spec.bargeIn.allowed && r.phase !== 'ignored') {
        // Audio the caller speaks over the bot must not reach STT when barge-in is off, so the turn goes.
        out.push({ type: 'speech-ignored', atMs, startMs: r.startMs, endMs: atMs, reason: 'bot-speaking' });
        this.region = undefined;
      }
    } else if (!this.busy) {
      // Speech begun over the bot stays ignored until the caller pauses: its tail alone is no answer.
      this.noInputFrom = atMs;
    }
    return out;
  }

  /** The session is transcribing a turn or waiting for the dialog: no-input waits. */
  setBusy(busy: boolean, atMs: number): void {
    if (busy === this.busy) return;
    this.busy = busy;
    if (busy) this.noInputFrom = undefined;
    else if (!this.botSpeaking) this.noInputFrom = atMs;
  }

  /** One frame ending at `atMs` with the VAD's speech probability. */
  frame(atMs: number, probability: number): TurnSignal[] {
    const out = this.tick(atMs);
    const spec = this.spec;
    if (!spec) {
      this.region = undefined;
      return out;
    }
    let r = this.region;
    const speech = probability >= (r?.inSpeech ? this.stay : this.threshold);
    if (!r) {
      if (!speech) return out;
      const ignored = this.botSpeaking && !spec.bargeIn.allowed;
      r = { startMs: atMs - this.frameMs, lastSpeechMs: atMs, inSpeech: true, phase: ignored ? 'ignored' : 'pending', bargeIn: false };
      this.region = r;
    } else if (speech) {
      r.lastSpeechMs = atMs;
      r.inSpeech = true;
    } else {
      r.inSpeech = false;
    }
    const gap = atMs - r.lastSpeechMs;
    const span = r.lastSpeechMs - r.startMs;

    if (r.phase === 'ignored') {
      if (!speech && gap >= this.pendingGapMs) {
        out.push({ type: 'speech-ignored', atMs, startMs: r.startMs, endMs: r.lastSpeechMs, reason: 'bot-speaking' });
        this.region = undefined;
      }
      return out;
    }

    if (r.phase === 'pending') {
      const need = this.botSpeaking ? Math.max(spec.minSpeechMs, spec.bargeIn.minSpeechMs) : spec.minSpeechMs;
      if (speech && span >= need) {
        r.phase = 'turn';
        this.noInputFrom = undefined;
        out.push({ type: 'speech-start', atMs, startMs: r.startMs });
        if (this.botSpeaking) {
          r.bargeIn = true;
          out.push({ type: 'barge-in', atMs, startMs: r.startMs });
        }
      } else if (!speech && gap >= this.pendingGapMs) {
        out.push({ type: 'speech-ignored', atMs, startMs: r.startMs, endMs: r.lastSpeechMs, reason: this.botSpeaking ? 'bot-speaking' : 'too-short' });
        this.region = undefined;
      }
      return out;
    }

    // A turn under way. The bot may have started talking since (an answer to an earlier turn).
    if (this.botSpeaking && !r.bargeIn && speech && span >= spec.bargeIn.minSpeechMs) {
      r.bargeIn = true;
      out.push({ type: 'barge-in', atMs, startMs: r.startMs });
    }
    const silenceMs = spec.endpointing.mode === 'digits' ? this.digitsSpeechSilenceMs : spec.endpointing.silenceMs;
    if (!speech && gap >= silenceMs) {
      out.push({ type: 'end-of-turn', atMs, startMs: r.startMs, endMs: r.lastSpeechMs, reason: 'silence', bargeIn: r.bargeIn });
      this.region = undefined;
    } else if (atMs - r.startMs >= spec.maxUtteranceMs) {
      out.push({ type: 'end-of-turn', atMs, startMs: r.startMs, endMs: atMs, reason: 'max-length', bargeIn: r.bargeIn });
      this.region = undefined;
    }
    return out;
  }

  /**
   * The STT engine heard speech start (Deepgram's SpeechStarted) at `speechAtMs`,
   * reported at `atMs`. A second opinion, never what opens a turn: the VAD decides
   * turns (it is local, frame-exact and engine-independent, and a turn's STT stream
   * opens only once the VAD heard speech). Within a turn under way, though, it
   * stops the bot when the bot has started talking over the caller and the VAD has
   * not yet counted the caller's speech as a barge-in (a quiet or noisy line where
   * the probability stays under the threshold).
   */
  sttSpeechStarted(atMs: number, speechAtMs: number): TurnSignal[] {
    const spec = this.spec;
    const r = this.region;
    if (!spec || !r || r.phase !== 'turn' || r.bargeIn || !this.botSpeaking || !spec.bargeIn.allowed) return [];
    if (Math.max(r.lastSpeechMs, speechAtMs) - r.startMs < spec.bargeIn.minSpeechMs) return [];
    r.bargeIn = true;
    return [{ type: 'barge-in', atMs, startMs: r.startMs }];
  }

  /**
   * A keypad digit, in a state that takes keypad input. Digits mode ends the
   * turn at `count` digits, on the terminator or after interDigitMs. With
   * silence endpointing, keys end the turn as speech does: after silenceMs
   * with no further key ('#' after other keys ends it at once), so a number
   * typed key by key arrives whole and a menu choice arrives alone.
   */
  digit(digit: string, atMs: number): TurnSignal[] {
    const spec = this.spec;
    if (!spec || !spec.dtmf) return [];
    const ep = spec.endpointing;
    this.noInputFrom = undefined;
    if (ep.mode === 'digits') {
      if (ep.terminator !== undefined && digit === ep.terminator) return [this.completeDigits(atMs, 'terminator')];
      this.keypad += digit;
      if (this.keypad.length >= ep.count) return [this.completeDigits(atMs, 'count')];
      this.digitsDeadline = atMs + ep.interDigitMs;
      return [];
    }
    if (digit === '#' && this.keypad.length > 0) return [this.completeDigits(atMs, 'terminator')];
    this.keypad += digit;
    this.digitsDeadline = atMs + ep.silenceMs;
    return [];
  }

  /**
   * The transcript of a spoken chunk in digits mode, with how many digits it
   * holds: completes the turn once `count` digits are in, otherwise waits
   * interDigitMs for more.
   */
  spokenDigits(text: string, digitCount: number, atMs: number): TurnSignal[] {
    const spec = this.spec;
    if (!spec || spec.endpointing.mode !== 'digits') return [];
    if (text.trim() !== '') {
      this.spoken.push(text.trim());
      this.spokenCount += digitCount;
    }
    if (this.spoken.length === 0) return [];
    if (this.spokenCount + this.keypad.length >= spec.endpointing.count) return [this.completeDigits(atMs, 'count')];
    this.noInputFrom = undefined;
    this.digitsDeadline = atMs + spec.endpointing.interDigitMs;
    return [];
  }

  /** Time passes with no frame (frames also tick): fires the inter-digit and no-input deadlines. */
  tick(atMs: number): TurnSignal[] {
    const out: TurnSignal[] = [];
    if (!this.spec) return out;
    if (this.digitsDeadline !== undefined && atMs >= this.digitsDeadline && !this.inTurn && !this.busy) {
      out.push(this.completeDigits(atMs, 'inter-digit'));
    }
    const due = this.noInputDue();
    if (due !== undefined && atMs >= due) {
      out.push({ type: 'no-input', atMs, sinceMs: this.noInputFrom as number });
      this.noInputFrom = undefined;
    }
    return out;
  }

  /** The next time tick() has something to decide, if any. */
  nextDeadline(): number | undefined {
    const due = [this.noInputDue(), this.inTurn || this.busy ? undefined : this.digitsDeadline].filter((d): d is number => d !== undefined);
    return due.length > 0 ? Math.min(...due) : undefined;
  }

  private noInputDue(): number | undefined {
    if (!this.spec || this.noInputFrom === undefined || this.botSpeaking || this.busy || this.inTurn || this.digitsPending) return undefined;
    return this.noInputFrom + this.spec.noInputMs;
  }

  private completeDigits(atMs: number, reason: DigitsReason): TurnSignal {
    const signal: TurnSignal = { type: 'digits', atMs, digits: this.keypad, spoken: [...this.spoken], reason };
    this.resetDigits();
    return signal;
  }

  private resetDigits(): void {
    this.keypad = '';
    this.spoken = [];
    this.spokenCount = 0;
    this.digitsDeadline = undefined;
  }
}

function checkSpec(spec: ListenSpec): void {
  const bad = (what: string, v: unknown): never => {
    throw new PalabreError('bad_request', `listen spec: ${what} must be a number of ms ≥ 0, got ${String(v)}`);
  };
  for (const [k, v] of [
    ['minSpeechMs', spec.minSpeechMs],
    ['maxUtteranceMs', spec.maxUtteranceMs],
    ['noInputMs', spec.noInputMs],
    ['bargeIn.minSpeechMs', spec.bargeIn.minSpeechMs],
  ] as const) {
    if (!(Number.isFinite(v) && v >= 0)) bad(k, v);
  }
  if (spec.endpointing.mode === 'silence' && !(spec.endpointing.silenceMs >= 0)) bad('endpointing.silenceMs', spec.endpointing.silenceMs);
  if (spec.endpointing.mode === 'digits') {
    if (!(Number.isInteger(spec.endpointing.count) && spec.endpointing.count >= 1)) {
      throw new PalabreError('bad_request', `listen spec: endpointing.count must be a whole number ≥ 1, got ${spec.endpointing.count}`);
    }
    if (!(spec.endpointing.interDigitMs > 0)) bad('endpointing.interDigitMs', spec.endpointing.interDigitMs);
  }
}

/**
 * Listening defaults for a session whose dialog has not said how to listen
 * yet; the same values as the dialog's own defaults (src/dialog/listen-spec.ts).
 */
export function defaultListen(): ListenSpec {
  return {
    endpointing: { mode: 'silence', silenceMs: 800 },
    minSpeechMs: 250,
    maxUtteranceMs: 20_000,
    noInputMs: 6_000,
    bargeIn: { allowed: true, minSpeechMs: 400, minWords: 1 },
    dtmf: false,
  };
}
