/**
 * Errors that cross a module edge carry a stable code and the HTTP status a
 * route should answer with, so callers never have to parse messages.
 */
export type ErrorCode =
  | 'bad_audio'
  | 'bad_request'
  | 'unsupported_media'
  | 'payload_too_large'
  | 'audio_too_short'
  | 'audio_silent'
  | 'rate_mismatch'
  | 'engine_unavailable'
  | 'engine_failed'
  | 'not_found'
  | 'unauthorized'
  | 'aborted'
  | 'download_failed'
  | 'checksum_mismatch'
  | 'config_invalid'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_audio: 400,
  bad_request: 400,
  unsupported_media: 415,
  payload_too_large: 413,
  audio_too_short: 422,
  audio_silent: 422,
  rate_mismatch: 400,
  engine_unavailable: 503,
  engine_failed: 502,
  not_found: 404,
  unauthorized: 401,
  aborted: 499,
  download_failed: 502,
  checksum_mismatch: 502,
  config_invalid: 500,
  internal: 500,
};

export class PalabreError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PalabreError';
    this.code = code;
    this.status = STATUS[code];
    this.details = options?.details;
  }
}

export function isPalabreError(err: unknown): err is PalabreError {
  return err instanceof PalabreError;
}

/** Throws an `aborted` error if the signal has fired; call between units of work. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new PalabreError('aborted', `${what} was cancelled`, { cause: signal.reason });
}
