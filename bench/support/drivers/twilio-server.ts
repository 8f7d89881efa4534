/** palabre's HTTP server with the Twilio media route, for the call benchmark. */
import { buildApp } from '../../../src/server/app.js';
import type { TwilioIO } from '../../../src/transports/twilio/twilio-io.js';
import type { BenchServer, ServerDriver, ServerDriverDeps, TransportStats } from './server-types.js';

export const twilioServer: ServerDriver = {
  outbound: 'buffered',
  async start(deps: ServerDriverDeps): Promise<BenchServer> {
    const live = new Map<string, TwilioIO>();
    const totals = { inboundDroppedFrames: 0, outboundDroppedChunks: 0, chunksSent: 0, marksEchoed: 0 };
    const add = (io: TwilioIO, into: typeof totals): void => {
      into.inboundDroppedFrames += io.stats.inboundDropped;
      into.outboundDroppedChunks += io.stats.outboundDropped;
      into.chunksSent += io.stats.chunksOut;
      into.marksEchoed += io.stats.marksEchoed;
    };
    const app = await buildApp({
      config: deps.config,
      engines: deps.engines,
      logger: deps.logger,
      twilio: {
        maxCalls: deps.maxCalls,
        createCall: ({ io, flow, language, logger }) => {
          live.set(io.id, io);
          return deps.createCall(io, flow, language, logger);
        },
        onCallEnded: ({ streamSid, summary, endReason }) => {
          const io = live.get(streamSid);
          if (io) add(io, totals);
          live.delete(streamSid);
          deps.onCallEnded({ id: streamSid, summary, cause: endReason });
        },
      },
    });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const url = new URL(address);
    return {
      target: { host: url.hostname, port: Number(url.port), url: `ws://${url.host}/twilio/media` },
      active: () => live.size,
      stats(): TransportStats {
        const now = { ...totals };
        for (const io of live.values()) add(io, now);
        return now;
      },
      close: () => app.close(),
    };
  },
};
