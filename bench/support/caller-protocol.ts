/** Messages between the benchmark (the server's process) and the simulated callers' process. */
import type { DialTarget, LineStats } from './drivers/line-types.js';
import type { BenchTransport } from './drivers/lines.js';
import type { OutboundFigures } from './outbound-meter.js';

/** Event-loop delay percentiles in ms (perf_hooks.monitorEventLoopDelay, 10 ms resolution). */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** One step of the caller's script, taken after the bot has finished speaking. */
export type CallerStep = { say: string } | { dtmf: string };

export type ToCallers =
  | {
      type: 'setup';
      transport: BenchTransport;
      steps: CallerStep[];
      /** Caller audio per line of the script: raw s16le 8 kHz files. */
      clips: Record<string, string>;
      /** The bot counts as done once quiet this long. */
      quietMs: number;
      /**
       * Up to this much more before each step, at random: people take varying
       * pauses, and callers in lock-step would make every call's work land in
       * the same instant, which no real line does.
       */
      thinkMs: number;
      /** A call whose bot says nothing for this long is hung up and counted as stuck. */
      stepTimeoutMs: number;
    }
  /** Dial `calls` lines to `target` over `rampMs`; each redials when its call ends, until `hangup`. */
  | { type: 'dial'; target: DialTarget; calls: number; rampMs: number }
  | { type: 'measure' }
  | { type: 'report' }
  /** Hang every line up, then answer `idle`. */
  | { type: 'hangup' }
  | { type: 'exit' };

export interface CallerFigures {
  outbound: OutboundFigures;
  /** The callers' own event-loop delay over the window, ms: how much their clock can be trusted. */
  loopDelay: LoopDelay;
  /** CPU the callers' process used over the window, % of one core. */
  cpuPercent: number;
  dialled: number;
  /** Calls that ran their script to the bot's goodbye. */
  completed: number;
  /** Calls where the bot said nothing for stepTimeoutMs, or that failed to connect. */
  stuck: number;
  failedDials: number;
  lastError?: string;
  /** The line driver's own wire checks, over the whole run (rtp: packets from palabre, violations). */
  wire?: LineStats;
}

export type FromCallers =
  /** Set up; `peer` is where the callers listen, for transports where palabre is the client. */
  | { type: 'ready'; peer?: DialTarget }
  /** The caller of call `id` is about to say `text`. */
  | { type: 'cue'; id: string; text: string }
  /** Every line of the last `dial` is connected. */
  | { type: 'dialled'; calls: number }
  | { type: 'report'; figures: CallerFigures }
  | { type: 'idle'; figures: Omit<CallerFigures, 'outbound' | 'loopDelay' | 'cpuPercent'> }
  | { type: 'error'; message: string };
