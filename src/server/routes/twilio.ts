/**
 * Twilio: `POST /twilio/voice` answers a call with TwiML that connects it to
 * `WS /twilio/media`, where each Media Stream becomes a TwilioIO running the
 * flow its custom parameters name. With an auth token, both the voice webhook
 * and the stream's WebSocket handshake must carry a valid `X-Twilio-Signature`
 * (Twilio signs the handshake like a webhook: the wss URL, no parameters).
 */
import type {} from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { CallSummary } from '../../call/events.js';
import type { CallEndReason } from '../../call/io.js';
import type { DialogLlm } from '../../dialog/llm.js';
import { loadFlowsDir, type FlowRegistry } from '../../dialog/loader.js';
import { createLlmFromConfig } from '../../engines/llm/index.js';
import { PalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CallObserver } from '../../call/factory.js';
import { createTwilioCallFactory, type TwilioCallFactory } from '../../transports/twilio/call.js';
import { createTwilioCounters, registerTwilioMetrics } from '../../transports/twilio/metrics.js';
import { verifyTwilioSignature } from '../../transports/twilio/signature.js';
import { streamTwiml } from '../../transports/twilio/twiml.js';
import { CLOSE_POLICY, TwilioIO, type TwilioIOOptions } from '../../transports/twilio/twilio-io.js';
import { DEFAULT_FLOWS_DIR } from './session.js';

export interface TwilioRoutesOptions {
  /** The account's auth token; when set, `/twilio/voice` and the `/twilio/media` handshake require a valid X-Twilio-Signature (403 otherwise). */
  authToken?: string;
  /** The server's public base URL as Twilio calls it (`https://bot.example.com`); signatures cover it. Default: from the request's Host. */
  publicUrl?: string;
  /** Flow and language when neither the webhook query nor the stream parameters say. */
  defaultFlow?: string;
  defaultLanguage?: string;
  /** Concurrent streams; more are closed at once. Default 50. */
  maxCalls?: number;
  /** A stream that sends no `start` within this time is closed. Default 10 s. */
  startTimeoutMs?: number;
  flowsDir?: string;
  llm?: DialogLlm;
  /** Keep what each call produces (the store, the recorder). */
  observers?: CallObserver[];
  io?: Pick<TwilioIOOptions, 'maxQueuedMs' | 'chunkMs' | 'markGraceMs' | 'maxInboundMs' | 'maxMessageBytes'>;
  /** Replaces the real call; for transport tests. */
  createCall?: TwilioCallFactory;
  /** Told when a stream's call ends, with its summary (records, transcript). */
  onCallEnded?: (call: { streamSid: string; callSid: string; flow: string; language: string; summary?: CallSummary; endReason: CallEndReason }) => void;
  logger?: Logger;
}

const CLOSE_TRY_AGAIN = 1013;

export async function twilioRoutes(app: FastifyInstance, options: TwilioRoutesOptions): Promise<void> {
  const { engines, config, metrics } = app.palabre;
  const logger = (options.logger ?? (app.log as unknown as Logger)).child({ module: 'twilio' });
  const defaultFlow = options.defaultFlow ?? 'support-desk';
  const defaultLanguage = options.defaultLanguage ?? 'en';
  const maxCalls = options.maxCalls ?? 50;
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const llm = options.llm ?? createLlmFromConfig(config);
  let flows: Promise<FlowRegistry> | undefined;
  const registry = (): Promise<FlowRegistry> => {
    flows ??= loadFlowsDir(options.flowsDir ?? DEFAULT_FLOWS_DIR, { llmAvailable: llm !== undefined, realtimeAvailable: config.engines.realtime.apiKey !== undefined }).catch((err: unknown) => {
      flows = undefined;
      throw err;
    });
    return flows;
  };
  const createCall = options.createCall ?? createTwilioCallFactory({ config, engines, flows: registry, llm, observers: options.observers, metrics });
  const live = new Set<TwilioIO>();
  const counters = createTwilioCounters();
  registerTwilioMetrics(metrics, counters);
  app.addHook('onClose', async () => {
    await Promise.all([...live].map((io) => io.close('server_shutdown')));
  });

  // Twilio posts its webhooks as forms; parsed here only, for this plugin's routes.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, [...new URLSearchParams(String(body)).entries()]);
  });

  const publicBase = (request: FastifyRequest): string => (options.publicUrl ?? `${request.protocol}://${request.host}`).replace(/\/+$/, '');
  // Twilio only connects to wss; a plain-http base means a local test or a TLS proxy that forgot X-Forwarded-Proto.
  const streamBase = (request: FastifyRequest): string => {
    const base = publicBase(request).replace(/^http/, 'ws');
    return options.publicUrl ? base : base.replace(/^ws:/, 'wss:');
  };

  const refuseUnsigned = (request: FastifyRequest, route: string, url: string, form: Array<[string, string]>): string | undefined => {
    if (!options.authToken) return undefined;
    const signature = request.headers['x-twilio-signature'];
    if (verifyTwilioSignature(options.authToken, typeof signature === 'string' ? signature : undefined, url, form)) return undefined;
    metrics.badInput.inc({ route, code: 'bad_signature' });
    logger.warn({ url, signed: signature !== undefined }, `Twilio request to ${route} with a missing or wrong signature`);
    return signature ? 'X-Twilio-Signature does not match this request' : 'X-Twilio-Signature is missing';
  };

  app.post('/twilio/voice', { schema: { summary: 'Twilio voice webhook: TwiML connecting the call to the media stream', tags: ['twilio'], querystring: { type: 'object', properties: { flow: { type: 'string', maxLength: 100 }, language: { type: 'string', maxLength: 20 } } } } }, async (request, reply) => {
    const form = Array.isArray(request.body) ? (request.body as Array<[string, string]>) : [];
    const refused = refuseUnsigned(request, '/twilio/voice', publicBase(request) + request.url, form);
    if (refused) return reply.status(403).send({ error: 'forbidden', message: refused, statusCode: 403 });
    const query = request.query as { flow?: string; language?: string };
    const flowId = query.flow ?? defaultFlow;
    const language = query.language ?? defaultLanguage;
    const flow = (await registry()).get(flowId);
    const languages: readonly string[] = flow.definition.languages;
    if (!languages.includes(language)) throw new PalabreError('bad_request', `flow "${flowId}" speaks ${languages.join(', ')}, not "${language}"`);
    const streamUrl = streamBase(request) + '/twilio/media';
    // The caller's number rides along so the stored call knows who called (the stream's start message does not say).
    const caller = form.find(([k]) => k === 'From')?.[1];
    const from: Record<string, string> = caller ? { from: caller } : {};
    return reply.type('text/xml').send(streamTwiml(streamUrl, { flow: flowId, language, ...from }));
  });

  app.get(
    '/twilio/media',
    {
      websocket: true,
      // Before the upgrade: a stream that is not Twilio's gets a plain 403 and never a WebSocket.
      preValidation: async (request, reply) => {
        const refused = refuseUnsigned(request, '/twilio/media', streamBase(request) + request.url, []);
        if (!refused) return;
        counters.refusedSignature++;
        return reply.status(403).send({ error: 'forbidden', message: refused, statusCode: 403 });
      },
    },
    (socket: WebSocket) => {
      void runStream(socket);
    },
  );

  async function runStream(socket: WebSocket): Promise<void> {
    if (live.size >= maxCalls) {
      counters.refusedCapacity++;
      logger.warn({ maxCalls }, 'Twilio stream refused: too many calls');
      socket.close(CLOSE_TRY_AGAIN, `the server already carries ${maxCalls} calls`);
      return;
    }
    counters.connections++;
    const io = new TwilioIO({
      socket,
      resampler: engines.resampler,
      logger,
      resampleQuality: config.audio.resampleQuality,
      ...options.io,
      counters,
      onBadMessage: (kind) => {
        counters.bad[kind] = (counters.bad[kind] ?? 0) + 1;
        metrics.badInput.inc({ route: '/twilio/media', code: kind });
      },
    });
    live.add(io);
    counters.active++;
    let endReason: CallEndReason = 'error';
    let started = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const start = await Promise.race([io.whenStarted(), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), startTimeoutMs)))]);
      clearTimeout(timer);
      if (start === 'timeout') {
        counters.startTimeout++;
        logger.warn({ startTimeoutMs }, 'Twilio stream sent no "start"; closing');
        socket.close(CLOSE_POLICY, 'no start message');
        endReason = 'timeout';
        return;
      }
      if (!start) {
        counters.closedBeforeStart++;
        return;
      }
      started = true;
      counters.streamsStarted++;
      const flow = start.customParameters.flow ?? defaultFlow;
      const language = start.customParameters.language ?? defaultLanguage;
      const callLogger = logger.child({ stream: start.streamSid, callSid: start.callSid, flow, language });
      let summary: CallSummary | undefined;
      try {
        const callerId = start.customParameters.from ?? start.customParameters.caller;
        const call = await createCall({ io, flow, language, logger: callLogger, callSid: start.callSid, ...(callerId ? { callerId } : {}) });
        summary = await call.run();
        endReason = summary.endReason;
      } catch (err) {
        callLogger.error({ err }, 'Twilio call failed');
      }
      options.onCallEnded?.({ streamSid: start.streamSid, callSid: start.callSid, flow, language, summary, endReason });
    } finally {
      clearTimeout(timer);
      await io.close(endReason);
      live.delete(io);
      counters.active--;
      if (started) {
        counters.streamsEnded++;
        counters.ended[endReason] = (counters.ended[endReason] ?? 0) + 1;
      }
    }
  }
}
