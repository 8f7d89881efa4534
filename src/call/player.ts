/**
 * Speaks the dialog's `say` outputs on a CallIO: text → phrase cache (which
 * streams the synthesis on a miss) → 20 ms frames → io.write, one utterance
 * after the other, synthesis running at most `maxAheadMs` ahead of playout.
 * Only `writeAheadMs` of that is handed to the IO at once; the rest waits here,
 * framed, and is written as the audio plays. So an utterance's start costs the
 * event loop a few hundred ms of audio's resampling and queueing, not seconds
 * of it, which with many calls would hold up every call's pacer (jitter).
 *
 * A text of several sentences is synthesised sentence by sentence (unless the
 * whole text is already cached), which gives the first audio sooner and exact
 * sentence boundaries in the audio. interrupt() stops everything at once: the
 * IO's queue is cleared, the synthesis aborted, and each utterance reports what
 * was actually played and the words that were heard: the words whose audio
 * had ended, when the engine gave word timings (kept by the phrase cache with
 * the audio), else an even-pace estimate inside the cut sentence (heard.ts).
 */
import { Chunker } from '../audio/chunker.js';
import { FRAME_MS, type Frame } from '../audio/frame.js';
import { decodeSlinLe } from '../audio/slin.js';
import type { SpeakingStyle, Tts, TtsWordTiming } from '../engines/tts/types.js';
import type { PhraseCache } from '../engines/tts/phrase-cache.js';
import { PalabreError } from '../errors.js';
import { sleep, type Clock, type TimerHandle } from './clock.js';
import { charsHeard, sentenceSpans, wholeWordsWithin } from './heard.js';
import type { CallIO } from './io.js';

/** How much of a chunk is decoded and framed at once. */
const SLICE_MS = 200;
/** How often held audio is topped up into the IO. */
const FEED_EVERY_MS = 100;

export interface SayRequest {
  text: string;
  language: string;
  style?: SpeakingStyle;
  voice?: string;
}

export interface SayHooks {
  /** Times in ms on the player's time base. */
  onRequest?: (atMs: number) => void;
  onFirstChunk?: (atMs: number) => void;
  onFirstFrame?: (atMs: number) => void;
}

export interface UtteranceOutcome {
  /** The request as given (to say it again). */
  request: SayRequest;
  text: string;
  /** played: heard to the end; cut: interrupted while playing; dropped: interrupted before any of it played; failed: TTS error. */
  status: 'played' | 'cut' | 'dropped' | 'failed';
  /** The words actually played (the whole text when played). */
  heard: string;
  /** From the start of the sentence the cut fell in to the end of the text: what to say again to resume ('' when played). */
  rest: string;
  /** Audio written and audio played, in ms. */
  audioMs: number;
  playedMs: number;
  requestedAtMs?: number;
  firstChunkAtMs?: number;
  firstFrameAtMs?: number;
  endedAtMs: number;
  error?: { code: string; message: string };
}

export interface PlayerOptions {
  io: CallIO;
  tts: Tts;
  cache: PhraseCache;
  clock: Clock;
  /** Clock time that is ms 0 of the reported times (the call's start). */
  origin?: number;
  /** How far synthesis may run ahead of what has played (default 3000 ms). */
  maxAheadMs?: number;
  /** How far ahead of what has played audio is written to the IO (default 500 ms, at most maxAheadMs); the rest is topped up as it plays. */
  writeAheadMs?: number;
  /** Speaking pace assumed for a sentence cut while still being synthesised, before its length is known (default 70 ms a character, learnt from the sentences played). */
  msPerChar?: number;
  /** The bot's audio started (first frame of a stretch) or stopped (played out or cut). */
  onSpeaking?: (speaking: boolean, atMs: number) => void;
  /** Nothing is queued, synthesised or playing any more (busy turned false). */
  onIdle?: () => void;
}

interface Piece {
  text: string;
  /** Offset of the piece in its utterance's text. */
  offset: number;
  startW: number | undefined;
  endW: number | undefined;
  /** The engine's word timings for the piece, as far as known (offsets into `text`, ms from its start). */
  words?: () => readonly TtsWordTiming[];
}

interface Utterance {
  req: SayRequest;
  text: string;
  hooks: SayHooks;
  resolve: (o: UtteranceOutcome) => void;
  pieces: Piece[];
  startW: number | undefined;
  endW: number | undefined;
  requestedAtMs?: number;
  firstChunkAtMs?: number;
  firstFrameAtMs?: number;
  error?: { code: string; message: string };
}

export class Player {
  private readonly io: CallIO;
  private readonly clock: Clock;
  private readonly origin: number;
  private readonly maxAheadMs: number;
  private readonly writeAheadMs: number;
  private readonly chunker: Chunker;
  /** Frames rendered and not yet written to the IO (the tail of the W stream), from index heldAt. */
  private held: Array<Frame | undefined> = [];
  private heldAt = 0;
  private feedTimer: TimerHandle | undefined;
  private heldWaiters: Array<() => void> = [];
  private queue: Utterance[] = [];
  /** Written in full, waiting to be heard. */
  private written: Utterance[] = [];
  private current: Utterance | undefined;
  private controller: AbortController | undefined;
  /** Ms of audio this player has rendered (written to the IO or held); positions in this stream are "W" times. */
  private writtenMs = 0;
  private basePlayed: number;
  private droppedMs = 0;
  private generation = 0;
  private pumping = false;
  private wake: (() => void) | undefined;
  private speakingNow = false;
  private closed = false;
  private learnt = { ms: 0, chars: 0 };
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: PlayerOptions) {
    this.io = options.io;
    this.clock = options.clock;
    this.origin = options.origin ?? options.clock.now();
    this.maxAheadMs = options.maxAheadMs ?? 3000;
    this.writeAheadMs = Math.max(FRAME_MS, Math.min(this.maxAheadMs, options.writeAheadMs ?? 500));
    this.chunker = new Chunker(options.io.sampleRate);
    this.basePlayed = options.io.playedMs();
  }

  /** True from the first frame of a stretch of speech until it has played out or been cut. */
  get speaking(): boolean {
    return this.speakingNow;
  }

  /** True while anything is queued, being synthesised or waiting to be heard. */
  get busy(): boolean {
    return this.pumping;
  }

  /** Queues an utterance; resolves once it has played, been cut, or failed. */
  say(req: SayRequest, hooks: SayHooks = {}): Promise<UtteranceOutcome> {
    return new Promise((resolve) => {
      const text = req.text.replace(/\s+/gu, ' ').trim();
      const u: Utterance = { req, text, hooks, resolve, pieces: [], startW: undefined, endW: undefined };
      if (this.closed || text === '') {
        resolve(this.outcome(u, text === '' ? 'played' : 'dropped', 0));
        return;
      }
      this.queue.push(u);
      this.wake?.();
      if (!this.pumping) void this.pump();
    });
  }

  /** Resolves when nothing is queued or playing. */
  async idle(): Promise<void> {
    while (this.pumping) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /**
   * Barge-in: drops the bot's queued audio now, aborts the synthesis and
   * returns what became of every utterance in flight, in order.
   */
  interrupt(): UtteranceOutcome[] {
    if (!this.pumping) return [];
    const dropped = this.io.clear() + this.dropHeld();
    this.droppedMs += dropped;
    this.chunker.reset();
    const playhead = this.writtenMs - dropped;
    this.generation++;
    this.controller?.abort(new PalabreError('aborted', 'the bot was interrupted'));
    const outcomes: UtteranceOutcome[] = [];
    for (const u of [...this.written, ...(this.current ? [this.current] : []), ...this.queue]) {
      const o = this.cutAt(u, playhead);
      u.resolve(o);
      outcomes.push(o);
    }
    this.written = [];
    this.current = undefined;
    this.queue = [];
    this.setSpeaking(false);
    this.wake?.();
    return outcomes;
  }

  /** Stops for good (the call ended): like interrupt, without touching the IO. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    this.controller?.abort(new PalabreError('aborted', 'the call ended'));
    this.dropHeld();
    const playhead = this.writtenMs;
    for (const u of [...this.written, ...(this.current ? [this.current] : []), ...this.queue]) u.resolve(this.cutAt(u, playhead));
    this.written = [];
    this.current = undefined;
    this.queue = [];
    this.wake?.();
  }

  private now(): number {
    return this.clock.now() - this.origin;
  }

  private setSpeaking(speaking: boolean): void {
    if (speaking === this.speakingNow) return;
    this.speakingNow = speaking;
    this.options.onSpeaking?.(speaking, this.now());
  }

  private playhead(): number {
    return this.io.playedMs() - this.basePlayed + this.droppedMs;
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        const gen = this.generation;
        const next = this.queue.shift();
        if (next) {
          this.current = next;
          await this.render(next, gen);
          if (gen !== this.generation || this.closed) continue;
          this.current = undefined;
          if (next.error && next.startW === undefined) next.resolve(this.outcome(next, 'failed', 0));
          else this.written.push(next);
          continue;
        }
        if (this.written.length === 0 || this.closed) break;
        // Everything is rendered: wait for it to be written and heard, or for another utterance to arrive.
        const arrived = new Promise<void>((r) => (this.wake = r));
        // Not tracked: playout is time passing on the clock, not work.
        await Promise.race([this.allWritten().then(() => this.io.waitForPlayout()), arrived]);
        this.wake = undefined;
        if (gen !== this.generation || this.queue.length > 0) continue;
        const done = this.written;
        this.written = [];
        for (const u of done) u.resolve(this.outcome(u, u.error ? 'failed' : 'played', u.endW !== undefined && u.startW !== undefined ? u.endW - u.startW : 0));
        break;
      }
    } finally {
      this.dropHeld();
      this.pumping = false;
      this.setSpeaking(false);
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      this.options.onIdle?.();
    }
  }

  private plan(u: Utterance): Piece[] {
    const spans = sentenceSpans(u.text);
    const whole: Piece[] = [{ text: u.text, offset: 0, startW: undefined, endW: undefined }];
    if (spans.length <= 1) return whole;
    const format = { encoding: 'pcm16' as const, sampleRate: this.io.sampleRate };
    // A prompt already rendered whole (a flow's fixed prompts are preloaded) is played as it is.
    try {
      if (this.options.cache.peek(this.options.tts, { ...u.req, text: u.text }, format)) return whole;
    } catch {
      return whole;
    }
    return spans.map((s) => ({ text: u.text.slice(s.start, s.end), offset: s.start, startW: undefined, endW: undefined }));
  }

  private async render(u: Utterance, gen: number): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    u.requestedAtMs = this.now();
    u.hooks.onRequest?.(u.requestedAtMs);
    u.pieces = this.plan(u);
    this.chunker.reset();
    const format = { encoding: 'pcm16' as const, sampleRate: this.io.sampleRate };
    const live = (): boolean => gen === this.generation && !this.closed;
    try {
      for (const piece of u.pieces) {
        piece.startW = this.writtenMs;
        const phrase = this.options.cache.stream(this.options.tts, { ...u.req, text: piece.text, signal: controller.signal }, format);
        piece.words = phrase.words;
        const it = phrase.chunks[Symbol.asyncIterator]();
        let odd: number | undefined;
        try {
          for (;;) {
            const r = await this.clock.track(it.next());
            if (!live()) return;
            if (r.done) break;
            if (u.firstChunkAtMs === undefined) {
              u.firstChunkAtMs = this.now();
              u.hooks.onFirstChunk?.(u.firstChunkAtMs);
            }
            let bytes = r.value;
            if (odd !== undefined) {
              const joined = new Uint8Array(bytes.length + 1);
              joined[0] = odd;
              joined.set(bytes, 1);
              bytes = joined;
              odd = undefined;
            }
            if (bytes.length % 2 === 1) {
              odd = bytes[bytes.length - 1];
              bytes = bytes.subarray(0, bytes.length - 1);
            }
            // A cached phrase comes as one chunk of seconds: decoded and framed a slice at a time, as far as rendering gets.
            const sliceBytes = (this.io.sampleRate * 2 * SLICE_MS) / 1000;
            for (let at = 0; at < bytes.length; at += sliceBytes) {
              for (const frame of this.chunker.push(decodeSlinLe(bytes.subarray(at, at + sliceBytes)))) {
                if (!(await this.writeFrame(u, frame, gen, controller.signal))) return;
              }
            }
          }
        } finally {
          // Leaving early (abort, error) ends the phrase cache's follower, which stops a synthesis nobody else wants.
          void it.return?.(undefined)?.catch(() => undefined);
        }
        const tail = this.chunker.flush(true);
        if (tail && !(await this.writeFrame(u, tail, gen, controller.signal))) return;
        piece.endW = this.writtenMs;
        this.learnt.ms += piece.endW - piece.startW;
        this.learnt.chars += piece.text.length;
      }
    } catch (err) {
      if (!live()) return;
      this.chunker.reset();
      u.error = { code: err instanceof PalabreError ? err.code : 'engine_failed', message: err instanceof Error ? err.message : String(err) };
    } finally {
      if (this.controller === controller) this.controller = undefined;
    }
    if (u.startW !== undefined) u.endW = this.writtenMs;
  }

  private async writeFrame(u: Utterance, frame: Frame, gen: number, signal: AbortSignal): Promise<boolean> {
    while (this.writtenMs - this.playhead() > this.maxAheadMs) {
      try {
        await sleep(this.clock, FRAME_MS, signal);
      } catch {
        return false;
      }
      if (gen !== this.generation || this.closed) return false;
    }
    if (u.startW === undefined) u.startW = this.writtenMs;
    this.held.push(frame);
    this.writtenMs += FRAME_MS;
    this.feed();
    if (u.firstFrameAtMs === undefined) {
      u.firstFrameAtMs = this.now();
      u.hooks.onFirstFrame?.(u.firstFrameAtMs);
    }
    this.setSpeaking(true);
    return true;
  }

  private get heldMs(): number {
    return (this.held.length - this.heldAt) * FRAME_MS;
  }

  /** Writes held frames until the IO holds writeAheadMs beyond what has played; comes back for the rest. */
  private feed(): void {
    try {
      while (this.heldAt < this.held.length && this.writtenMs - this.heldMs - this.playhead() < this.writeAheadMs) {
        const frame = this.held[this.heldAt] as Frame;
        this.held[this.heldAt++] = undefined;
        this.io.write(frame);
      }
    } catch (err) {
      // The IO refused audio: what is held would never play either.
      this.droppedMs += this.dropHeld();
      throw err;
    }
    if (this.heldAt < this.held.length) {
      if (this.heldAt >= 64) {
        this.held = this.held.slice(this.heldAt);
        this.heldAt = 0;
      }
      // Topped up a few frames at a time (fewer timers with many calls), long before the IO could run dry.
      this.feedTimer ??= this.clock.setTimeout(this.onFeedTimer, Math.min(FEED_EVERY_MS, this.writeAheadMs / 4));
      return;
    }
    if (this.held.length > 0) {
      this.held = [];
      this.heldAt = 0;
    }
    this.resolveHeldWaiters();
  }

  private readonly onFeedTimer = (): void => {
    this.feedTimer = undefined;
    try {
      this.feed();
    } catch (err) {
      // Written from a timer, so no render is there to catch it: the utterances still playing fail.
      const error = { code: err instanceof PalabreError ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) };
      for (const u of [...this.written, ...(this.current ? [this.current] : [])]) u.error ??= error;
    }
  };

  /** Forgets the frames not yet written (interrupt, close); returns their ms. */
  private dropHeld(): number {
    const dropped = this.heldMs;
    this.held = [];
    this.heldAt = 0;
    if (this.feedTimer !== undefined) this.clock.clearTimeout(this.feedTimer);
    this.feedTimer = undefined;
    this.resolveHeldWaiters();
    return dropped;
  }

  private resolveHeldWaiters(): void {
    const waiters = this.heldWaiters;
    this.heldWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once every frame rendered has been written to the IO (or dropped). */
  private allWritten(): Promise<void> {
    if (this.heldAt >= this.held.length) return Promise.resolve();
    return new Promise((r) => this.heldWaiters.push(r));
  }

  /** What `u` became when the audio stopped at `playhead` (a W time). */
  private cutAt(u: Utterance, playhead: number): UtteranceOutcome {
    if (u.startW === undefined || playhead <= u.startW) return { ...this.outcome(u, 'dropped', 0), heard: '', rest: u.text };
    if (u.endW !== undefined && playhead >= u.endW) return this.outcome(u, u.error ? 'failed' : 'played', u.endW - u.startW);
    const playedMs = Math.min(playhead, u.endW ?? this.writtenMs) - u.startW;
    let heardChars = 0;
    let restFrom: number | undefined;
    for (const p of u.pieces) {
      if (p.startW === undefined || playhead <= p.startW) break;
      if (p.endW !== undefined && playhead >= p.endW) {
        heardChars = p.offset + p.text.length;
        continue;
      }
      const knownMs = (p.endW ?? this.writtenMs) - p.startW;
      const paceMs = this.learnt.chars > 0 ? this.learnt.ms / this.learnt.chars : (this.options.msPerChar ?? 70);
      const totalMs = p.endW !== undefined ? knownMs : Math.max(knownMs, p.text.length * paceMs);
      const inPiece = charsHeard(p.text.length, playhead - p.startW, totalMs, p.words?.());
      heardChars = p.offset + inPiece;
      // Resume from the start of the sentence the cut fell in (a piece played whole may hold several).
      const within = sentenceSpans(p.text).filter((sp) => sp.start <= inPiece);
      restFrom = p.offset + (within.length > 0 ? within[within.length - 1].start : 0);
      break;
    }
    const heard = wholeWordsWithin(u.text, heardChars);
    return { ...this.outcome(u, 'cut', playedMs), heard, rest: u.text.slice(restFrom ?? heardChars).trim() };
  }

  private outcome(u: Utterance, status: UtteranceOutcome['status'], playedMs: number): UtteranceOutcome {
    const played = status === 'played';
    return {
      request: u.req,
      text: u.text,
      status,
      heard: played ? u.text : '',
      rest: played ? '' : u.text,
      audioMs: u.startW !== undefined ? (u.endW ?? this.writtenMs) - u.startW : 0,
      playedMs,
      requestedAtMs: u.requestedAtMs,
      firstChunkAtMs: u.firstChunkAtMs,
      firstFrameAtMs: u.firstFrameAtMs,
      endedAtMs: this.now(),
      error: u.error,
    };
  }
}
