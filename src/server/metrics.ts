import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One registry per app instance (not prom-client's global one) so that tests
 * and several servers in one process never share counters.
 */
export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  engineDuration: Histogram<'kind' | 'engine' | 'op'>;
  engineErrors: Counter<'kind' | 'engine' | 'code'>;
  audioSeconds: Counter<'kind' | 'engine'>;
  degenerateOutputs: Counter<'engine' | 'action'>;
  badInput: Counter<'route' | 'code'>;
  /** Per finished call, what it used of each engine. */
  engineRequests: Counter<'kind' | 'engine'>;
  engineCharacters: Counter<'kind' | 'engine'>;
  engineTokens: Counter<'engine' | 'type'>;
  callCost: Counter<'currency'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'palabre_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'palabre_http_request_duration_seconds',
      help: 'HTTP request duration by route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    engineDuration: new Histogram({
      name: 'palabre_engine_duration_seconds',
      help: 'Time spent in a speech engine per operation.',
      labelNames: ['kind', 'engine', 'op'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    engineErrors: new Counter({
      name: 'palabre_engine_errors_total',
      help: 'Engine failures by kind, engine and error code.',
      labelNames: ['kind', 'engine', 'code'],
      registers: [registry],
    }),
    audioSeconds: new Counter({
      name: 'palabre_engine_audio_seconds_total',
      help: 'Seconds of audio processed (stt, denoise) or produced (tts).',
      labelNames: ['kind', 'engine'],
      registers: [registry],
    }),
    degenerateOutputs: new Counter({
      name: 'palabre_stt_degenerate_total',
      help: 'Transcripts flagged or dropped by the degenerate-output guard.',
      labelNames: ['engine', 'action'],
      registers: [registry],
    }),
    engineRequests: new Counter({
      name: 'palabre_engine_requests_total',
      help: 'Requests calls made to each engine (counted when the call ends).',
      labelNames: ['kind', 'engine'],
      registers: [registry],
    }),
    engineCharacters: new Counter({
      name: 'palabre_engine_characters_total',
      help: 'Characters sent to voices (tts) and written by language models (llm), counted when the call ends.',
      labelNames: ['kind', 'engine'],
      registers: [registry],
    }),
    engineTokens: new Counter({
      name: 'palabre_llm_tokens_total',
      help: 'Language model tokens by type (prompt, completion), as the servers reported them.',
      labelNames: ['engine', 'type'],
      registers: [registry],
    }),
    callCost: new Counter({
      name: 'palabre_call_cost_total',
      help: 'Cost of finished calls priced with the configured table.',
      labelNames: ['currency'],
      registers: [registry],
    }),
    badInput: new Counter({
      name: 'palabre_bad_input_total',
      help: 'Requests refused for bad input, by route and error code.',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
  };
}

/** Runs `fn`, observing its duration in the engine histogram and counting failures. */
export async function timeEngine<T>(metrics: Metrics | undefined, labels: { kind: string; engine: string; op: string }, fn: () => Promise<T>): Promise<T> {
  const end = metrics?.engineDuration.startTimer(labels);
  try {
    return await fn();
  } catch (err) {
    metrics?.engineErrors.inc({ kind: labels.kind, engine: labels.engine, code: (err as { code?: string }).code ?? 'error' });
    throw err;
  } finally {
    end?.();
  }
}
