/** palabre's AudioSocket server for the call benchmark, with its pacers' own lateness counted. */
import { startAudioSocketServer, startThreadedAudioSocketServer, type AudioSocketIOStats, type AudioSocketServer } from '../../../src/transports/audiosocket/index.js';
import { SendJitter } from '../send-jitter.js';
import type { BenchServer, ServerDriver, ServerDriverDeps, TransportStats } from './server-types.js';

export const audioSocketServer: ServerDriver = {
  outbound: 'paced',
  async start(deps: ServerDriverDeps): Promise<BenchServer> {
    /** What both kinds of IO (in-thread, or on the media thread) report. */
    type MeasuredIO = { id: string; stats: AudioSocketIOStats; pacerStats: { lateFrames: number; maxLatenessMs: number }; onFrameSent: ((atMs: number) => void) | undefined };
    const live = new Map<string, MeasuredIO>();
    const totals = { pacerLateFrames: 0, pacerMaxLatenessMs: 0, inboundDroppedFrames: 0, botFramesSent: 0, silenceFramesSent: 0 };
    const sendJitter = new SendJitter();
    const add = (io: MeasuredIO, into: typeof totals): void => {
      into.pacerLateFrames += io.pacerStats.lateFrames;
      into.pacerMaxLatenessMs = Math.max(into.pacerMaxLatenessMs, io.pacerStats.maxLatenessMs);
      into.inboundDroppedFrames += io.stats.inboundDropped;
      into.botFramesSent += io.stats.framesOut;
      into.silenceFramesSent += io.stats.silenceOut;
    };
    const settings = {
      host: '127.0.0.1',
      port: 0,
      maxCalls: deps.maxCalls,
      logger: deps.logger,
      io: { resampleQuality: deps.config.audio.resampleQuality },
      chooseFlow: () => ({ flow: 'support-desk', language: 'en' }),
      createCall: <IO extends MeasuredIO & Parameters<typeof deps.createCall>[0]>(io: IO, flow: string, language: string, logger: typeof deps.logger) => {
        live.set(io.id, io);
        io.onFrameSent = sendJitter.forCall();
        return deps.createCall(io, flow, language, logger);
      },
      onCallEnded: ({ uuid, summary, cause }: { uuid: string; summary: Parameters<typeof deps.onCallEnded>[0]['summary']; cause: string | undefined }) => {
        const io = live.get(uuid);
        if (io) add(io, totals);
        live.delete(uuid);
        deps.onCallEnded({ id: uuid, summary, cause: cause ?? 'unknown' });
      },
    };
    // The media thread reports each frame it hands to a socket, so pacing is timed on the server's clock either way.
    let server: AudioSocketServer;
    let media: string;
    if (deps.config.audiosocket.mediaThread) {
      const threaded = await startThreadedAudioSocketServer({ ...settings, reportFrameSends: true, threadNice: deps.config.audiosocket.mediaThreadNice });
      media = `media thread${threaded.threadPriority ? ` (${threaded.threadPriority})` : ''}`;
      server = threaded;
    } else {
      server = await startAudioSocketServer({ ...settings, resampler: deps.engines.resampler });
      media = 'media on the main thread';
    }
    return {
      target: { host: '127.0.0.1', port: server.port },
      media,
      active: () => server.counters.active,
      stats(): TransportStats {
        const now: TransportStats = { ...totals };
        for (const io of live.values()) add(io, now as typeof totals);
        return { ...now, ...sendJitter.figures() };
      },
      measure: () => sendJitter.start(),
      close: () => server.close(),
    };
  },
};
