import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = { paths: ['*.authorization', '*.apiKey', '*.authToken', 'req.headers.authorization'], censor: '***' };

/**
 * The process logger; modules take a child logger (`logger.child({ module })`) rather than creating their own.
 * The CLI logs to stderr so that stdout carries only a command's result.
 */
export function createLogger(level: string = 'info', options: { stream?: 'stdout' | 'stderr' } = {}): Logger {
  const base = { level, base: { app: 'palabre' }, redact: REDACT };
  return options.stream === 'stderr' ? pino(base, pino.destination({ fd: 2, sync: true })) : pino(base);
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
