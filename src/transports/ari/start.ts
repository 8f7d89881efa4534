/** Starts the ARI Stasis application `palabre serve` runs when `ari.enabled` is set. */
import { createCallFactory, type CallObserver } from '../../call/factory.js';
import type { Config } from '../../config.js';
import { loadFlowsDir, type FlowRegistry } from '../../dialog/loader.js';
import { createLlmFromConfig } from '../../engines/llm/index.js';
import type { Engines } from '../../engines/registry.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../server/metrics.js';
import type { AudioSocketServer } from '../audiosocket/server.js';
import { AriStasisApp } from './app.js';
import { AriClient } from './client.js';
import { registerAriMetrics } from './metrics.js';

/** `audioSocket` is the running AudioSocket server, which externalMedia with AudioSocket encapsulation needs. */
export async function startAsteriskAri(config: Config, engines: Engines, logger: Logger, metrics?: Metrics, observers: CallObserver[] = [], audioSocket?: AudioSocketServer): Promise<AriStasisApp> {
  const c = config.ari;
  const llm = createLlmFromConfig(config);
  let flows: Promise<FlowRegistry> | undefined;
  const registry = (): Promise<FlowRegistry> => {
    flows ??= loadFlowsDir(config.flows.dir, { llmAvailable: llm !== undefined, realtimeAvailable: config.engines.realtime.apiKey !== undefined }).catch((err: unknown) => {
      flows = undefined;
      throw err;
    });
    return flows;
  };
  const log = logger.child({ module: 'ari' });
  const client = new AriClient({
    url: c.url,
    username: c.username,
    password: c.password,
    app: c.app,
    requestTimeoutMs: c.requestTimeoutMs,
    reconnectMinMs: c.reconnectMinMs,
    reconnectMaxMs: c.reconnectMaxMs,
    logger: log,
  });
  const app = new AriStasisApp({
    client,
    settings: c,
    flows: registry,
    createCall: createCallFactory({ config, engines, flows: registry, llm, observers, metrics }),
    resampler: engines.resampler,
    resampleQuality: config.audio.resampleQuality,
    audioSocket,
    logger: log,
  });
  if (metrics) registerAriMetrics(metrics, { app: app.counters, client: client.counters, rtp: app.rtpCounters, ports: app.ports });
  app.start();
  const media = c.mediaEncapsulation === 'audiosocket' ? { audiosocket: c.audiosocketHost } : { rtp: `${c.rtpHost}:${c.rtpPortMin}-${c.rtpPortMax}` };
  log.info({ url: c.url, stasisApp: c.app, ...media, format: c.format }, 'ARI Stasis application started; waiting for calls');
  return app;
}
