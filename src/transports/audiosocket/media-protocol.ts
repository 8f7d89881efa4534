/**
 * Messages between the main thread and the AudioSocket media thread, which
 * owns the listening socket, every connection, and the pacing of bot audio.
 * Each side batches what it has to say during one event-loop turn into a
 * single message, in order, so a call's audio, digits and hangup arrive as
 * they happened and hundreds of calls cost a few messages per 20 ms, not one
 * per frame.
 */
import type { CallEndReason } from '../../call/io.js';
import type { AudioSocketCounters, AudioSocketServerOptions } from './server.js';
import type { AudioSocketEndCause } from './io.js';

export interface MediaThreadInit {
  /** What the thread's AudioSocket server is started with; unset fields take that server's defaults. */
  server: Pick<AudioSocketServerOptions, 'host' | 'port' | 'allow' | 'maxCalls' | 'firstFrameTimeoutMs' | 'io'>;
  /** Lowest pino level the thread forwards (numeric). */
  logLevel: number;
  /** Report the time of every frame handed to a socket (the calls benchmark measures pacing with it). */
  reportFrameSends: boolean;
  /** Niceness the thread gives itself (Linux); 0 leaves it. */
  nice: number;
}

/**
 * Live figures of one connection, written by the media thread as it sends and
 * read by the main thread when it needs them (playedMs at a barge-in, stats),
 * so neither waits for the other. Times are epoch milliseconds
 * (performance.timeOrigin + performance.now()), the same clock on both threads.
 */
export const SLOT = {
  sentMs: 0,
  playEnd: 1,
  framesIn: 2,
  framesOut: 3,
  silenceOut: 4,
  dtmf: 5,
  inboundDropped: 6,
  lateFrames: 7,
  maxLatenessMs: 8,
} as const;
export const SLOT_FIELDS = 9;

/** Audio of many connections in one transfer: `index` holds [conn, sampleCount] pairs, `samples` their frames back to back. */
export interface AudioBlock {
  t: 'audio';
  index: Int32Array;
  samples: Int16Array;
}

// ---- main → media thread ----

export type ToMedia =
  | AudioBlock
  | { t: 'flow'; req: number; flow?: string; language?: string; error?: string }
  | { t: 'ran'; conn: number }
  | { t: 'clear'; conn: number }
  | { t: 'drain'; conn: number; req: number }
  | { t: 'close'; conn: number; reason: CallEndReason; transferTarget?: string }
  | { t: 'expect'; req: number; uuid: string; timeoutMs: number; wireRate?: number }
  | { t: 'cancel'; uuid: string }
  | { t: 'shutdown' };

export interface ToMediaBatch {
  items: ToMedia[];
}

// ---- media thread → main ----

export type FromMedia =
  | AudioBlock
  | { t: 'listening'; port: number; priority?: string; prioritySet?: boolean }
  | { t: 'fatal'; message: string }
  | { t: 'choose'; req: number; uuid: string }
  /** A call of the server's own: build it on `conn` and run it, then answer 'ran'. */
  | { t: 'call'; conn: number; uuid: string; flow: string; language: string; slot: SharedArrayBuffer }
  /** The connection an 'expect' waited for. */
  | { t: 'handed'; req: number; conn: number; uuid: string; slot: SharedArrayBuffer }
  | { t: 'expect-failed'; req: number; message: string }
  | { t: 'dtmf'; conn: number; digit: string }
  | { t: 'hangup'; conn: number; reason: CallEndReason }
  /** The server ends a running call (shutdown): the main thread ends its session. */
  | { t: 'end'; conn: number; reason: CallEndReason; detail?: string }
  | { t: 'drained'; req: number }
  /** The connection is gone; nothing more comes for `conn`. */
  | { t: 'closed'; conn: number; cause: AudioSocketEndCause | undefined }
  | { t: 'call-ended'; uuid: string; flow: string; language: string; cause: AudioSocketEndCause | undefined }
  | { t: 'counters'; counters: AudioSocketCounters }
  /** [conn, epochMs] pairs of frames handed to sockets, when asked for. */
  | { t: 'sends'; pairs: Float64Array }
  | { t: 'log'; level: number; bindings: Record<string, unknown>; obj: Record<string, unknown>; msg?: string }
  | { t: 'shut' };

export interface FromMediaBatch {
  items: FromMedia[];
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across threads. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}
