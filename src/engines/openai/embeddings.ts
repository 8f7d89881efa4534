/**
 * Text embeddings over `POST {baseUrl}/embeddings`: texts in, one unit-length
 * vector per text back, in input order. Float arrays and base64 float32
 * answers are both read; anything else is an error naming the server.
 */
import { z } from 'zod';
import { PalabreError } from '../../errors.js';
import type { OpenAiClient } from './client.js';
import type { EmbeddingsQuirks } from './presets.js';

export interface EmbedderOptions {
  client: OpenAiClient;
  model: string;
  quirks?: EmbeddingsQuirks;
  /** Asked of servers that accept `dimensions`. */
  dimensions?: number;
}

export interface Embedder {
  readonly model: string;
  embed(texts: string[], options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<Float64Array[]>;
}

const responseSchema = z.object({
  data: z.array(z.object({ embedding: z.union([z.array(z.number()), z.string()]), index: z.number().int().nonnegative() })),
});

/** OpenAI's `encoding_format: base64`: little-endian float32s. */
function fromBase64(text: string): number[] {
  const bytes = Buffer.from(text, 'base64');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Array<number>(Math.floor(bytes.byteLength / 4));
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function normalise(v: number[]): Float64Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return Float64Array.from(v, (x) => x / norm);
}

export function createEmbedder(options: EmbedderOptions): Embedder {
  const { client, model } = options;
  const url = client.url('embeddings');
  const what = `embeddings server ${url}`;
  return {
    model,
    async embed(texts, { signal, timeoutMs } = {}) {
      const body: Record<string, unknown> = { input: texts, model };
      if (options.dimensions !== undefined && options.quirks?.dimensions) body.dimensions = options.dimensions;
      const json = await client.json('embeddings', { json: body, what, signal, timeoutMs });
      const parsed = responseSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new PalabreError('engine_failed', `${what} answered an unexpected shape: ${issue.path.join('.') || 'body'}: ${issue.message}`, { details: { url } });
      }
      const out = new Array<Float64Array | undefined>(texts.length);
      for (const item of parsed.data.data) {
        if (item.index < texts.length) out[item.index] = normalise(typeof item.embedding === 'string' ? fromBase64(item.embedding) : item.embedding);
      }
      const missing = out.findIndex((v) => v === undefined);
      if (missing >= 0) throw new PalabreError('engine_failed', `${what} answered ${parsed.data.data.length} embeddings for ${texts.length} inputs (none for input ${missing})`, { details: { url } });
      const dims = out[0]?.length ?? 0;
      if (dims === 0 || out.some((v) => v?.length !== dims)) throw new PalabreError('engine_failed', `${what} answered embeddings of differing or zero length`, { details: { url } });
      return out as Float64Array[];
    },
  };
}
