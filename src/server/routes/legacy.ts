/**
 * Contracts of the Python services our users run today, served unchanged so
 * that their clients can switch to palabre without an edit.
 */
import type { FastifyInstance } from 'fastify';
import { decodeBase64 } from '../../speech/input.js';
import { readMultipart, requireFile } from '../multipart.js';
import { parseSttOptions } from './stt.js';

export async function legacyRoutes(app: FastifyInstance): Promise<void> {
  app.post(
    '/transcribe',
    {
      schema: {
        summary: 'Legacy: transcribe a multipart `audio` file',
        tags: ['legacy'],
        consumes: ['multipart/form-data'],
        response: { 200: { type: 'object', properties: { text: { type: 'string' }, processing_time: { type: 'number' }, filename: { type: 'string' } } } },
      },
    },
    async (request) => {
      const upload = await readMultipart(request, ['audio']);
      const file = requireFile(upload, 'audio');
      const options = parseSttOptions(app, { language: upload.fields.language });
      const result = await app.palabre.services.transcribe({ ...options, audio: file.bytes });
      return { text: result.text, processing_time: result.latency, filename: file.filename };
    },
  );

  app.post(
    '/whisper',
    {
      schema: {
        summary: 'Legacy: transcribe base64 audio from a JSON body',
        tags: ['legacy'],
        body: {
          type: 'object',
          required: ['audio'],
          properties: { audio: { type: 'string', description: 'base64 audio file (WAV, or mp3/ogg/webm/m4a with ffmpeg)' }, filename: { type: 'string' }, connection_id: { type: 'string' }, language: { type: 'string' } },
        },
        response: { 200: { type: 'object', properties: { transcription: { type: 'string' } } } },
      },
    },
    async (request) => {
      const b = request.body as { audio: string; filename?: string; connection_id?: string; language?: string };
      const audio = decodeBase64(b.audio, 'audio');
      const options = parseSttOptions(app, { language: b.language });
      request.log.info({ connectionId: b.connection_id, filename: b.filename }, 'whisper request');
      const result = await app.palabre.services.transcribe({ ...options, audio });
      return { transcription: result.text };
    },
  );
}
