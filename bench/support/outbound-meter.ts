/**
 * What the simulated callers measure of the bot audio palabre sends them, all
 * calls together, over the measurement window only.
 *
 * Paced transports (AudioSocket, RTP) must deliver one frame per 20 ms slot:
 * jitter is |inter-arrival − 20 ms| between consecutive frames of a call, a
 * late frame came more than 10 ms after the previous one's slot ended (gap
 * > 30 ms), a stall is a gap over 100 ms, and missing slots are the slots of
 * the window that carried no frame (elapsed / 20 ms − frames received, beyond
 * the two slots the 40 ms lead may take). The pacer keeps up to 40 ms of lead,
 * built a step per slot, so speech and silence both come one frame per slot;
 * an older pacer sent the first frames of each utterance together.
 * `steadyJitter` still leaves out the gaps around utterance edges (the first
 * three speech frames after silence, the first silence after speech), so a
 * pacer that bursts there would show apart from scheduling noise.
 * Buffering transports (Twilio) are judged by playout instead: an underrun is
 * the caller's playout buffer running dry with more of the bot's audio
 * arriving within 300 ms, i.e. a stutter in the middle of speech.
 */
import { FRAME_MS_PERIOD } from './wire-constants.js';
import { Histogram, type HistogramData } from './histogram.js';

/** Slots the transport's lead may take at either edge of the window (40 ms). */
const LEAD_SLOTS = 2;

export interface OutboundFigures {
  jitter: HistogramData;
  steadyJitter: HistogramData;
  frames: number;
  late: number;
  stalls: number;
  missingSlots: number;
  underruns: number;
  /** Bot audio received, in ms (buffering transports). */
  audioMs: number;
  marksEchoed: number;
}

export class OutboundMeter {
  measuring = false;
  /** Bumped at each start, so lines reset their per-call state lazily. */
  generation = 0;
  readonly jitter = new Histogram();
  readonly steadyJitter = new Histogram();
  frames = 0;
  late = 0;
  stalls = 0;
  missingSlots = 0;
  underruns = 0;
  audioMs = 0;
  marksEchoed = 0;
  private readonly paced = new Set<PacedArrivals>();

  start(): void {
    this.jitter.reset();
    this.steadyJitter.reset();
    this.frames = this.late = this.stalls = this.missingSlots = this.underruns = this.audioMs = this.marksEchoed = 0;
    this.generation++;
    this.measuring = true;
  }

  stop(): OutboundFigures {
    this.measuring = false;
    for (const p of this.paced) p.settle();
    return {
      jitter: this.jitter.toJSON(),
      steadyJitter: this.steadyJitter.toJSON(),
      frames: this.frames,
      late: this.late,
      stalls: this.stalls,
      missingSlots: this.missingSlots,
      underruns: this.underruns,
      audioMs: this.audioMs,
      marksEchoed: this.marksEchoed,
    };
  }

  /** Arrival bookkeeping for one call of a paced transport. */
  pacedLine(): PacedArrivals {
    const p = new PacedArrivals(this);
    this.paced.add(p);
    return p;
  }

  release(p: PacedArrivals): void {
    if (this.measuring) p.settle();
    this.paced.delete(p);
  }
}

export class PacedArrivals {
  private generation = -1;
  private first = 0;
  private last = 0;
  private count = 0;
  /** Speech frames in a row (0 after a silent frame). */
  private speechRun = 0;

  constructor(private readonly meter: OutboundMeter) {}

  frame(at: number, speech: boolean): void {
    const afterSpeech = this.speechRun > 0;
    this.speechRun = speech ? this.speechRun + 1 : 0;
    const m = this.meter;
    if (!m.measuring) return;
    if (this.generation !== m.generation) {
      this.generation = m.generation;
      this.first = at;
      this.count = 0;
    } else {
      const gap = at - this.last;
      const jitter = Math.abs(gap - FRAME_MS_PERIOD);
      m.jitter.add(jitter);
      if (speech ? this.speechRun > 3 : !afterSpeech) m.steadyJitter.add(jitter);
      if (gap > FRAME_MS_PERIOD + 10) m.late++;
      if (gap > 100) m.stalls++;
    }
    this.last = at;
    this.count++;
    m.frames++;
  }

  /** Adds the slots of the window this call left empty; once per window. */
  settle(): void {
    if (this.generation !== this.meter.generation || this.count === 0) return;
    const slots = Math.floor((this.last - this.first) / FRAME_MS_PERIOD) + 1;
    this.meter.missingSlots += Math.max(0, slots - this.count - LEAD_SLOTS);
    this.count = 0;
  }
}
