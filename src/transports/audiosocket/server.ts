/**
 * AudioSocket TCP server: Asterisk connects, sends the call's UUID, then
 * streams slin both ways. Each connection is checked against the allow-list
 * and the call cap, must name its UUID in time, and then runs the flow chosen
 * for that UUID. Whatever one connection does wrong ends that call only.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { ResamplerFactory } from '../../audio/resample.js';
import type { CallSummary } from '../../call/events.js';
import type { CallEndReason } from '../../call/io.js';
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

export interface AudioSocketServer {
  readonly port: number;
  readonly counters: AudioSocketCounters;
  /** Stops accepting, ends every call with 'server_shutdown' and waits for them. */
  close(): Promise<void>;
}

function emptyEnded(): Record<AudioSocketEndCause, number> {
  const causes: AudioSocketEndCause[] = ['hangup_frame', 'eof', 'error_frame', 'malformed', 'unknown_kind', 'oversized', 'truncated', 'empty_audio', 'not_reading', 'half_open', 'socket_error', 'bot_closed', 'internal_error'];
  return Object.fromEntries(causes.map((c) => [c, 0])) as Record<AudioSocketEndCause, number>;
}

export async function startAudioSocketServer(options: AudioSocketServerOptions): Promise<AudioSocketServer> {
  const logger = options.logger ?? silentLogger;
  const allowed = createAllowList(options.allow ?? []);
  const maxCalls = options.maxCalls ?? 50;
  const firstFrameTimeoutMs = options.firstFrameTimeoutMs ?? 5_000;
  const counters: AudioSocketCounters = {
    connections: 0,
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
  const sockets = new Set<Socket>();
  const calls = new Map<AudioSocketIO, { handle?: AudioSocketCallHandle; done: Promise<void> }>();

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
    if (counters.active >= maxCalls) {
      counters.refusedCapacity++;
      logger.warn({ peer, maxCalls }, `audiosocket connection refused: already ${maxCalls} calls, the limit`);
      refuse(socket, true);
      return;
    }
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
    async close() {
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
