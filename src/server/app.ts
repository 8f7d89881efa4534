/**
 * The HTTP server: one Fastify plugin per resource, JSON schemas on every
 * route (published at /docs), errors as `{ error, message }` with the status
 * the error code implies, never a stack trace.
 */
import { existsSync, readdirSync } from 'node:fs';
import cors from '@fastify/cors';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { CallObserver } from '../call/factory.js';
import type { Config } from '../config.js';
import type { Engines } from '../engines/registry.js';
import { isPalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { recordingsDir } from '../recording/settings.js';
import type { Store } from '../store/types.js';
import { type SpeechServices, createSpeechServices } from '../speech/services.js';
import { VERSION } from '../version.js';
import { registerAuth } from './auth.js';
import { type Metrics, createMetrics } from './metrics.js';
import { cleanAudioRoutes } from './routes/clean-audio.js';
import { healthRoutes } from './routes/health.js';
import { legacyRoutes } from './routes/legacy.js';
import { operatorRoutes } from './routes/operator.js';
import { DEFAULT_WEB_DIR, type SessionRoutesOptions, registerWsEdge, sessionRoutes, wsServerOptions } from './routes/session.js';
import { sttRoutes } from './routes/stt.js';
import { ttsRoutes } from './routes/tts.js';
import { type TwilioRoutesOptions, twilioRoutes } from './routes/twilio.js';

export interface AppDeps {
  config: Config;
  engines: Engines;
  logger: Logger;
  metrics?: Metrics;
  /** Browser sessions: flows directory, limits, timeouts. */
  browserSessions?: SessionRoutesOptions;
  twilio?: TwilioRoutesOptions;
  /** Keep what each call produces (the store, the recorder); given to every transport the app serves. */
  observers?: CallObserver[];
  /** The store: with it the operator API (/api/calls, /api/records, /api/stats) is served, behind server.adminToken. */
  store?: Store;
  /** Where recording files live (default: `recordings.dir`). */
  recordingsDir?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    palabre: { config: Config; engines: Engines; metrics: Metrics; services: SpeechServices };
  }
}

/** Fastify error codes that mean the client sent something wrong. */
const CLIENT_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_PARTS_LIMIT: { status: 413, code: 'payload_too_large' },
  FST_FILES_LIMIT: { status: 413, code: 'payload_too_large' },
  FST_FIELDS_LIMIT: { status: 413, code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_request' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'unsupported_media' },
  FST_ERR_VALIDATION: { status: 400, code: 'bad_request' },
};

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.server.maxUploadBytes,
    requestTimeout: config.server.requestTimeoutMs,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  });
  app.decorate('palabre', { config, engines: deps.engines, metrics, services: createSpeechServices({ config, engines: deps.engines, metrics, logger: deps.logger }) });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    let status = 500;
    let code = 'internal';
    let message = 'internal error';
    if (isPalabreError(err)) {
      status = err.status;
      code = err.code;
      message = err.message;
    } else if (err.code && CLIENT_ERRORS[err.code]) {
      ({ status, code } = CLIENT_ERRORS[err.code]);
      message = err.code === 'FST_ERR_VALIDATION' ? `invalid request: ${err.message}` : err.message;
      if (status === 413) message = `${err.message} (limit ${config.server.maxUploadBytes} bytes)`;
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode;
      code = 'bad_request';
      message = err.message;
    }
    if (status >= 500) request.log.error({ err }, 'request failed');
    else {
      request.log.info({ code, message }, 'request refused');
      metrics.badInput.inc({ route: request.routeOptions.url ?? 'unknown', code });
    }
    void reply.status(status).send({ error: code, message, statusCode: status });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}`, statusCode: 404 });
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // Audio bodies arrive as raw bytes; their real format is sniffed later, never trusted from this header.
  app.addContentTypeParser(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/l16', 'audio/pcm', 'audio/x-raw', 'application/octet-stream', 'audio/mpeg', 'audio/ogg', 'audio/webm', 'audio/mp4'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  await app.register(cors, { origin: config.server.corsOrigins.length > 0 ? config.server.corsOrigins : false });
  await app.register(multipart, {
    limits: { fileSize: config.server.maxUploadBytes, files: 1, fields: 20, fieldSize: 1024 * 1024, parts: 25 },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: 'palabre', description: 'Speech API of the palabre voice-bot server.', version: VERSION },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: config.server.authToken ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  registerWsEdge(app, config.server.authToken);
  const webDir = deps.browserSessions?.webDir ?? DEFAULT_WEB_DIR;
  const pageFiles = existsSync(webDir) ? readdirSync(webDir).map((f) => `/${f}`) : [];
  registerAuth(app, config.server.authToken, new Set(['/', ...pageFiles]));
  await app.register(websocket, { options: wsServerOptions });

  await app.register(healthRoutes);
  await app.register(sttRoutes);
  await app.register(ttsRoutes);
  await app.register(cleanAudioRoutes);
  await app.register(legacyRoutes);
  if (deps.store) {
    await app.register(operatorRoutes, {
      store: deps.store,
      recordingsDir: deps.recordingsDir ?? recordingsDir(config),
      adminToken: config.server.adminToken,
      configuredHost: config.server.host,
    });
  }
  await app.register(sessionRoutes, { logger: deps.logger, flowsDir: config.flows.dir, observers: deps.observers, ...deps.browserSessions });
  const tw = config.twilio;
  await app.register(twilioRoutes, {
    logger: deps.logger,
    flowsDir: config.flows.dir,
    authToken: tw.authToken,
    publicUrl: tw.publicUrl,
    defaultFlow: tw.defaultFlow,
    defaultLanguage: tw.defaultLanguage,
    maxCalls: tw.maxCalls,
    observers: deps.observers,
    ...deps.twilio,
  });
  return app;
}
