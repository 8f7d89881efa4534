/**
 * Browser sessions: created over REST, then joined by one WebSocket that
 * carries the call. A session nobody joins expires; an ended one is kept a
 * while so the page (or a test) can still read its transcript, then dropped.
 * The number of live sessions is capped: each holds a VAD stream, an STT
 * stream and a dialog, and the machine has only so many cores.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { ResamplerFactory } from '../../audio/resample.js';
import type { CallEvent, TranscriptLine } from '../../call/events.js';
import type { CallEndReason } from '../../call/io.js';
import { PalabreError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { ClientRate } from './protocol.js';
import { CLOSE_POLICY, WsCallIO, type WsCallIOOptions } from './ws-io.js';

/** The running call of a session, as the call session exposes it. */
export interface CallHandle {
  run(): Promise<{ endReason?: CallEndReason } | void>;
  end(reason: CallEndReason): void;
  on(event: 'event', listener: (event: CallEvent) => void): void;
}

export interface CallFactoryArgs {
  io: WsCallIO;
  sessionId: string;
  flow: string;
  language: string;
  logger: Logger;
}
export type CallFactory = (args: CallFactoryArgs) => CallHandle | Promise<CallHandle>;

export interface BrowserSessionsOptions {
  createCall: CallFactory;
  resampler: ResamplerFactory;
  logger?: Logger;
  /** Sessions waiting or connected at once; more are refused with 503. Default 50. */
  maxSessions?: number;
  /** A session nobody connects to within this time expires. Default 60 s. */
  connectTimeoutMs?: number;
  /** After connecting, the client must declare its rate within this time (when the session did not). Default 10 s. */
  startTimeoutMs?: number;
  /** How long an ended session stays readable. Default 10 min. */
  keepEndedMs?: number;
  /** Ended sessions kept at most; the oldest go first. Default 200. */
  maxEnded?: number;
  /** Lines of transcript kept per session (the call's own summary keeps all). Default 500. */
  maxTranscriptLines?: number;
  /** Passed to every WsCallIO (lead, message size, bad-message policy). */
  io?: Pick<WsCallIOOptions, 'leadMs' | 'maxMessageBytes' | 'badMessageLimit' | 'badWindowMs' | 'maxInboundMs' | 'maxOutboundMs' | 'resampleQuality'>;
}

export type SessionStatus = 'waiting' | 'connected' | 'ended';

export interface SessionView {
  session_id: string;
  flow: string;
  language: string;
  status: SessionStatus;
  ended: boolean;
  end_reason: string | null;
  created_at: string;
  state: string | null;
  last_intent: { intent: string | null; confidence: number; source: string; text: string } | null;
  barge_ins: number;
  transcript: TranscriptLine[];
}

interface Session {
  id: string;
  flow: string;
  language: string;
  sampleRate?: ClientRate;
  createdAt: number;
  status: SessionStatus;
  endReason: string | null;
  state: string | null;
  lastIntent: SessionView['last_intent'];
  bargeIns: number;
  transcript: TranscriptLine[];
  timer?: NodeJS.Timeout;
  call?: CallHandle;
  io?: WsCallIO;
  /** Resolves once the session has ended. */
  done: Promise<void>;
  markDone: () => void;
}

/** Application close codes (4000-4999) a page can tell apart. */
export const CLOSE_UNKNOWN_SESSION = 4404;
export const CLOSE_ALREADY_CONNECTED = 4409;
export const CLOSE_SESSION_ENDED = 4410;

export class SessionLimitError extends Error {
  constructor(readonly limit: number) {
    super(`the server already runs ${limit} browser sessions, its limit; end one or try again later`);
  }
}

export class BrowserSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly logger: Logger;
  private readonly maxSessions: number;
  private readonly connectTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly keepEndedMs: number;
  private readonly maxEnded: number;
  private readonly maxTranscriptLines: number;
  private closing = false;

  constructor(private readonly options: BrowserSessionsOptions) {
    this.logger = options.logger ?? silentLogger;
    this.maxSessions = options.maxSessions ?? 50;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 60_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.keepEndedMs = options.keepEndedMs ?? 10 * 60_000;
    this.maxEnded = options.maxEnded ?? 200;
    this.maxTranscriptLines = options.maxTranscriptLines ?? 500;
  }

  /** Sessions waiting for their socket or running a call. */
  get live(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.status !== 'ended') n++;
    return n;
  }

  create(input: { flow: string; language: string; sampleRate?: ClientRate }): { id: string } {
    if (this.closing) throw new PalabreError('engine_unavailable', 'the server is shutting down');
    if (this.live >= this.maxSessions) throw new SessionLimitError(this.maxSessions);
    const id = randomUUID();
    let markDone = (): void => undefined;
    const done = new Promise<void>((resolve) => (markDone = resolve));
    const session: Session = {
      done,
      markDone,
      id,
      flow: input.flow,
      language: input.language,
      sampleRate: input.sampleRate,
      createdAt: Date.now(),
      status: 'waiting',
      endReason: null,
      state: null,
      lastIntent: null,
      bargeIns: 0,
      transcript: [],
    };
    session.timer = setTimeout(() => this.finish(session, 'expired: nobody connected within ' + Math.round(this.connectTimeoutMs / 1000) + ' s'), this.connectTimeoutMs);
    session.timer.unref();
    this.sessions.set(id, session);
    this.logger.info({ session: id, flow: input.flow, language: input.language }, 'browser session created');
    return { id };
  }

  view(id: string): SessionView {
    const s = this.sessions.get(id);
    if (!s) throw new PalabreError('not_found', `no browser session "${id}" (it never existed, or ended more than ${Math.round(this.keepEndedMs / 60_000)} min ago)`);
    return {
      session_id: s.id,
      flow: s.flow,
      language: s.language,
      status: s.status,
      ended: s.status === 'ended',
      end_reason: s.endReason,
      created_at: new Date(s.createdAt).toISOString(),
      state: s.state,
      last_intent: s.lastIntent,
      barge_ins: s.bargeIns,
      transcript: s.transcript.map((l) => ({ ...l })),
    };
  }

  /** Ends a session from the API: a waiting one at once, a connected one once its call has wound down (up to `waitMs`). */
  async end(id: string, waitMs = 3_000): Promise<SessionView> {
    const s = this.sessions.get(id);
    if (!s) return this.view(id);
    if (s.status === 'waiting') this.finish(s, 'ended by the API before anyone connected');
    else if (s.status === 'connected') {
      s.endReason ??= 'ended by the API';
      if (s.call) s.call.end('bot_hangup');
      else await s.io?.close('bot_hangup');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([s.done, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    return this.view(id);
  }

  /** Runs the call of session `id` over `socket` until it ends; never throws. */
  async connect(id: string, socket: WebSocket): Promise<void> {
    const s = this.sessions.get(id);
    const refuse = (code: number, reason: string): void => {
      this.logger.info({ session: id, reason }, 'browser socket refused');
      socket.close(code, reason);
    };
    if (!s) return refuse(CLOSE_UNKNOWN_SESSION, 'unknown session: start one with POST /api/session/start');
    if (s.status === 'connected') return refuse(CLOSE_ALREADY_CONNECTED, 'this session already has a connected socket');
    if (s.status === 'ended') return refuse(CLOSE_SESSION_ENDED, `this session has ended (${s.endReason ?? 'ended'})`.slice(0, 120));
    clearTimeout(s.timer);
    s.status = 'connected';
    const logger = this.logger.child({ session: id });
    const io = new WsCallIO({ id, socket, resampler: this.options.resampler, clientRate: s.sampleRate, logger, ...this.options.io });
    s.io = io;
    let reason: CallEndReason = 'error';
    try {
      const started = await this.waitForStart(io);
      if (started === 'timeout') {
        reason = 'timeout';
        io.send({ type: 'error', message: `no "start" message within ${this.startTimeoutMs / 1000} s: send {"type":"start","sampleRate":16000} after connecting`, fatal: true });
        socket.close(CLOSE_POLICY, 'no start message');
        s.endReason ??= 'no start message';
        return;
      }
      if (started === 'gone') {
        reason = 'transport_error';
        s.endReason ??= 'the client left, or was refused, before starting';
        return;
      }
      const call = await this.options.createCall({ io, sessionId: id, flow: s.flow, language: s.language, logger });
      s.call = call;
      call.on('event', (event) => {
        this.note(s, event);
        io.sendEvent(event);
      });
      io.send({ type: 'ready', sessionId: id, sampleRate: io.clientRate as number, flow: s.flow, language: s.language });
      if (s.endReason) call.end('bot_hangup');
      const summary = await call.run();
      reason = summary?.endReason ?? 'caller_hangup';
    } catch (err) {
      logger.error({ err }, 'browser call failed');
      const message = err instanceof PalabreError ? err.message : 'internal error; the call ends';
      io.send({ type: 'error', message, fatal: true });
    } finally {
      await io.close(reason);
      this.finish(s, s.endReason ?? reason);
    }
  }

  /** Ends every session (server shutdown) and waits for their calls to wind down. */
  async closeAll(): Promise<void> {
    this.closing = true;
    const waits: Array<Promise<void>> = [];
    for (const s of this.sessions.values()) {
      clearTimeout(s.timer);
      if (s.status === 'connected') {
        s.endReason ??= 'server shutdown';
        s.call?.end('server_shutdown');
        if (!s.call) waits.push(s.io?.close('server_shutdown') ?? Promise.resolve());
      }
    }
    await Promise.all(waits);
    let timer: NodeJS.Timeout | undefined;
    const running = [...this.sessions.values()].filter((s) => s.status === 'connected').map((s) => s.done);
    await Promise.race([Promise.all(running), new Promise((r) => (timer = setTimeout(r, 5_000)))]);
    clearTimeout(timer);
    for (const s of this.sessions.values()) s.io?.close('server_shutdown').catch(() => undefined);
    this.sessions.clear();
  }

  private waitForStart(io: WsCallIO): Promise<'started' | 'gone' | 'timeout'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), this.startTimeoutMs);
      void io.whenStarted().then((ok) => {
        clearTimeout(timer);
        resolve(ok ? 'started' : 'gone');
      });
    });
  }

  /** Keeps what GET /api/session/{id} shows. */
  private note(s: Session, e: CallEvent): void {
    switch (e.type) {
      case 'state':
        s.state = e.to;
        break;
      case 'intent':
        s.lastIntent = { intent: e.intent, confidence: e.confidence, source: e.source, text: e.text };
        break;
      case 'transcript':
        s.transcript.push({ role: e.role, text: e.text, atMs: e.atMs, turn: e.turn, cut: e.cut, heard: e.heard });
        if (s.transcript.length > this.maxTranscriptLines) s.transcript.shift();
        break;
      case 'barge-in':
        if (e.outcome === 'detected') s.bargeIns++;
        break;
      default:
        break;
    }
  }

  private finish(s: Session, reason: string): void {
    if (s.status === 'ended') return;
    clearTimeout(s.timer);
    s.status = 'ended';
    s.endReason ??= reason;
    s.call = undefined;
    s.io = undefined;
    s.markDone();
    this.logger.info({ session: s.id, reason: s.endReason }, 'browser session ended');
    s.timer = setTimeout(() => this.sessions.delete(s.id), this.keepEndedMs);
    s.timer.unref();
    const ended = [...this.sessions.values()].filter((x) => x.status === 'ended');
    for (const old of ended.slice(0, Math.max(0, ended.length - this.maxEnded))) {
      clearTimeout(old.timer);
      this.sessions.delete(old.id);
    }
  }
}
