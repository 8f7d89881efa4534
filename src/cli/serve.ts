import { Command, InvalidArgumentError } from 'commander';
import { PalabreError } from '../errors.js';
import type { AudioSocketServer } from '../transports/audiosocket/server.js';
import { configFor } from './context.js';

/** A stuck close (a hung engine worker) must not keep a stopped server from exiting. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

function listenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new PalabreError('internal', `cannot listen on ${host}:${port}: the port is already in use (choose another with --port or PALABRE_SERVER_PORT)`);
  if (code === 'EACCES') return new PalabreError('internal', `cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new PalabreError('internal', `cannot listen on ${host}:${port}: no such local address (check --host or PALABRE_SERVER_HOST)`);
  return err;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535 (0 picks a free one).');
  return port;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('start the HTTP server (speech API, /health, /metrics, /docs)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port; 0 picks a free one)', parsePort)
    .option('-H, --host <host>', 'address to bind (overrides server.host)')
    .action(async (opts: { port?: number; host?: string }, command: Command) => {
      const server: Record<string, unknown> = {};
      if (opts.port !== undefined) server.port = opts.port;
      if (opts.host !== undefined) server.host = opts.host;
      const config = configFor(command, Object.keys(server).length > 0 ? { server } : {});
      if (config.ari.enabled && config.ari.mediaEncapsulation === 'audiosocket' && !config.audiosocket.enabled) {
        throw new PalabreError('config_invalid', 'ari.mediaEncapsulation is audiosocket, so Asterisk connects to palabre\'s AudioSocket server: enable it with audiosocket.enabled (PALABRE_AUDIOSOCKET_ENABLED=true), or use ari.mediaEncapsulation rtp');
      }
      const [{ loadEngines }, { createLogger }, { buildApp }, { createMetrics }, { startStore }, { startRecordings }] = await Promise.all([
        import('../engines/registry.js'),
        import('../log.js'),
        import('../server/app.js'),
        import('../server/metrics.js'),
        import('../store/start.js'),
        import('../recording/start.js'),
      ]);
      const logger = createLogger(config.log.level);
      const metrics = createMetrics();
      // What is open, closed in reverse order on shutdown or when a later step of the start fails.
      const opened: Array<() => Promise<unknown>> = [];
      /** Closes what is open, newest first; false when something failed to close (logged). */
      const closeAll = async (): Promise<boolean> => {
        let clean = true;
        for (const close of opened.splice(0).reverse()) {
          await close().catch((err: unknown) => {
            clean = false;
            logger.error({ err }, 'close failed');
          });
        }
        return clean;
      };
      const step = async <T>(start: () => Promise<T>, close: (it: T) => Promise<unknown>, mapError: (err: unknown) => unknown = (e) => e): Promise<T> => {
        let it: T;
        try {
          it = await start();
        } catch (err) {
          await closeAll();
          throw mapError(err);
        }
        opened.push(() => close(it));
        return it;
      };

      // The store first: a database that cannot be reached fails the start before the engines load.
      const stored = await step(() => startStore(config, logger, metrics.registry), (s) => s?.store.close() ?? Promise.resolve());
      const recordings = await step(() => startRecordings(config, stored?.store, logger, metrics), (r) => r.stop());
      // The store's observer first: a call's row exists before its recording's.
      const observers = [...(stored?.observers ?? []), ...(recordings.observer ? [recordings.observer] : [])];
      const engines = await step(() => loadEngines(config, logger), (e) => e.close());
      for (const s of engines.statuses) logger.info({ kind: s.kind, engine: s.name, loaded: s.loaded, reason: s.reason }, 'engine');
      const app = await step(() => buildApp({ config, engines, logger, metrics, observers, store: stored?.store }), (a) => a.close());
      const address = await step(
        () => app.listen({ port: config.server.port, host: config.server.host }),
        () => Promise.resolve(),
        (err) => listenError(err, config.server.host, config.server.port),
      );
      let audioSocket: AudioSocketServer | undefined;
      if (config.audiosocket.enabled) {
        const { startAsteriskAudioSocket } = await import('../transports/audiosocket/start.js');
        audioSocket = await step(
          () => startAsteriskAudioSocket(config, engines, logger, app.palabre.metrics, observers),
          (a) => a.close(),
          (err) => listenError(err, config.audiosocket.host, config.audiosocket.port),
        );
      }
      if (config.ari.enabled) {
        const { startAsteriskAri } = await import('../transports/ari/start.js');
        // Closed before the AudioSocket server (newest first), so its calls end their connections themselves.
        await step(() => startAsteriskAri(config, engines, logger, app.palabre.metrics, observers, audioSocket), (a) => a.close());
      }

      let closing = false;
      const shutdown = async (signal: string) => {
        if (closing) return;
        closing = true;
        logger.info({ signal }, 'shutting down');
        const timer = setTimeout(() => {
          logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting anyway');
          process.exit(1);
        }, SHUTDOWN_TIMEOUT_MS);
        timer.unref();
        // Transports first (no new calls), then the app, recordings, store and engines.
        process.exit((await closeAll()) ? 0 : 1);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      logger.info({ address, docs: `${address}/docs` }, 'palabre is listening');
    });
}
