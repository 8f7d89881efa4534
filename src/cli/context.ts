import type { Command } from 'commander';
import { type Config, loadConfig } from '../config.js';
import type { Engines, LoadEnginesOptions } from '../engines/registry.js';
import { createLogger, type Logger } from '../log.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

/** Settings for a command: the config file and env, then the global flags, then the command's own flags. */
export function configFor(command: Command, overrides: Record<string, unknown> = {}): Config {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const log = opts.logLevel ? { log: { level: opts.logLevel } } : {};
  return loadConfig({ file: opts.config, overrides: { ...log, ...overrides } });
}

/**
 * CLI commands log only warnings by default, and to standard error: standard output carries
 * the result (`doctor --json`, `say -o -`), which a log line would corrupt.
 */
export function cliLogger(command: Command, config: Config, quietLevel = 'warn'): Logger {
  const explicit = command.optsWithGlobals<GlobalOptions>().logLevel;
  const level = explicit ?? (config.log.level === 'info' ? quietLevel : config.log.level);
  return createLogger(level, { stream: 'stderr' });
}

/** Loads `kinds` of engines, runs `fn`, then closes them; pass `config` when the command has read it already. */
export async function withEngines<T>(
  command: Command,
  load: LoadEnginesOptions,
  fn: (engines: Engines, config: Config, logger: Logger) => Promise<T>,
  config: Config = configFor(command),
): Promise<T> {
  const logger = cliLogger(command, config);
  const { loadEngines } = await import('../engines/registry.js');
  const engines = await loadEngines(config, logger, load);
  try {
    return await fn(engines, config, logger);
  } finally {
    await engines.close();
  }
}
