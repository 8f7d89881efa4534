/** palabre's AudioSocket server for the call benchmark, with its pacers' own lateness counted. */
import { type AudioSocketIO, startAudioSocketServer } from '../../../src/transports/audiosocket/index.js';
import { SendJitter } from '../send-jitter.js';
import type { BenchServer, ServerDriver, ServerDriverDeps, TransportStats } from './server-types.js';

export const audioSocketServer: ServerDriver = {
  outbound: 'paced',
  async start(deps: ServerDriverDeps): Promise<BenchServer> {
    const live = new Map<string, AudioSocketIO>();
    const totals = { pacerLateFrames: 0, pacerMaxLatenessMs: 0, inboundDroppedFrames: 0, botFramesSent: 0, silenceFramesSent: 0 };
    const sendJitter = new SendJitter();
    const add = (io: AudioSocketIO, into: typeof totals): void => {
      into.pacerLateFrames += io.pacerStats.lateFrames;
      into.pacerMaxLatenessMs = Math.max(into.pacerMaxLatenessMs, io.pacerStats.maxLatenessMs);
      into.inboundDroppedFrames += io.stats.inboundDropped;
      into.botFramesSent += io.stats.framesOut;
      into.silenceFramesSent += io.stats.silenceOut;
    };
    const server = await startAudioSocketServer({
      host: '127.0.0.1',
      port: 0,
      maxCalls: deps.maxCalls,
      logger: deps.logger,
      resampler: deps.engines.resampler,
      io: { resampleQuality: deps.config.audio.resampleQuality },
      chooseFlow: () => ({ flow: 'support-desk', language: 'en' }),
      createCall: (io, flow, language, logger) => {
        live.set(io.id, io);
        io.onFrameSent = sendJitter.forCall();
        return deps.createCall(io, flow, language, logger);
      },
      onCallEnded: ({ uuid, summary, cause }) => {
        const io = live.get(uuid);
        if (io) add(io, totals);
        live.delete(uuid);
        deps.onCallEnded({ id: uuid, summary, cause: cause ?? 'unknown' });
      },
    });
    return {
      target: { host: '127.0.0.1', port: server.port },
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
