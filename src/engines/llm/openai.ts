/**
 * Chat over an OpenAI-compatible server (OpenAI, Ollama, vLLM, Groq, Mistral…):
 * `POST {baseUrl}/chat/completions` with `stream: true`, the SSE reply read as
 * it arrives so the first words can be spoken early. Three clocks guard a
 * turn: the whole reply (`timeoutMs`), the wait for the answer's headers and
 * any gap between chunks (`connectTimeoutMs`), and the caller's signal.
 * Every failure is a PalabreError naming the server and the cause; the API
 * key never appears in one.
 */
import { endpoint, type ServerOptions } from '../../dialog/intents/http.js';
import { PalabreError } from '../../errors.js';
import type { ChatMessage, ChatOptions, Llm } from './types.js';

export interface OpenAiLlmOptions extends ServerOptions {
  /** Longest wait for the answer to start, and for each next chunk; default min(10 s, timeoutMs). */
  connectTimeoutMs?: number;
}

type Failure = 'aborted' | 'timeout' | 'idle' | null;

/** One SSE event's data lines joined; `[DONE]` included. Comments and other fields are skipped. */
async function* sseEvents(body: ReadableStream<Uint8Array>, onData: () => void): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onData();
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(5).replace(/^ /, ''));
        }
      }
    }
    buffer += decoder.decode();
    if (buffer.startsWith('data:')) data.push(buffer.slice(5).replace(/^ /, ''));
    if (data.length > 0) yield data.join('\n');
  } finally {
    // A consumer that stops early (barge-in) must not leave the connection streaming.
    await reader.cancel().catch(() => undefined);
  }
}

/** The server's own words from an error body: `{error:{message}}`, `{error:"…"}`, `{message}` or the text. */
function serverMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON: the text itself.
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 300);
}

export function createOpenAiLlm(options: OpenAiLlmOptions): Llm {
  const url = endpoint(options.baseUrl, 'chat/completions');
  const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(10_000, options.timeoutMs);
  const what = `language model ${options.model} at ${url}`;

  async function* chat(messages: ChatMessage[], chatOptions: ChatOptions = {}): AsyncGenerator<string> {
    const outer = chatOptions.signal;
    if (outer?.aborted) throw new PalabreError('aborted', `${what}: request cancelled`, { cause: outer.reason });
    const controller = new AbortController();
    let failure: Failure = null;
    const stop = (why: Exclude<Failure, null>) => {
      failure ??= why;
      controller.abort();
    };
    const onAbort = () => stop('aborted');
    outer?.addEventListener('abort', onAbort, { once: true });
    const overall = setTimeout(() => stop('timeout'), options.timeoutMs);
    let idle = setTimeout(() => stop('idle'), connectTimeoutMs);
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => stop('idle'), connectTimeoutMs);
    };
    const failed = (err: unknown, stage: string): PalabreError => {
      if (err instanceof PalabreError) return err;
      switch (failure) {
        case 'aborted':
          return new PalabreError('aborted', `${what}: request cancelled`, { cause: outer?.reason });
        case 'timeout':
          return new PalabreError('engine_unavailable', `${what} did not finish its reply within ${options.timeoutMs} ms`, { cause: err, details: { url, timeoutMs: options.timeoutMs } });
        case 'idle':
          return new PalabreError('engine_unavailable', `${what} sent nothing for ${connectTimeoutMs} ms ${stage}`, { cause: err, details: { url, connectTimeoutMs } });
        default: {
          const reason = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
          if (stage === 'before answering') return new PalabreError('engine_unavailable', `${what} could not be reached: ${reason}`, { cause: err, details: { url } });
          return new PalabreError('engine_failed', `${what} broke off its reply ${stage}: ${reason}`, { cause: err, details: { url } });
        }
      }
    };

    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    const body: Record<string, unknown> = { model: options.model, messages, stream: true };
    if (chatOptions.maxTokens !== undefined) body.max_tokens = chatOptions.maxTokens;
    if (chatOptions.temperature !== undefined) body.temperature = chatOptions.temperature;

    let stage = 'before answering';
    try {
      let response: Response;
      try {
        response = await (options.fetch ?? fetch)(url, { method: 'POST', headers, body: JSON.stringify(body), signal: controller.signal });
      } catch (err) {
        throw failed(err, stage);
      }
      touch();
      if (!response.ok) {
        let text = '';
        try {
          text = await response.text();
        } catch (err) {
          throw failed(err, 'while sending an error');
        }
        const message = serverMessage(text);
        const code = response.status === 429 || response.status === 503 ? 'engine_unavailable' : 'engine_failed';
        throw new PalabreError(code, `${what} answered HTTP ${response.status}${message ? `: ${message}` : ''}`, { details: { url, status: response.status } });
      }
      if (!response.body) throw new PalabreError('engine_failed', `${what} answered without a body`, { details: { url } });
      stage = 'mid-stream';
      let finished = false;
      let deltas = 0;
      try {
        for await (const data of sseEvents(response.body, touch)) {
          if (data === '[DONE]') {
            finished = true;
            break;
          }
          let chunk: { choices?: Array<{ delta?: { content?: unknown }; finish_reason?: unknown }>; error?: { message?: unknown } | string };
          try {
            chunk = JSON.parse(data) as typeof chunk;
          } catch (err) {
            throw new PalabreError('engine_failed', `${what} sent a stream event that is not JSON: ${data.slice(0, 120)}`, { cause: err, details: { url } });
          }
          if (chunk.error !== undefined) {
            const message = typeof chunk.error === 'string' ? chunk.error : String(chunk.error.message ?? JSON.stringify(chunk.error));
            throw new PalabreError('engine_failed', `${what} reported an error mid-stream: ${message}`, { details: { url } });
          }
          if (!Array.isArray(chunk.choices)) throw new PalabreError('engine_failed', `${what} sent a stream event without choices: ${data.slice(0, 120)}`, { details: { url } });
          const choice = chunk.choices[0];
          const content = choice?.delta?.content;
          if (typeof content === 'string' && content !== '') {
            deltas++;
            yield content;
          }
          // Some servers close right after the last choice without `[DONE]`.
          if (choice?.finish_reason) finished = true;
        }
      } catch (err) {
        throw failed(err, `after ${deltas} piece(s) of text`);
      }
      if (!finished) throw new PalabreError('engine_failed', `${what} ended its reply stream without finishing it (no [DONE]) after ${deltas} piece(s) of text`, { details: { url } });
    } finally {
      clearTimeout(overall);
      clearTimeout(idle);
      outer?.removeEventListener('abort', onAbort);
      // Leaving early (the consumer stopped reading) closes the connection.
      controller.abort();
    }
  }

  return { name: 'openai', model: options.model, chat };
}
