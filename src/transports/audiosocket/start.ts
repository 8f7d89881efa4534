/** Starts the AudioSocket server `palabre serve` runs when `audiosocket.enabled` is set. */
import type { CallObserver } from '../../call/factory.js';
import type { Config } from '../../config.js';
import { loadFlowsDir, type FlowRegistry } from '../../dialog/loader.js';
import { createLlmFromConfig } from '../../engines/llm/index.js';
import type { Engines } from '../../engines/registry.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../server/metrics.js';
import { createAudioSocketCallFactory } from './call.js';
import { createFlowChooser } from './choose-flow.js';
import { registerAudioSocketMetrics } from './metrics.js';
import { startAudioSocketServer, type AudioSocketServer } from './server.js';
import { startThreadedAudioSocketServer } from './threaded-server.js';

export async function startAsteriskAudioSocket(config: Config, engines: Engines, logger: Logger, metrics?: Metrics, observers: CallObserver[] = []) {
  const c = config.audiosocket;
  const llm = createLlmFromConfig(config);
  let flows: Promise<FlowRegistry> | undefined;
  const registry = (): Promise<FlowRegistry> => (flows ??= loadFlowsDir(config.flows.dir, { llmAvailable: llm !== undefined, realtimeAvailable: config.engines.realtime.apiKey !== undefined }));
  const log = logger.child({ module: 'audiosocket' });
  const settings = {
    host: c.host,
    port: c.port,
    allow: c.allow,
    maxCalls: c.maxCalls,
    firstFrameTimeoutMs: c.firstFrameTimeoutMs,
    chooseFlow: createFlowChooser(c, log),
    createCall: createAudioSocketCallFactory({ config, engines, flows: registry, llm, observers, metrics }),
    logger: log,
    io: { resampleQuality: config.audio.resampleQuality },
  };
  const server: AudioSocketServer = c.mediaThread ? await startThreadedAudioSocketServer({ ...settings, threadNice: c.mediaThreadNice }) : await startAudioSocketServer({ ...settings, resampler: engines.resampler });
  if (metrics) registerAudioSocketMetrics(metrics, server.counters);
  log.info({ host: c.host, port: server.port, allow: c.allow }, 'AudioSocket server is listening');
  return server;
}
