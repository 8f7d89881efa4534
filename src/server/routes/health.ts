import type { FastifyInstance } from 'fastify';
import { VERSION } from '../../version.js';

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/health',
    {
      schema: {
        summary: 'Liveness, version and which engines loaded (and why one did not)',
        tags: ['operations'],
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              version: { type: 'string' },
              uptime: { type: 'number' },
              engines: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { kind: { type: 'string' }, name: { type: 'string' }, loaded: { type: 'boolean' }, reason: { type: 'string' }, info: { type: 'object', additionalProperties: true } },
                },
              },
            },
          },
        },
      },
    },
    async () => {
      const { engines, config } = app.palabre;
      // Degraded when a configured default engine is missing: the API still answers, but not fully.
      const wanted = [
        ['stt', config.engines.stt.engine],
        ['tts', config.engines.tts.engine],
        ['vad', config.engines.vad.engine],
      ];
      const degraded = wanted.some(([kind, name]) => engines.statuses.some((s) => s.kind === kind && s.name === name && !s.loaded));
      return { status: degraded ? 'degraded' : 'ok', version: VERSION, uptime: Math.round(process.uptime()), engines: engines.statuses };
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_req, reply) => {
    const { registry } = app.palabre.metrics;
    void reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
