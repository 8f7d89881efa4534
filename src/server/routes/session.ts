/**
 * Browser sessions: REST to create, read and end one, a WebSocket that
 * carries its call (protocol in src/transports/browser/protocol.ts), and the
 * demo page in web/ at `/`.
 */
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
// The `websocket: true` route option and handler types.
import type {} from '@fastify/websocket';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { PalabreError, isPalabreError } from '../../errors.js';
import { checkCallEngines, createBrowserCallFactory } from '../../transports/browser/call.js';
import { CLIENT_RATES, type ClientRate } from '../../transports/browser/protocol.js';
import { BrowserSessions, SessionLimitError, type BrowserSessionsOptions, type CallFactory } from '../../transports/browser/sessions.js';
import type { CallObserver } from '../../call/factory.js';
import type { DialogLlm } from '../../dialog/llm.js';
import { loadFlowsDir, type FlowRegistry } from '../../dialog/loader.js';
import { createLlmFromConfig } from '../../engines/llm/index.js';
import type { Logger } from '../../log.js';

export interface SessionRoutesOptions extends Omit<BrowserSessionsOptions, 'createCall' | 'resampler' | 'logger'> {
  /** Where the flows live; `flows/` of the package by default. */
  flowsDir?: string;
  /** Writes the replies of `llm` states; default: the one `engines.llm` configures, if any. */
  llm?: DialogLlm;
  /** Keep what each call produces (the store, the recorder). */
  observers?: CallObserver[];
  /** Is a language model available? Flows that need one are refused with 409 otherwise. Default: whether there is one. */
  llmAvailable?: boolean;
  /** Where the demo page lives; `web/` of the package by default. */
  webDir?: string;
  /** Replaces the real call (dialog, engines) by another; for transport tests. */
  createCall?: CallFactory;
  logger?: Logger;
}

/** The package root is three levels above this file, in src/ as in dist/. */
const PACKAGE_DIR = new URL('../../../', import.meta.url);
export const DEFAULT_FLOWS_DIR = fileURLToPath(new URL('flows/', PACKAGE_DIR));
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('web/', PACKAGE_DIR));

/** Subprotocol the page offers; a token may ride along as `bearer.<token>` (browsers cannot set Authorization on a WebSocket). */
export const WS_PROTOCOL = 'palabre';
const BEARER_PROTOCOL = 'bearer.';

/** ws server options: never echo the token subprotocol back. */
export const wsServerOptions = {
  maxPayload: 1024 * 1024,
  handleProtocols(protocols: Set<string>): string | false {
    if (protocols.has(WS_PROTOCOL)) return WS_PROTOCOL;
    for (const p of protocols) if (!p.startsWith(BEARER_PROTOCOL)) return p;
    return false;
  },
};

/**
 * What WebSocket upgrades need before the auth hook (add this first):
 * - with a token configured, the bearer check sees a socket's token, taken
 *   from a `bearer.<token>` subprotocol or a `token` query parameter and copied
 *   into Authorization when that header is absent; the check itself stays there;
 * - an upgrade refused with a plain HTTP answer (401 from a hook, say) has its
 *   socket closed: the HTTP server no longer owns an upgraded socket, so
 *   nothing else would, and a client that does not hang up would hold it open
 *   for ever (and stall server shutdown).
 */
export function registerWsEdge(app: FastifyInstance, token: string | undefined): void {
  app.addHook('onResponse', async (request) => {
    if (String(request.headers.upgrade ?? '').toLowerCase() === 'websocket') request.raw.socket?.destroy();
  });
  if (!token) return;
  app.addHook('onRequest', async (request) => {
    if (request.headers.authorization || !request.url.startsWith('/ws/')) return;
    const offered = String(request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .find((p) => p.startsWith(BEARER_PROTOCOL));
    const fromQuery = (request.query as Record<string, unknown> | undefined)?.token;
    const given = offered ? offered.slice(BEARER_PROTOCOL.length) : typeof fromQuery === 'string' ? fromQuery : undefined;
    if (given) request.headers.authorization = `Bearer ${given}`;
  });
}

const LANGUAGE_PATTERN = '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$';

const sessionView = {
  type: 'object',
  properties: {
    session_id: { type: 'string' },
    flow: { type: 'string' },
    language: { type: 'string' },
    status: { type: 'string', enum: ['waiting', 'connected', 'ended'] },
    ended: { type: 'boolean' },
    end_reason: { type: ['string', 'null'] },
    created_at: { type: 'string' },
    state: { type: ['string', 'null'] },
    last_intent: {
      type: ['object', 'null'],
      properties: { intent: { type: ['string', 'null'] }, confidence: { type: 'number' }, source: { type: 'string' }, text: { type: 'string' } },
    },
    barge_ins: { type: 'integer' },
    transcript: {
      type: 'array',
      items: {
        type: 'object',
        properties: { role: { type: 'string' }, text: { type: 'string' }, atMs: { type: 'number' }, turn: { type: 'integer' }, cut: { type: 'boolean' }, heard: { type: 'string' } },
      },
    },
  },
};

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } };

function problem(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  return reply.status(status).send({ error, message, statusCode: status });
}

export async function sessionRoutes(app: FastifyInstance, options: SessionRoutesOptions): Promise<void> {
  const { engines, config } = app.palabre;
  // Fastify's logger is the pino instance the app was built with.
  const logger = (options.logger ?? (app.log as unknown as Logger)).child({ module: 'browser' });
  const flowsDir = options.flowsDir ?? DEFAULT_FLOWS_DIR;
  const llm = options.llm ?? createLlmFromConfig(config);
  const llmAvailable = options.llmAvailable ?? llm !== undefined;

  let flows: Promise<FlowRegistry> | undefined;
  const registry = (): Promise<FlowRegistry> => {
    // Loaded on first use and kept; a failed load is retried next time.
    flows ??= loadFlowsDir(flowsDir, { llmAvailable, realtimeAvailable: config.engines.realtime.apiKey !== undefined }).catch((err: unknown) => {
      flows = undefined;
      throw err;
    });
    return flows;
  };

  const createCall =
    options.createCall ?? createBrowserCallFactory({ config, engines, logger, flows: registry, llm, observers: options.observers, metrics: app.palabre.metrics });
  const sessions = new BrowserSessions({
    maxSessions: config.browser.maxSessions,
    connectTimeoutMs: config.browser.connectTimeoutMs,
    ...options,
    createCall,
    resampler: engines.resampler,
    logger,
    io: { resampleQuality: config.audio.resampleQuality, ...options.io },
  });
  app.addHook('onClose', async () => sessions.closeAll());

  await app.register(fastifyStatic, { root: options.webDir ?? DEFAULT_WEB_DIR, prefix: '/', wildcard: false, decorateReply: false, index: ['index.html'] });

  app.get('/api/session/flows', { schema: { summary: 'Flows a browser session can run, with their languages', tags: ['session'] } }, async () => {
    const list = (await registry()).list();
    return {
      flows: list.map((f) => ({
        id: f.id,
        description: f.description ?? null,
        languages: f.languages,
        needs_llm: f.needsLlm,
        available: !f.error,
        error: f.error ?? null,
      })),
    };
  });

  app.post(
    '/api/session/start',
    {
      schema: {
        summary: 'Start a browser session: returns the WebSocket URL that carries its call',
        description:
          'Connect to `ws_url` within 60 s (offer the subprotocol `palabre`; with an auth token, also `bearer.<token>`, or add `?token=`). ' +
          'Unknown flow: 404 naming the known ones. A flow that needs a language model when none is configured: 409.',
        tags: ['session'],
        body: {
          type: 'object',
          required: ['flow', 'language'],
          additionalProperties: false,
          properties: {
            flow: { type: 'string', minLength: 1, maxLength: 100 },
            language: { type: 'string', pattern: LANGUAGE_PATTERN },
            sample_rate: { type: 'integer', enum: [...CLIENT_RATES], description: 'Rate of the audio the client sends and receives; otherwise declared by the `start` message.' },
          },
        },
        response: { 200: { type: 'object', properties: { session_id: { type: 'string' }, ws_url: { type: 'string' }, expires_in_ms: { type: 'integer' } } } },
      },
    },
    async (request: FastifyRequest, reply) => {
      const body = request.body as { flow: string; language: string; sample_rate?: ClientRate };
      let flow;
      try {
        flow = (await registry()).get(body.flow);
      } catch (err) {
        // The flow is fine as written; this server lacks the language model it needs.
        if (isPalabreError(err) && err.code === 'engine_unavailable') return problem(reply, 409, 'llm_required', err.message);
        throw err;
      }
      const languages: readonly string[] = flow.definition.languages;
      if (!languages.includes(body.language)) {
        throw new PalabreError('bad_request', `flow "${body.flow}" speaks ${languages.join(', ')}, not "${body.language}"`);
      }
      // Missing engines are said now, not after the page has connected.
      if (!options.createCall) checkCallEngines(engines, body.language);
      try {
        const { id } = sessions.create({ flow: flow.id, language: body.language, sampleRate: body.sample_rate });
        const scheme = request.protocol === 'https' ? 'wss' : 'ws';
        return { session_id: id, ws_url: `${scheme}://${request.host}/ws/${id}`, expires_in_ms: options.connectTimeoutMs ?? config.browser.connectTimeoutMs };
      } catch (err) {
        if (err instanceof SessionLimitError) return problem(reply, 503, 'too_many_sessions', err.message);
        throw err;
      }
    },
  );

  app.get(
    '/api/session/:id',
    { schema: { summary: 'State, language, transcript so far, and whether the session has ended', tags: ['session'], params: idParams, response: { 200: sessionView } } },
    async (request) => sessions.view((request.params as { id: string }).id),
  );

  app.post(
    '/api/session/:id/end',
    { schema: { summary: 'End a session (its call hangs up); returns its final view', tags: ['session'], params: idParams, response: { 200: sessionView } } },
    async (request) => sessions.end((request.params as { id: string }).id),
  );

  app.get('/ws/:id', { websocket: true, schema: { params: idParams } }, (socket: WebSocket, request) => {
    void sessions.connect((request.params as { id: string }).id, socket);
  });
}
