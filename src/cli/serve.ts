import { Command } from 'commander';
import { loadEngines } from '../engines/registry.js';
import { createLogger } from '../log.js';
import { buildApp } from '../server/app.js';
import { configFor } from './context.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('start the HTTP server (speech API, /health, /metrics, /docs)')
    .option('-p, --port <port>', 'port to listen on (overrides server.port)')
    .option('-H, --host <host>', 'address to bind (overrides server.host)')
    .action(async (opts: { port?: string; host?: string }, command: Command) => {
      const config = configFor(command);
      if (opts.port !== undefined) config.server.port = Number(opts.port);
      if (opts.host !== undefined) config.server.host = opts.host;
      const logger = createLogger(config.log.level);
      const engines = await loadEngines(config, logger);
      for (const s of engines.statuses) logger.info({ kind: s.kind, engine: s.name, loaded: s.loaded, reason: s.reason }, 'engine');
      const app = await buildApp({ config, engines, logger });
      let closing = false;
      const shutdown = async (signal: string) => {
        if (closing) return;
        closing = true;
        logger.info({ signal }, 'shutting down');
        await app.close();
        await engines.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      const address = await app.listen({ port: config.server.port, host: config.server.host });
      logger.info({ address, docs: `${address}/docs` }, 'palabre is listening');
    });
}
