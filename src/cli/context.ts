import type { Command } from 'commander';
import { type Config, loadConfig } from '../config.js';
import { type EngineKind } from '../engines/types.js';
import { type Engines, loadEngines } from '../engines/registry.js';
import { createLogger, type Logger } from '../log.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

/** Settings for a command: the config file and env, then the global flags. */
export function configFor(command: Command): Config {
  const opts = command.optsWithGlobals<GlobalOptions>();
  return loadConfig({ file: opts.config, overrides: opts.logLevel ? { log: { level: opts.logLevel } } : undefined });
}

/** CLI commands log only warnings by default: their output is the result, not the log. */
export function cliLogger(command: Command, config: Config): Logger {
  const explicit = command.optsWithGlobals<GlobalOptions>().logLevel;
  return createLogger(explicit ?? (config.log.level === 'info' ? 'warn' : config.log.level));
}

export async function withEngines<T>(command: Command, kinds: readonly EngineKind[], fn: (engines: Engines, config: Config, logger: Logger) => Promise<T>): Promise<T> {
  const config = configFor(command);
  const logger = cliLogger(command, config);
  const engines = await loadEngines(config, logger, { kinds });
  try {
    return await fn(engines, config, logger);
  } finally {
    await engines.close();
  }
}
