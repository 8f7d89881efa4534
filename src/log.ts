import pino, { type Logger } from 'pino';

export type { Logger };

/** The process logger; modules take a child logger (`logger.child({ module })`) rather than creating their own. */
export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: { app: 'palabre' }, redact: { paths: ['*.authorization', '*.apiKey', '*.authToken', 'req.headers.authorization'], censor: '***' } });
}

/** A logger that drops everything, for library use and tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
