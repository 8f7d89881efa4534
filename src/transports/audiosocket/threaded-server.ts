/**
 * The AudioSocket server with its media on a thread of its own
 * (`audiosocket.mediaThread`, on by default). The media thread accepts the
 * connections and paces every call's audio; the calls run here, each over a
 * RemoteAudioSocketIO. It offers what the in-thread server offers (counters,
 * expect/cancel for ARI, close), so the rest of palabre cannot tell them apart.
 */
import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import type { CallSummary } from '../../call/events.js';
import { siblingModule, spawnModuleWorker } from '../../engines/stt/worker-spawn.js';
import { silentLogger, type Logger } from '../../log.js';
import type { AudioSocketEndCause } from './io.js';
import { Outbox, forEachFrame } from './media-outbox.js';
import type { FromMedia, FromMediaBatch, MediaThreadInit, ToMedia } from './media-protocol.js';
import { RemoteAudioSocketIO, type RemoteLink } from './remote-io.js';
import { emptyCounters, type AudioSocketCallHandle, type AudioSocketServer, type AudioSocketServerOptions } from './server.js';

export interface ThreadedAudioSocketServerOptions extends Omit<AudioSocketServerOptions, 'resampler' | 'createCall' | 'onCallEnded'> {
  createCall: (io: RemoteAudioSocketIO, flow: string, language: string, logger: Logger) => AudioSocketCallHandle | Promise<AudioSocketCallHandle>;
  onCallEnded?: (info: { uuid: string; flow: string; language: string; cause: AudioSocketEndCause | undefined; summary: CallSummary | undefined }) => void;
  /** Have the media thread report every frame it hands to a socket, for RemoteAudioSocketIO.onFrameSent (the calls benchmark). */
  reportFrameSends?: boolean;
  /**
   * Niceness of the media thread on Linux (-20 to 19; 0 leaves it). Below 0 the
   * thread wins the cores over the rest of the process and other programs when
   * they are contended, which keeps frames on time; that needs CAP_SYS_NICE,
   * and without it the thread runs as is and the log says so.
   */
  threadNice?: number;
}

export interface ThreadedAudioSocketServer extends AudioSocketServer<RemoteAudioSocketIO> {
  /** The media thread's priority as set ("nice -10"), or why it could not be; undefined when left as is. */
  readonly threadPriority: string | undefined;
  /** The media thread itself, for diagnostics (and for tests that make it fail). */
  readonly thread: Worker;
}

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

function levelOf(logger: Logger): number {
  // A silent logger's level is Infinity: then the thread builds no record at all.
  const value = (logger as { levelVal?: number }).levelVal;
  return typeof value === 'number' && !Number.isNaN(value) ? value : 30;
}

export async function startThreadedAudioSocketServer(options: ThreadedAudioSocketServerOptions): Promise<ThreadedAudioSocketServer> {
  const logger = options.logger ?? silentLogger;
  const init: MediaThreadInit = {
    server: { host: options.host, port: options.port, allow: options.allow, maxCalls: options.maxCalls, firstFrameTimeoutMs: options.firstFrameTimeoutMs, io: options.io },
    logLevel: levelOf(logger),
    reportFrameSends: options.reportFrameSends === true,
    nice: options.threadNice ?? 0,
  };
  const worker: Worker = spawnModuleWorker(siblingModule(import.meta.url, 'media-worker'), { workerData: init });
  const counters = emptyCounters();
  const ios = new Map<number, RemoteAudioSocketIO>();
  const handles = new Map<number, AudioSocketCallHandle>();
  const summaries = new Map<string, CallSummary | undefined>();
  const drains = new Map<number, () => void>();
  const expecting = new Map<number, { resolve: (io: RemoteAudioSocketIO) => void; reject: (err: Error) => void; logger: Logger }>();
  let req = 1;
  let dead: Error | undefined;
  let onShut: (() => void) | undefined;

  const out = new Outbox<ToMedia>((items, transfer) => {
    if (!dead) worker.postMessage({ items }, transfer);
  });
  const link: RemoteLink = {
    out,
    nextReq: () => req++,
    onDrained: (id, done) => (dead ? done() : drains.set(id, done)),
  };

  const runCall = (io: RemoteAudioSocketIO, flow: string, language: string): void => {
    const log = logger.child({ call: io.id });
    void (async () => {
      let summary: CallSummary | undefined;
      try {
        const handle = await options.createCall(io, flow, language, log);
        handles.set(io.conn, handle);
        log.info({ flow, language }, 'audiosocket call started');
        summary = (await handle.run()) ?? undefined;
      } catch (err) {
        log.error({ err }, 'audiosocket call failed');
      } finally {
        handles.delete(io.conn);
        await io.close('error');
        // A dead thread reports no more endings: this call's is told here.
        if (dead) options.onCallEnded?.({ uuid: io.id, flow, language, cause: io.cause, summary });
        else {
          summaries.set(io.id, summary);
          out.push({ t: 'ran', conn: io.conn });
        }
      }
    })();
  };

  const onItem = (item: FromMedia): void => {
    switch (item.t) {
      case 'audio':
        return forEachFrame(item, (conn, samples) => ios.get(conn)?.receive(samples));
      case 'choose': {
        const id = item.req;
        void Promise.resolve()
          .then(() => options.chooseFlow(item.uuid))
          .then(
            (choice) => out.push({ t: 'flow', req: id, flow: choice.flow, language: choice.language }),
            (err: unknown) => out.push({ t: 'flow', req: id, error: (err as Error)?.message ?? String(err) }),
          );
        return;
      }
      case 'call': {
        const io = new RemoteAudioSocketIO(item.uuid, item.conn, item.slot, link, logger, options.io?.maxInboundMs);
        ios.set(item.conn, io);
        return runCall(io, item.flow, item.language);
      }
      case 'handed': {
        const waiting = expecting.get(item.req);
        expecting.delete(item.req);
        const io = new RemoteAudioSocketIO(item.uuid, item.conn, item.slot, link, waiting?.logger ?? logger, options.io?.maxInboundMs);
        ios.set(item.conn, io);
        if (waiting) waiting.resolve(io);
        else void io.close('error');
        return;
      }
      case 'expect-failed': {
        const waiting = expecting.get(item.req);
        expecting.delete(item.req);
        waiting?.reject(new Error(item.message));
        return;
      }
      case 'dtmf':
        return ios.get(item.conn)?.digit(item.digit);
      case 'hangup':
        return ios.get(item.conn)?.hangup(item.reason);
      case 'closed': {
        const io = ios.get(item.conn);
        ios.delete(item.conn);
        return io?.closed(item.cause);
      }
      case 'end':
        void handles.get(item.conn)?.end(item.reason, item.detail);
        return;
      case 'drained': {
        const done = drains.get(item.req);
        drains.delete(item.req);
        return done?.();
      }
      case 'call-ended': {
        const summary = summaries.get(item.uuid);
        summaries.delete(item.uuid);
        options.onCallEnded?.({ uuid: item.uuid, flow: item.flow, language: item.language, cause: item.cause, summary });
        return;
      }
      case 'counters': {
        const { ended, ...rest } = item.counters;
        Object.assign(counters, rest);
        Object.assign(counters.ended, ended);
        return;
      }
      case 'sends':
        for (let i = 0; i < item.pairs.length; i += 2) ios.get(item.pairs[i])?.onFrameSent?.(item.pairs[i + 1] - performance.timeOrigin);
        return;
      case 'log': {
        const level = LEVELS[item.level] ?? 'info';
        const log = Object.keys(item.bindings).length > 0 ? logger.child(item.bindings) : logger;
        if (item.msg !== undefined) log[level](item.obj, item.msg);
        else log[level](item.obj);
        return;
      }
      case 'shut':
        return onShut?.();
      case 'listening':
      case 'fatal':
        return;
    }
  };

  /** The thread is gone: every call on it has lost its line. */
  const fail = (err: Error): void => {
    if (dead) return;
    dead = err;
    logger.error({ err }, 'the AudioSocket media thread failed; its calls are ended');
    for (const io of ios.values()) io.closed('internal_error', 'transport_error');
    ios.clear();
    for (const done of drains.values()) done();
    drains.clear();
    for (const w of expecting.values()) w.reject(err);
    expecting.clear();
    onShut?.();
  };

  let threadPriority: string | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const onStart = (batch: FromMediaBatch): void => {
      for (const item of batch.items) {
        if (item.t === 'listening') {
          worker.off('message', onStart);
          threadPriority = item.priority;
          // Info, not a warning: the default asks for a raise most unprivileged installs cannot get, and calls still run.
          if (item.prioritySet === false) logger.info({ nice: init.nice }, `the AudioSocket media thread runs at normal priority: ${item.priority}`);
          else if (item.prioritySet) logger.info(`the AudioSocket media thread runs at ${item.priority}`);
          worker.on('message', (b: FromMediaBatch) => {
            for (const i of b.items) onItem(i);
          });
          resolve(item.port);
        } else if (item.t === 'fatal') {
          worker.off('message', onStart);
          void worker.terminate();
          reject(new Error(item.message));
        } else onItem(item);
      }
    };
    worker.on('message', onStart);
    worker.once('error', (err) => {
      reject(err);
      fail(err);
    });
    worker.once('exit', (code) => {
      const err = new Error(`the AudioSocket media thread exited with code ${code}`);
      reject(err);
      fail(err);
    });
  });

  return {
    port,
    counters,
    threadPriority,
    thread: worker,
    expect(uuid, expectOptions) {
      if (dead) return Promise.reject(new Error('the AudioSocket media thread is not running'));
      const id = req++;
      const waiting = new Promise<RemoteAudioSocketIO>((resolve, reject) => {
        expecting.set(id, { resolve, reject, logger: expectOptions.logger ?? logger });
      });
      waiting.catch(() => undefined);
      out.push({ t: 'expect', req: id, uuid, timeoutMs: expectOptions.timeoutMs, ...(expectOptions.wireRate ? { wireRate: expectOptions.wireRate } : {}) });
      return waiting;
    },
    cancel(uuid) {
      out.push({ t: 'cancel', uuid });
    },
    async close() {
      if (!dead) {
        const shut = new Promise<void>((resolve) => (onShut = resolve));
        out.push({ t: 'shutdown' });
        out.flush();
        await shut;
      }
      // The last calls' endings are on their way back; let them land before the thread goes.
      await new Promise((r) => setImmediate(r));
      dead ??= new Error('closed');
      await worker.terminate();
    },
  };
}
