/**
 * The client side of a transport in the call benchmark: one simulated caller's
 * phone line, as the callers' process drives it. A transport (AudioSocket,
 * Twilio, RTP through ARI ExternalMedia) has a LineDriver that dials the
 * server the way its peer (Asterisk, Twilio) does and measures what comes
 * back in an OutboundMeter.
 */
import type { OutboundMeter } from '../outbound-meter.js';

export interface DialTarget {
  host: string;
  port: number;
  /** URL of the media endpoint, for transports that have one (Twilio's WebSocket). */
  url?: string;
}

/** Caller audio, prepared once for every line: 8 kHz PCM cut into 20 ms frames. */
export interface CallerClip {
  frames: Int16Array[];
}

export interface CallerLine {
  /** The id the server knows the call by (AudioSocket UUID, Twilio streamSid, Asterisk channel id). */
  readonly id: string;
  /** Bot audio frames with sound in them so far. */
  readonly voiced: number;
  /** When (performance.now()) the bot was last heard: audio received, or for buffering transports, played. */
  readonly lastVoiceAt: number;
  /** Bot audio still waiting to play at the caller (buffering transports). */
  readonly playing: boolean;
  readonly isClosed: boolean;
  readonly closed: Promise<void>;
  /** Sends the clip at real-time pace; resolves once its last frame is out. */
  say(clip: CallerClip): Promise<void>;
  dtmf(digit: string): void;
  hangup(): void;
}

/** What a line driver checks of the wire beyond timing, over the whole run. */
export interface LineStats {
  counts: Record<string, number>;
  /** The first problem seen, in words. */
  problem?: string;
}

export interface LineDriver {
  /**
   * For transports where palabre is the client (ARI with ExternalMedia): starts
   * the emulated Asterisk's listener in the callers' process, before palabre
   * starts, and says where it is (passed to the ServerDriver as `peer`).
   */
  listen?(): Promise<DialTarget>;
  /** A fresh call id in the form the transport uses. */
  newId(): string;
  dial(target: DialTarget, id: string, meter: OutboundMeter): Promise<CallerLine>;
  /** Wire checks over the whole run (protocol violations seen by the emulated peer). */
  stats?(): LineStats;
  /** Stops shared timers once every line is gone. */
  close?(): void;
}
