/**
 * AudioSocket TCP server: Asterisk connects, sends the call's UUID, then
 * streams slin both ways. Each connection is checked against the allow-list
 * and the call cap, must name its UUID in time, and then runs the flow chosen
 * for that UUID. Whatever one connection does wrong ends that call only.
 *
 * A UUID someone said to expect (an ARI call that asked Asterisk for an
 * AudioSocket externalMedia channel) is not a call of its own: its connection
 * is handed to whoever waits for it, as an AudioSocketIO.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ResamplerFactory } from '../../audio/resample.js';
import type { CallSummary } from '../../call/events.js';
import type { CallEndReason, CallIO } from '../../call/io.js';
import { silentLogger, type Logger } from '../../log.js';
import { createAllowList, normaliseAddress } from './allow.js';
import { FrameError, FrameParser, HANGUP_FRAME, type AudioSocketFrame } from './frames.js';
import { AudioSocketIO, type AudioSocketEndCause, type AudioSocketIOOptions } from './io.js';

export interface FlowChoice {
  flow: string;
  language: string;
}

/** The running call, as a call session exposes it. */
export interface AudioSocketCallHandle {
  run(): Promise<CallSummary | void>;
  end(reason: CallEndReason, detail?: string): unknown;
}

export interface AudioSocketServerOptions {
  host?: string;
  /** Default 9090. 0 picks a free port (tests). */
  port?: number;
  /** Client addresses and CIDR ranges allowed to connect; empty allows all. */
  allow?: readonly string[];
  /** Calls at once; more connections get a hangup frame. Default 50. */
  maxCalls?: number;
  /** The UUID frame must arrive within this time. Default 5 s. */
  firstFrameTimeoutMs?: number;
  chooseFlow: (uuid: string) => FlowChoice | Promise<FlowChoice>;
  createCall: (io: AudioSocketIO, flow: string, language: string, logger: Logger) => AudioSocketCallHandle | Promise<AudioSocketCallHandle>;
  resampler: ResamplerFactory;
  logger?: Logger;
  /** Passed to every AudioSocketIO. */
  io?: Pick<AudioSocketIOOptions, 'wireRate' | 'leadMs' | 'maxPayloadBytes' | 'maxBufferedBytes' | 'writeStallMs' | 'idleTimeoutMs' | 'maxInboundMs' | 'maxOutboundMs' | 'resampleQuality'>;
  /** Called once per call that started, after it ended. */
  onCallEnded?: (info: { uuid: string; flow: string; language: string; cause: AudioSocketEndCause | undefined; summary: CallSummary | undefined }) => void;
}

export interface AudioSocketCounters {
  connections: number;
  /** Connections handed to the ARI call that expected their UUID. */
  handedOver: number;
  /** Connections whose UUID was expected once but given up on; closed. */
  refusedAbandoned: number;
  refusedAddress: number;
  refusedCapacity: number;
  firstFrameTimeout: number;
  /** First frame not a UUID, or unreadable. */
  badFirstFrame: number;
  /** Closed before naming a UUID. */
  closedBeforeUuid: number;
  flowLookupFailed: number;
  callsStarted: number;
  callsEnded: number;
  active: number;
  /** Calls ended, by cause. */
  ended: Record<AudioSocketEndCause, number>;
}

export interface AudioSocketExpectOptions {
  /** The connection must name the UUID within this time, else the promise rejects. */
  timeoutMs: number;
  /** Outbound rate until the caller's first audio names one (16000 for a slin16 channel). */
  wireRate?: number;
  logger?: Logger;
}

export interface AudioSocketServer<IO extends CallIO = CallIO> {
  readonly port: number;
  readonly counters: AudioSocketCounters;
  /**
   * The connection that will name `uuid`, as an IO of its own owner's: it runs
   * no flow here, and closing it is the owner's job. Rejects after `timeoutMs`,
   * on cancel(), when the UUID is already expected, or when the server stops.
   */
  expect(uuid: string, options: AudioSocketExpectOptions): Promise<IO>;
  /** Gives up on an expected UUID: a connection naming it later is closed, not run as a call. */
  cancel(uuid: string): void;
  /** Stops accepting, ends every call with 'server_shutdown' and waits for them. */
  close(): Promise<void>;
}

interface Expectation {
  options: AudioSocketExpectOptions;
  resolve: (io: AudioSocketIO) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** How long a UUID given up on is remembered, so its late connection is not taken for a call of its own. */
const ABANDONED_MS = 60_000;

function emptyEnded(): Record<AudioSocketEndCause, number> {
  const causes: AudioSocketEndCause[] = ['hangup_frame', 'eof', 'error_frame', 'malformed', 'unknown_kind', 'oversized', 'truncated', 'empty_audio', 'not_reading', 'half_open', 'socket_error', 'reset', 'bot_closed', 'internal_error'];
  return Object.fromEntries(causes.map((c) => [c, 0])) as Record<AudioSocketEndCause, number>;
}

export function emptyCounters(): AudioSocketCounters {
  return {
    connections: 0,
    handedOver: 0,
    refusedAbandoned: 0,
    refusedAddress: 0,
    refusedCapacity: 0,
    firstFrameTimeout: 0,
    badFirstFrame: 0,
    closedBeforeUuid: 0,
    flowLookupFailed: 0,
    callsStarted: 0,
    callsEnded: 0,
    active: 0,
    ended: emptyEnded(),
  };
}

export async function startAudioSocketServer(options: AudioSocketServerOptions): Promise<AudioSocketServer<AudioSocketIO>> {
  const logger = options.logger ?? silentLogger;
  const allowed = createAllowList(options.allow ?? []);
  const maxCalls = options.maxCalls ?? 50;
  const firstFrameTimeoutMs = options.firstFrameTimeoutMs ?? 5_000;
  const counters = emptyCounters();
  const sockets = new Set<Socket>();
  const calls = new Map<AudioSocketIO, { handle?: AudioSocketCallHandle; done: Promise<void> }>();
  const expected = new Map<string, Expectation>();
  const abandoned = new Map<string, NodeJS.Timeout>();
  let stopping = false;

  const abandon = (uuid: string): void => {
    clearTimeout(abandoned.get(uuid));
    const timer = setTimeout(() => abandoned.delete(uuid), ABANDONED_MS);
    timer.unref();
    abandoned.set(uuid, timer);
  };

  const giveUp = (uuid: string, err: Error): void => {
    const e = expected.get(uuid);
    if (!e) return;
    expected.delete(uuid);
    clearTimeout(e.timer);
    abandon(uuid);
    e.reject(err);
  };

  const expect = (rawUuid: string, expectOptions: AudioSocketExpectOptions): Promise<AudioSocketIO> => {
    const uuid = rawUuid.toLowerCase();
    const waiting = new Promise<AudioSocketIO>((resolve, reject) => {
      if (stopping) return reject(new Error('the AudioSocket server is stopping'));
      if (expected.has(uuid)) return reject(new Error(`AudioSocket UUID ${uuid} is already expected`));
      const timer = setTimeout(() => giveUp(uuid, new Error(`no AudioSocket connection named ${uuid} within ${expectOptions.timeoutMs} ms`)), expectOptions.timeoutMs);
      timer.unref();
      expected.set(uuid, { options: expectOptions, resolve, reject, timer });
    });
    // The owner may give up before it awaits this.
    waiting.catch(() => undefined);
    return waiting;
  };

  const handOver = (socket: Socket, uuid: string, e: Expectation, parser: FrameParser, pending: AudioSocketFrame[], pendingError: FrameError | undefined, peer: string): void => {
    clearTimeout(e.timer);
    counters.handedOver++;
    const log = (e.options.logger ?? logger).child({ audiosocket: uuid, peer });
    log.debug('AudioSocket connection handed to the call that expected it');
    e.resolve(new AudioSocketIO({ ...options.io, ...(e.options.wireRate ? { wireRate: e.options.wireRate } : {}), id: uuid, socket, parser, pending, pendingError, resampler: options.resampler, logger: log }));
  };

  const refuse = (socket: Socket, withHangup: boolean): void => {
    if (withHangup && socket.writable) socket.write(HANGUP_FRAME);
    socket.end();
    setTimeout(() => socket.destroy(), 1_000).unref();
  };

  const startCall = (socket: Socket, uuid: string, parser: FrameParser, pending: AudioSocketFrame[], pendingError: FrameError | undefined, peer: string): void => {
    const log = logger.child({ call: uuid, peer });
    let endCause: AudioSocketEndCause | undefined;
    const io = new AudioSocketIO({
      ...options.io,
      id: uuid,
      socket,
      parser,
      pending,
      pendingError,
      resampler: options.resampler,
      logger: log,
      onEnd: (cause) => {
        endCause = cause;
        counters.ended[cause]++;
      },
    });
    counters.callsStarted++;
    counters.active++;
    const entry: { handle?: AudioSocketCallHandle; done: Promise<void> } = { done: Promise.resolve() };
    calls.set(io, entry);
    entry.done = (async () => {
      let choice: FlowChoice | undefined;
      let summary: CallSummary | undefined;
      try {
        choice = await options.chooseFlow(uuid);
      } catch (err) {
        counters.flowLookupFailed++;
        log.warn({ err }, 'no flow for this audiosocket call; hanging up');
      }
      try {
        if (choice && !io.isClosed) {
          entry.handle = await options.createCall(io, choice.flow, choice.language, log);
          log.info({ flow: choice.flow, language: choice.language }, 'audiosocket call started');
          summary = (await entry.handle.run()) ?? undefined;
        }
      } catch (err) {
        log.error({ err }, 'audiosocket call failed');
      } finally {
        await io.close('error');
        counters.active--;
        counters.callsEnded++;
        calls.delete(io);
        log.info({ cause: endCause, endReason: summary?.endReason }, 'audiosocket call ended');
        options.onCallEnded?.({ uuid, flow: choice?.flow ?? '', language: choice?.language ?? '', cause: endCause, summary });
      }
    })();
  };

  const onConnection = (socket: Socket): void => {
    counters.connections++;
    const peer = normaliseAddress(socket.remoteAddress ?? '');
    socket.on('error', (err) => logger.debug({ peer, err: err.message }, 'audiosocket socket error'));
    if (!allowed(peer)) {
      counters.refusedAddress++;
      logger.warn({ peer }, 'audiosocket connection from an address not in the allow-list; closed');
      socket.destroy();
      return;
    }
    const full = (): boolean => {
      if (counters.active < maxCalls) return false;
      counters.refusedCapacity++;
      logger.warn({ peer, maxCalls }, `audiosocket connection refused: already ${maxCalls} calls, the limit`);
      refuse(socket, true);
      return true;
    };
    // While ARI calls wait for their connections, the cap can only be judged once the UUID is
    // known: those calls count against ari.maxCalls, not against this server's own calls.
    if (expected.size === 0 && full()) return;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    const parser = new FrameParser(options.io?.maxPayloadBytes);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      counters.firstFrameTimeout++;
      logger.warn({ peer, timeoutMs: firstFrameTimeoutMs }, `audiosocket client sent no UUID frame within ${firstFrameTimeoutMs} ms; closed`);
      cleanup();
      refuse(socket, true);
    }, firstFrameTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
    };
    const badFirst = (message: string): void => {
      settled = true;
      counters.badFirstFrame++;
      logger.warn({ peer, problem: message }, 'audiosocket connection did not start with a UUID frame; closed');
      cleanup();
      refuse(socket, true);
    };
    const onData = (chunk: Buffer): void => {
      if (settled) return;
      let read: ReturnType<FrameParser['read']>;
      try {
        read = parser.read(chunk);
      } catch (err) {
        return badFirst(String(err));
      }
      const [first, ...rest] = read.frames;
      if (!first) return read.error ? badFirst(read.error.message) : undefined;
      if (first.type !== 'uuid') return badFirst(`first frame is ${first.type}, not the UUID`);
      settled = true;
      cleanup();
      const uuid = first.uuid.toLowerCase();
      const waiting = expected.get(uuid);
      if (waiting) {
        expected.delete(uuid);
        return handOver(socket, uuid, waiting, parser, rest, read.error, peer);
      }
      if (abandoned.has(uuid)) {
        counters.refusedAbandoned++;
        logger.warn({ peer, uuid }, 'AudioSocket connection for a UUID its call gave up waiting for; closed');
        return refuse(socket, true);
      }
      if (full()) return;
      startCall(socket, first.uuid, parser, rest, read.error, peer);
    };
    const onEnd = (): void => {
      if (settled) return;
      settled = true;
      counters.closedBeforeUuid++;
      logger.info({ peer }, 'audiosocket client closed before sending its UUID (was the channel answered?)');
      cleanup();
      socket.end();
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
  };

  const server: Server = createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9090, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 9090);
  logger.info({ host: options.host ?? '0.0.0.0', port }, 'audiosocket server listening');

  return {
    port,
    counters,
    expect,
    cancel: (uuid) => giveUp(uuid.toLowerCase(), new Error(`stopped waiting for AudioSocket connection ${uuid}`)),
    async close() {
      stopping = true;
      for (const uuid of [...expected.keys()]) giveUp(uuid, new Error('the AudioSocket server is stopping'));
      for (const timer of abandoned.values()) clearTimeout(timer);
      abandoned.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const running = [...calls.entries()];
      for (const [io, entry] of running) {
        if (entry.handle) void entry.handle.end('server_shutdown');
        else void io.close('server_shutdown');
      }
      await Promise.all(running.map(([, e]) => e.done));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
