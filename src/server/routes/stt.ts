import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PalabreError } from '../../errors.js';
import { parsePreprocessList } from '../../speech/preprocess.js';
import type { TranscribeRequest } from '../../speech/transcribe.js';
import { parseHints, readMultipart, requireFile } from '../multipart.js';

const wordSchema = { type: 'object', properties: { word: { type: 'string' }, start: { type: 'number' }, end: { type: 'number' }, confidence: { type: 'number' } } };
export const transcriptionSchema = {
  type: 'object',
  properties: {
    text: { type: 'string' },
    language: { type: 'string' },
    duration: { type: 'number', description: 'seconds of audio' },
    latency: { type: 'number', description: 'seconds from upload received to text' },
    word_count: { type: 'integer' },
    confidence: { type: 'number' },
    engine: { type: 'string' },
    degenerate: { type: 'boolean' },
    preprocess: { type: 'array', items: { type: 'string' } },
    segments: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: { type: 'integer' }, start: { type: 'number' }, end: { type: 'number' }, text: { type: 'string' }, confidence: { type: 'number' }, words: { type: 'array', items: wordSchema } },
      },
    },
    words: { type: 'array', items: wordSchema },
  },
} as const;

/** Options shared by the multipart form and the query string of the streaming route. */
const optionsSchema = z.object({
  language: z.string().regex(/^[a-zA-Z]{2,3}([-_][A-Za-z0-9]{2,8})*$/, 'must be a language code such as en or fr').optional(),
  task: z.enum(['transcribe', 'translate']).optional(),
  temperature: z.coerce.number().min(0).max(1).optional(),
  engine: z.string().optional(),
  hints: z.string().optional(),
  grammar: z.string().max(100_000).optional(),
  preprocess: z.string().optional(),
});

export function parseSttOptions(app: FastifyInstance, raw: Record<string, unknown>): Omit<TranscribeRequest, 'audio'> {
  const parsed = optionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PalabreError('bad_request', `invalid ${issue.path.join('.') || 'field'}: ${issue.message}`);
  }
  const o = parsed.data;
  return {
    language: o.language?.toLowerCase().replace('_', '-'),
    task: o.task,
    temperature: o.temperature,
    engine: o.engine,
    hints: parseHints(o.hints),
    grammar: o.grammar,
    preprocess: parsePreprocessList(o.preprocess, app.palabre.config.preprocess),
  };
}

const queryProps = {
  language: { type: 'string' },
  task: { type: 'string', enum: ['transcribe', 'translate'] },
  temperature: { type: 'number' },
  engine: { type: 'string' },
  hints: { type: 'string', description: 'comma-separated phrases or a JSON array' },
  preprocess: { type: 'string', description: 'comma-separated: denoise, normalize, trim, lowpass[:HZ], none' },
} as const;

export async function sttRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/api/stt/transcribe',
    {
      schema: {
        summary: 'Transcribe an uploaded audio file',
        description:
          'multipart/form-data with a `file` field (WAV of any common encoding; mp3, ogg/opus, webm, m4a when ffmpeg is installed) and optional fields language, task, temperature, hints, grammar, engine, preprocess. The format is sniffed from the bytes, not the declared type.',
        tags: ['stt'],
        consumes: ['multipart/form-data'],
        response: { 200: transcriptionSchema },
      },
    },
    async (request) => {
      const upload = await readMultipart(request, ['file']);
      const file = requireFile(upload, 'file');
      const options = parseSttOptions(app, upload.fields);
      return app.palabre.services.transcribe({ ...options, audio: file.bytes });
    },
  );

  app.post(
    '/api/stt/transcribe-stream',
    {
      schema: {
        summary: 'Transcribe a raw body: a WAV file or headerless PCM',
        description: 'Body is a WAV file (any content type), or raw 16-bit PCM with `Content-Type: audio/L16;rate=N` (big-endian, RFC 3551) or `audio/pcm;rate=N` (little-endian). Options go in the query string.',
        tags: ['stt'],
        querystring: { type: 'object', properties: queryProps },
        response: { 200: transcriptionSchema },
      },
    },
    async (request) => {
      const body = request.body;
      if (!Buffer.isBuffer(body)) {
        throw new PalabreError('unsupported_media', `send the audio as the raw request body (WAV, or audio/L16;rate=N), not ${request.headers['content-type'] ?? 'without a content type'}`);
      }
      const options = parseSttOptions(app, request.query as Record<string, unknown>);
      return app.palabre.services.transcribe({ ...options, audio: body, contentType: request.headers['content-type'] });
    },
  );

  app.get('/api/stt/info', { schema: { summary: 'Speech-to-text engines, languages and limits', tags: ['stt'] } }, async () => {
    const { engines, config } = app.palabre;
    return {
      default: engines.defaultStt,
      engines: engines.statuses
        .filter((s) => s.kind === 'stt')
        .map((s) => {
          const e = engines.stt.get(s.name);
          return { name: s.name, loaded: s.loaded, reason: s.reason, languages: e?.languages ?? [], streaming: e?.streaming ?? false, sample_rate: e?.sampleRate };
        }),
      formats: ['wav', 'mp3', 'ogg', 'webm', 'm4a', 'flac', 'audio/L16;rate=N', 'audio/pcm;rate=N'],
      max_upload_bytes: config.server.maxUploadBytes,
      min_audio_ms: config.engines.stt.minAudioMs,
      preprocess: ['denoise', 'normalize', 'trim', 'lowpass'],
    };
  });
}
