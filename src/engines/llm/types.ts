/**
 * A chat language model: messages in, the reply out as text deltas while it
 * is being written. The dialog runtime only needs `DialogLlm`; the name and
 * model are for logs and reports.
 */
import type { ChatMessage, ChatOptions, DialogLlm } from '../../dialog/llm.js';

export type { ChatMessage, ChatOptions } from '../../dialog/llm.js';

export interface Llm extends DialogLlm {
  readonly name: string;
  readonly model: string;
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncIterable<string>;
}
