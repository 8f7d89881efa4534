/**
 * Chat over an OpenAI-compatible server (OpenAI, Groq, Mistral, Ollama,
 * vLLM…): `POST {baseUrl}/chat/completions` with `stream: true`, the SSE
 * reply read as it arrives so the first words can be spoken early, tool calls
 * assembled from their streamed fragments, and structured JSON answers
 * validated with zod. Requests go through the shared client
 * (src/engines/openai/client.ts) and are shaped by the server's preset
 * (which fields it accepts). Every failure is a PalabreError naming the
 * server and the cause; the API key never appears in one.
 */
import { z } from 'zod';
import { PalabreError } from '../../errors.js';
import { createOpenAiClient, type OpenAiServerOptions } from '../openai/client.js';
import { openAiPreset, type ChatQuirks, type OpenAiPresetName } from '../openai/presets.js';
import { sseEvents } from '../openai/sse.js';
import { parseJsonAnswer, responseFormatFor } from './json-output.js';
import { ToolCallAssembler, type ToolCallDelta } from './tool-calls.js';
import type { ChatMessage, ChatOptions, JsonOptions, Llm, LlmItem, LlmMessage, StreamOptions } from './types.js';

export interface OpenAiLlmOptions extends OpenAiServerOptions {
  model: string;
  /** Which server this is, for the request fields it accepts; default 'generic' (no optional field). */
  preset?: OpenAiPresetName;
}

interface StreamChunk {
  choices?: Array<{ delta?: { content?: unknown; tool_calls?: unknown; refusal?: unknown }; finish_reason?: unknown }>;
  usage?: Usage | null;
  x_groq?: { usage?: Usage };
  error?: { message?: unknown } | string;
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

const completionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
});

/** Our messages in the wire shape: tool calls with their arguments as JSON text, tool results by call id. */
function wireMessages(messages: readonly LlmMessage[]): unknown[] {
  return messages.map((m) => {
    if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
    if ('toolCalls' in m) {
      return {
        role: 'assistant',
        content: m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) } })),
      };
    }
    return { role: m.role, content: m.content };
  });
}

function usageItem(usage: Usage): LlmItem {
  const promptTokens = usage.prompt_tokens ?? 0;
  const completionTokens = usage.completion_tokens ?? 0;
  return { type: 'usage', promptTokens, completionTokens, totalTokens: usage.total_tokens ?? promptTokens + completionTokens };
}

export function createOpenAiLlm(options: OpenAiLlmOptions): Llm {
  const client = createOpenAiClient(options);
  const quirks: ChatQuirks = openAiPreset(options.preset ?? 'generic').chat ?? openAiPreset('generic').chat!;
  const url = client.url('chat/completions');
  const what = `language model ${options.model} at ${url}`;

  function baseBody(messages: readonly LlmMessage[], chatOptions: ChatOptions): Record<string, unknown> {
    const body: Record<string, unknown> = { model: options.model, messages: wireMessages(messages) };
    if (chatOptions.maxTokens !== undefined) body[quirks.maxTokensField] = chatOptions.maxTokens;
    if (chatOptions.temperature !== undefined) body.temperature = chatOptions.temperature;
    return body;
  }

  async function* stream(messages: LlmMessage[], streamOptions: StreamOptions = {}): AsyncGenerator<LlmItem> {
    const body = { ...baseBody(messages, streamOptions), stream: true } as Record<string, unknown>;
    if (quirks.streamOptions) body.stream_options = { include_usage: true };
    if (streamOptions.tools && streamOptions.tools.length > 0) {
      body.tools = streamOptions.tools.map((t) => ({
        type: 'function',
        function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters, ...(t.strict ? { strict: true } : {}) },
      }));
      if (streamOptions.toolChoice !== undefined) {
        body.tool_choice = typeof streamOptions.toolChoice === 'string' ? streamOptions.toolChoice : { type: 'function', function: { name: streamOptions.toolChoice.name } };
      }
      if (streamOptions.parallelToolCalls !== undefined && quirks.parallelToolCalls) body.parallel_tool_calls = streamOptions.parallelToolCalls;
    }

    const reply = await client.open('chat/completions', { json: body, what, accept: 'text/event-stream', signal: streamOptions.signal });
    const calls = new ToolCallAssembler(what);
    let finished = false;
    let deltas = 0;
    let usage: Usage | undefined;
    const progress = () => `after ${deltas} piece(s) of text${calls.size > 0 ? ` and ${calls.size} tool call(s)` : ''}`;
    reply.progress = progress();
    try {
      for await (const data of sseEvents(reply.chunks())) {
        if (data === '[DONE]') {
          finished = true;
          break;
        }
        let chunk: StreamChunk;
        try {
          chunk = JSON.parse(data) as StreamChunk;
        } catch (err) {
          throw new PalabreError('engine_failed', `${what} sent a stream event that is not JSON: ${data.slice(0, 120)}`, { cause: err, details: { url } });
        }
        if (chunk.error !== undefined) {
          const message = typeof chunk.error === 'string' ? chunk.error : String(chunk.error.message ?? JSON.stringify(chunk.error));
          throw new PalabreError('engine_failed', `${what} reported an error mid-stream: ${message}`, { details: { url } });
        }
        if (!Array.isArray(chunk.choices)) throw new PalabreError('engine_failed', `${what} sent a stream event without choices: ${data.slice(0, 120)}`, { details: { url } });
        const usageHere = chunk.usage ?? chunk.x_groq?.usage;
        if (usageHere) usage = usageHere;
        const choice = chunk.choices[0];
        const content = choice?.delta?.content;
        if (typeof content === 'string' && content !== '') {
          deltas++;
          reply.progress = progress();
          yield { type: 'text', text: content };
        }
        if (Array.isArray(choice?.delta?.tool_calls)) {
          calls.add(choice.delta.tool_calls as ToolCallDelta[]);
          reply.progress = progress();
        }
        // Some servers close right after the last choice without `[DONE]`.
        if (choice?.finish_reason) finished = true;
      }
      if (!finished) throw new PalabreError('engine_failed', `${what} ended its reply stream without finishing it (no [DONE]) ${progress()}`, { details: { url, retryable: true } });
      for (const call of calls.finish()) yield { type: 'tool_call', ...call };
      if (usage) yield usageItem(usage);
    } finally {
      // Leaving early (the consumer stopped reading, a barge-in) closes the connection.
      reply.close();
    }
  }

  async function* chat(messages: ChatMessage[], chatOptions: ChatOptions = {}): AsyncGenerator<string> {
    for await (const item of stream(messages, chatOptions)) if (item.type === 'text') yield item.text;
  }

  async function json<T>(messages: LlmMessage[], jsonOptions: JsonOptions<T>): Promise<T> {
    const plan = responseFormatFor(jsonOptions, quirks, options.model);
    const all: LlmMessage[] = plan.instruction ? [{ role: 'system', content: plan.instruction }, ...messages] : messages;
    // Not streamed: nothing of a JSON answer is usable before its end, and some servers refuse structured output when streaming.
    const body = { ...baseBody(all, jsonOptions), response_format: plan.responseFormat };
    const answer = await client.json('chat/completions', { json: body, what, signal: jsonOptions.signal });
    const completion = completionSchema.safeParse(answer);
    if (!completion.success) {
      const issue = completion.error.issues[0];
      throw new PalabreError('engine_failed', `${what} answered an unexpected shape: ${issue.path.join('.') || 'body'}: ${issue.message}`, { details: { url } });
    }
    const choice = completion.data.choices[0];
    return parseJsonAnswer(what, jsonOptions, { content: choice.message.content, refusal: choice.message.refusal, finishReason: choice.finish_reason });
  }

  return { name: 'openai', model: options.model, chat, stream, json };
}
