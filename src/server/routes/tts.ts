import type { FastifyInstance } from 'fastify';
import { SPEAKING_STYLES } from '../../engines/tts/types.js';
import { OUTPUT_FORMATS } from '../../speech/synthesize.js';

export async function ttsRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/api/tts/synthesize',
    {
      schema: {
        summary: 'Synthesise text to audio',
        description: 'Returns the audio bytes, with `X-Duration` (seconds of audio) and `X-Latency` (seconds spent) headers.',
        tags: ['tts'],
        body: {
          type: 'object',
          required: ['text'],
          additionalProperties: false,
          properties: {
            text: { type: 'string', minLength: 1, maxLength: 5000 },
            voice: { type: 'string' },
            language: { type: 'string', pattern: '^[a-zA-Z]{2,3}([-_][A-Za-z0-9]{2,8})*$' },
            style: { type: 'string', enum: [...SPEAKING_STYLES] },
            format: { type: 'string', enum: [...OUTPUT_FORMATS], default: 'wav' },
            sample_rate: { type: 'integer', enum: [8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000] },
            engine: { type: 'string' },
          },
        },
      },
    },
    async (request, reply) => {
      const b = request.body as { text: string; voice?: string; language?: string; style?: (typeof SPEAKING_STYLES)[number]; format: (typeof OUTPUT_FORMATS)[number]; sample_rate?: number; engine?: string };
      const ac = new AbortController();
      // The response socket closing before we answered means the client left: stop synthesising.
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) ac.abort(new Error('client went away'));
      });
      const out = await app.palabre.services.synthesize({
        text: b.text,
        voice: b.voice,
        language: b.language?.toLowerCase().replace('_', '-'),
        style: b.style,
        format: b.format,
        sampleRate: b.sample_rate,
        engine: b.engine,
        signal: ac.signal,
      });
      return reply
        .header('content-type', out.contentType)
        .header('x-duration', out.durationSec.toFixed(3))
        .header('x-latency', out.latencySec.toFixed(4))
        .header('x-sample-rate', String(out.sampleRate))
        .header('x-engine', out.engine)
        .header('x-voice', out.voice)
        .header('x-cache', out.cached ? 'hit' : 'miss')
        .send(Buffer.from(out.bytes.buffer, out.bytes.byteOffset, out.bytes.byteLength));
    },
  );

  app.get('/api/tts/info', { schema: { summary: 'Voices, styles and formats', tags: ['tts'] } }, async () => {
    const { engines, config, services } = app.palabre;
    return {
      default: engines.defaultTts,
      default_language: config.engines.tts.language,
      engines: engines.statuses
        .filter((s) => s.kind === 'tts')
        .map((s) => {
          const e = engines.tts.get(s.name);
          return { name: s.name, loaded: s.loaded, reason: s.reason, sample_rate: e?.sampleRate, languages: e?.languages ?? [], voices: e?.voices() ?? [] };
        }),
      styles: [...SPEAKING_STYLES],
      formats: [...OUTPUT_FORMATS],
      sample_rates: [8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000],
      cache: services.cacheStats(),
    };
  });
}
