/**
 * The AudioSocket media thread: runs the AudioSocket server (allow-list, UUID
 * frame, framing, resampling, keep-alive silence and the 20 ms pacer) on an
 * event loop of its own, so the calls' dialog, recognition, storage and
 * garbage collection on the main thread never delay a frame on the wire.
 * Calls themselves run on the main thread, over the link this module speaks.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PIPELINE_RATE } from '../../audio/frame.js';
import { loadResampler } from '../../audio/resample.js';
import type { Logger } from '../../log.js';
import { setThreadNice } from '../../util/thread-priority.js';
import type { AudioSocketIO } from './io.js';
import { SLOT, SLOT_FIELDS, type FromMedia, type MediaThreadInit, type ToMedia, type ToMediaBatch } from './media-protocol.js';
import { forEachFrame, Outbox } from './media-outbox.js';
import { startAudioSocketServer, type AudioSocketCounters, type AudioSocketServer } from './server.js';

const port = parentPort;
if (!port) throw new Error('media-worker.ts is a worker thread entry point, not a module to import');
const init = workerData as MediaThreadInit;

interface Hosted {
  io: AudioSocketIO;
  /** Writes the IO's playout (and, when asked, its stats) into the shared slot the main thread reads. */
  publish(withStats: boolean): void;
}

const hosted = new Map<number, Hosted>();
/** The server's run() of each call of its own, resolved once the main thread says the call is over (which may come first). */
const runs = new Map<number, { ran?: () => void; early?: boolean }>();
let nextConn = 1;
let nextReq = 1;
const choosing = new Map<number, { resolve: (c: { flow: string; language: string }) => void; reject: (e: Error) => void }>();
let sends: number[] = [];
let counters: AudioSocketCounters | undefined;
let sentCounters = '';

const out = new Outbox<FromMedia>(
  (items, transfer) => (port as MessagePort).postMessage({ items }, transfer),
  () => {
    if (sends.length > 0) {
      out.push({ t: 'sends', pairs: Float64Array.from(sends) });
      sends = [];
    }
  },
  // Caller audio goes in messages of up to 5 ms of all calls: VAD takes 32 ms windows anyway.
  5,
);

function pushCounters(): void {
  if (!counters) return;
  const now = JSON.stringify(counters);
  if (now === sentCounters) return;
  sentCounters = now;
  out.push({ t: 'counters', counters: JSON.parse(now) as AudioSocketCounters });
}

/** Log records travel to the main thread's logger; below the level they are not even built. */
function workerLogger(bindings: Record<string, unknown>): Logger {
  const at =
    (level: number) =>
    (objOrMsg?: unknown, msg?: string): void => {
      if (level < init.logLevel) return;
      let obj: Record<string, unknown> = {};
      if (typeof objOrMsg === 'string') msg = objOrMsg;
      else if (objOrMsg && typeof objOrMsg === 'object') obj = plain(objOrMsg as Record<string, unknown>);
      out.push({ t: 'log', level, bindings, obj, msg });
    };
  const log = {
    child: (more: Record<string, unknown>) => workerLogger({ ...bindings, ...more }),
    trace: at(10),
    debug: at(20),
    info: at(30),
    warn: at(40),
    error: at(50),
    fatal: at(60),
    isLevelEnabled: () => true,
  };
  return log as unknown as Logger;
}

/** A log object that survives structured cloning: errors become their message and stack; what JSON cannot hold is named, never thrown. */
function plain(obj: Record<string, unknown>): Record<string, unknown> {
  const seen = new WeakSet<object>();
  try {
    return JSON.parse(
      JSON.stringify(obj, (_k, v: unknown) => {
        if (v instanceof Error) return { type: v.name, message: v.message, stack: v.stack, ...(v as unknown as Record<string, unknown>) };
        if (typeof v === 'bigint') return v.toString();
        if (v !== null && typeof v === 'object') {
          if (seen.has(v)) return '[circular]';
          seen.add(v);
        }
        return v;
      }),
    ) as Record<string, unknown>;
  } catch (err) {
    return { unloggable: (err as Error).message };
  }
}

/** Puts a connection's IO on the link: its caller audio, digits, hangup and playout figures go to the main thread. */
function host(io: AudioSocketIO): { conn: number; sab: SharedArrayBuffer } {
  const conn = nextConn++;
  const sab = new SharedArrayBuffer(SLOT_FIELDS * Float64Array.BYTES_PER_ELEMENT);
  const slot = new Float64Array(sab);
  let sent = 0;
  const origin = performance.timeOrigin;
  const publish = (withStats: boolean): void => {
    const p = io.playout;
    slot[SLOT.sentMs] = p.sentMs;
    slot[SLOT.playEnd] = p.playEnd + origin;
    if (!withStats) return;
    const s = io.stats;
    const ps = io.pacerStats;
    slot[SLOT.framesIn] = s.framesIn;
    slot[SLOT.framesOut] = s.framesOut;
    slot[SLOT.silenceOut] = s.silenceOut;
    slot[SLOT.dtmf] = s.dtmf;
    slot[SLOT.inboundDropped] = s.inboundDropped;
    slot[SLOT.lateFrames] = ps.lateFrames;
    slot[SLOT.maxLatenessMs] = ps.maxLatenessMs;
  };
  hosted.set(conn, { io, publish });
  publish(true);
  io.onFrameSent = (at) => {
    // Figures that cost an object are refreshed every half second of frames; playout every frame.
    publish(++sent % 25 === 0);
    if (init.reportFrameSends) {
      sends.push(conn, at + origin);
      out.wake();
    }
  };
  io.on('dtmf', (digit) => out.push({ t: 'dtmf', conn, digit }));
  io.on('hangup', (reason) => out.push({ t: 'hangup', conn, reason }));
  void (async () => {
    try {
      for await (const frame of io.frames()) out.audio(conn, frame.samples);
    } finally {
      publish(true);
      hosted.delete(conn);
      out.push({ t: 'closed', conn, cause: io.cause });
    }
  })();
  return { conn, sab };
}

let server: AudioSocketServer<AudioSocketIO> | undefined;

function onMessage(item: ToMedia): void {
  switch (item.t) {
    case 'audio':
      return forEachFrame(item, (conn, samples) => hosted.get(conn)?.io.write({ samples, sampleRate: PIPELINE_RATE }));
    case 'clear': {
      const h = hosted.get(item.conn);
      h?.io.clear();
      h?.publish(false);
      return;
    }
    case 'drain': {
      const io = hosted.get(item.conn)?.io;
      const req = item.req;
      if (!io) return out.push({ t: 'drained', req });
      void io.waitForPlayout().then(() => out.push({ t: 'drained', req }));
      return;
    }
    case 'close':
      void hosted.get(item.conn)?.io.close(item.reason, item.transferTarget ? { transferTarget: item.transferTarget } : undefined);
      return;
    case 'ran': {
      const r = runs.get(item.conn);
      if (!r) return;
      if (r.ran) {
        runs.delete(item.conn);
        r.ran();
      } else r.early = true;
      return;
    }
    case 'flow': {
      const waiting = choosing.get(item.req);
      choosing.delete(item.req);
      if (!waiting) return;
      if (item.flow !== undefined && item.language !== undefined) waiting.resolve({ flow: item.flow, language: item.language });
      else waiting.reject(new Error(item.error ?? 'no flow'));
      return;
    }
    case 'expect': {
      const { req, uuid } = item;
      if (!server) return out.push({ t: 'expect-failed', req, message: 'the AudioSocket server is not running' });
      server.expect(uuid, { timeoutMs: item.timeoutMs, wireRate: item.wireRate, logger: workerLogger({ module: 'audiosocket' }) }).then(
        (io) => {
          const { conn, sab } = host(io);
          out.push({ t: 'handed', req, conn, uuid: io.id, slot: sab });
        },
        (err: Error) => out.push({ t: 'expect-failed', req, message: err.message }),
      );
      return;
    }
    case 'cancel':
      server?.cancel(item.uuid);
      return;
    case 'shutdown':
      void (async () => {
        await server?.close();
        pushCounters();
        out.push({ t: 'shut' });
        out.flush();
      })();
      return;
  }
}

async function main(p: MessagePort): Promise<void> {
  p.on('message', (batch: ToMediaBatch) => {
    for (const item of batch.items) onMessage(item);
  });
  const logger = workerLogger({});
  try {
    const resampler = await loadResampler();
    server = await startAudioSocketServer({
      ...init.server,
      resampler,
      logger,
      chooseFlow: (uuid) =>
        new Promise((resolve, reject) => {
          const req = nextReq++;
          choosing.set(req, { resolve, reject });
          out.push({ t: 'choose', req, uuid });
        }),
      createCall: (io, flow, language) => {
        const { conn, sab } = host(io);
        const r: { ran?: () => void; early?: boolean } = {};
        runs.set(conn, r);
        out.push({ t: 'call', conn, uuid: io.id, flow, language, slot: sab });
        return {
          run: () =>
            new Promise<void>((resolve) => {
              if (r.early) {
                runs.delete(conn);
                return resolve();
              }
              r.ran = resolve;
            }),
          end: (reason, detail) => out.push({ t: 'end', conn, reason, detail }),
        };
      },
      onCallEnded: (info) => out.push({ t: 'call-ended', uuid: info.uuid, flow: info.flow, language: info.language, cause: info.cause }),
    });
  } catch (err) {
    out.push({ t: 'fatal', message: (err as Error).message });
    out.flush();
    return;
  }
  counters = server.counters;
  const priority = init.nice !== 0 ? setThreadNice(init.nice) : undefined;
  // Counters change a few times per call, not per frame: compared every 50 ms, sent when they moved.
  setInterval(pushCounters, 50).unref();
  out.push({ t: 'listening', port: server.port, ...(priority ? { priority: priority.ok ? `nice ${priority.nice}` : priority.reason, prioritySet: priority.ok } : {}) });
}

void main(port);
