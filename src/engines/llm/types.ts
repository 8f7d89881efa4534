/**
 * A chat language model: messages in, the reply out as text deltas while it
 * is being written. The dialog runtime only needs `DialogLlm` (`chat`); flows
 * that expose tools read `stream` (text, tool calls, usage), and analyses that
 * need a structured answer call `json`. The name and model are for logs and
 * reports.
 */
import type { z } from 'zod';
import type { ChatMessage, ChatOptions, DialogLlm } from '../../dialog/llm.js';

export type { ChatMessage, ChatOptions } from '../../dialog/llm.js';

/** A call the model asks for; `arguments` is the parsed JSON it wrote (not yet checked against the tool's schema). */
export interface LlmToolCall {
  id: string;
  name: string;
  arguments: unknown;
}

/** The conversation, including the model's earlier tool calls and their results. */
export type LlmMessage = ChatMessage | { role: 'assistant'; content: string | null; toolCalls: LlmToolCall[] } | { role: 'tool'; toolCallId: string; content: string };

/** An action the model may call, described by a JSON schema of its arguments. */
export interface LlmTool {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  /** Ask for constrained decoding of the arguments (servers that support it; the schema must then be strict-compatible). */
  strict?: boolean;
}

export type LlmItem =
  | { type: 'text'; text: string }
  | ({ type: 'tool_call' } & LlmToolCall)
  | { type: 'usage'; promptTokens: number; completionTokens: number; totalTokens: number };

export interface StreamOptions extends ChatOptions {
  tools?: readonly LlmTool[];
  toolChoice?: 'auto' | 'none' | 'required' | { name: string };
  /** Allow several tool calls in one answer; sent only to servers that accept the field. */
  parallelToolCalls?: boolean;
}

export interface JsonOptions<T> extends ChatOptions {
  /** Name of the answer's schema (letters, digits, _ and -, at most 64). */
  name: string;
  description?: string;
  /** What the answer must satisfy; it is validated with this whatever the server promised. */
  schema: z.ZodType<T>;
  /** The JSON schema sent to the server; default: derived from `schema`. */
  jsonSchema?: Record<string, unknown>;
}

export interface Llm extends DialogLlm {
  readonly name: string;
  readonly model: string;
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncIterable<string>;
  /** Text deltas as they arrive, then each tool call once its arguments are complete, then the token usage when the server gives it. */
  stream(messages: LlmMessage[], options?: StreamOptions): AsyncIterable<LlmItem>;
  /** One answer as JSON, validated against `schema`. */
  json<T>(messages: LlmMessage[], options: JsonOptions<T>): Promise<T>;
}
