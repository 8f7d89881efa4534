import { Command, InvalidArgumentError } from 'commander';
import { PalabreError } from '../errors.js';
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
      const [{ loadEngines }, { createLogger }, { buildApp }] = await Promise.all([import('../engines/registry.js'), import('../log.js'), import('../server/app.js')]);
      const logger = createLogger(config.log.level);
      const engines = await loadEngines(config, logger);
      for (const s of engines.statuses) logger.info({ kind: s.kind, engine: s.name, loaded: s.loaded, reason: s.reason }, 'engine');
      const app = await buildApp({ config, engines, logger });
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
        try {
          await audiosocket?.close();
          await app.close();
          await engines.close();
          process.exit(0);
        } catch (err) {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        }
      };
      let audiosocket: { close(): Promise<void> } | undefined;
      let address: string;
      try {
        address = await app.listen({ port: config.server.port, host: config.server.host });
      } catch (err) {
        await app.close().catch(() => undefined);
        await engines.close();
        throw listenError(err, config.server.host, config.server.port);
      }
      if (config.audiosocket.enabled) {
        const { startAsteriskAudioSocket } = await import('../transports/audiosocket/start.js');
        try {
          audiosocket = await startAsteriskAudioSocket(config, engines, logger, app.palabre.metrics);
        } catch (err) {
          await app.close().catch(() => undefined);
          await engines.close();
          throw listenError(err, config.audiosocket.host, config.audiosocket.port);
        }
      }
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      logger.info({ address, docs: `${address}/docs` }, 'palabre is listening');
    });
}
