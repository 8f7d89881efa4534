/**
 * CallIO is the seam every transport implements (AudioSocket, RTP, Twilio,
 * browser WebSocket, file simulation): caller audio in, bot audio out, with
 * the controls barge-in needs. Frames on both sides are mono PCM16 at
 * `sampleRate` (the pipeline rate, 16 kHz) in 20 ms frames; the transport
 * converts its wire codec and rate at its edge.
 */
import type { Frame } from '../audio/frame.js';

export type CallEndReason = 'caller_hangup' | 'bot_hangup' | 'transfer' | 'transport_error' | 'timeout' | 'server_shutdown' | 'error';

export interface CallIOEvents {
  /** One keypad digit ('0'-'9', '*', '#', 'A'-'D'). */
  dtmf: (digit: string) => void;
  /** The far end is gone; no more frames will come. */
  hangup: (reason: CallEndReason) => void;
}

export interface CallIO {
  readonly id: string;
  /** Rate of inbound and outbound frames. */
  readonly sampleRate: number;
  /** Caller audio, 20 ms frames, ending when the call ends. */
  frames(): AsyncIterable<Frame>;
  /** Queues bot audio for playout (paced by the transport where the wire needs it). */
  write(frame: Frame): void;
  /** Drops every queued frame now (barge-in); returns how many ms of audio were dropped unplayed. */
  clear(): number;
  /** Resolves once everything written so far has played (or was cleared). */
  waitForPlayout(): Promise<void>;
  /** Milliseconds of bot audio actually played out since the call started. */
  playedMs(): number;
  on<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void;
  off<E extends keyof CallIOEvents>(event: E, listener: CallIOEvents[E]): void;
  /** Ends the call from our side (after a goodbye, or on transfer); idempotent. */
  close(reason: CallEndReason, detail?: { transferTarget?: string }): Promise<void>;
}
