import type { FastifyInstance } from 'fastify';

export async function cleanAudioRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/clean-audio',
    {
      schema: {
        summary: 'Remove background noise from a chunk of audio',
        description:
          'Fail-safe: when the noise suppressor fails, the original audio comes back with `fallback: true` and the error is logged and counted. PCM16 is little-endian.',
        tags: ['denoise'],
        body: {
          type: 'object',
          required: ['audio_payload', 'sample_rate'],
          properties: {
            audio_payload: { type: 'string', description: 'base64 audio, no header' },
            sample_rate: { type: 'integer', enum: [8000, 12000, 16000, 24000, 32000, 44100, 48000] },
            encoding: { type: 'string', enum: ['pcm16', 'mulaw', 'alaw'], default: 'pcm16' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              audio_payload: { type: 'string' },
              sample_rate: { type: 'integer' },
              encoding: { type: 'string' },
              processing_time_ms: { type: 'number' },
              duration_ms: { type: 'number' },
              denoised: { type: 'boolean' },
              fallback: { type: 'boolean' },
              error: { type: 'string' },
            },
          },
        },
      },
    },
    async (request) => {
      const b = request.body as { audio_payload: string; sample_rate: number; encoding: 'pcm16' | 'mulaw' | 'alaw' };
      return app.palabre.services.clean({ payloadBase64: b.audio_payload, sampleRate: b.sample_rate, encoding: b.encoding });
    },
  );

  app.get('/clean-audio/stats', { schema: { summary: 'Noise-suppression counters since start', tags: ['denoise'] } }, async () => {
    const s = app.palabre.services.cleanStats();
    return {
      engine: app.palabre.engines.denoiser?.name ?? null,
      processed: s.processed,
      errors: s.errors,
      fallbacks: s.fallbacks,
      mean_processing_ms: s.processed > 0 ? Number((s.totalProcessingMs / s.processed).toFixed(3)) : 0,
    };
  });
}
