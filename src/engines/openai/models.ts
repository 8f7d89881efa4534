/**
 * `GET {baseUrl}/models`: the cheapest request every OpenAI-compatible server
 * answers (OpenAI, Groq, Mistral, Ollama, vLLM, speaches, Kokoro-FastAPI), so
 * a health check can tell a reachable server with a valid key, and whether it
 * serves the configured model, without spending tokens or audio.
 */
import { z } from 'zod';
import { PalabreError } from '../../errors.js';
import type { OpenAiClient } from './client.js';

const listSchema = z.object({ data: z.array(z.object({ id: z.string() })) });

export async function listOpenAiModels(client: OpenAiClient, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string[]> {
  const url = client.url('models');
  const what = `OpenAI-compatible server ${url}`;
  const json = await client.json('models', { what, method: 'GET', ...options });
  const parsed = listSchema.safeParse(json);
  if (!parsed.success) throw new PalabreError('engine_failed', `${what} answered a model list of an unexpected shape: ${parsed.error.issues[0].message}`, { details: { url } });
  return parsed.data.data.map((m) => m.id);
}
