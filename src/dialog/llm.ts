/**
 * Replies written by a language model in `llm` states. The runtime is handed a
 * chat model by the session (the same shape as the LLM engines: messages in,
 * text deltas out, cancellable); here the conversation is put into messages and
 * the reply is read back with the speaking style the model chose.
 */
import { SPEAKING_STYLES, type SpeakingStyle } from '../engines/tts/types.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatOptions {
  signal?: AbortSignal;
  maxTokens?: number;
  temperature?: number;
}

/** A chat model: yields the reply as text deltas. */
export interface DialogLlm {
  chat(messages: ChatMessage[], options?: ChatOptions): AsyncIterable<string>;
}

const LANGUAGE_NAMES: Record<string, string> = { fr: 'French', en: 'English' };

/** Appended to the system prompt: spoken output, and a style tag the runtime reads when the flow lets the model choose. */
export function replyInstructions(language: string, chooseStyle: boolean): string {
  const lines = [
    `Reply in ${LANGUAGE_NAMES[language] ?? language}, in a few short sentences meant to be spoken on the phone: no lists, no markdown, no emoji.`,
  ];
  if (chooseStyle) {
    lines.push(
      `Start every reply with the speaking style it should be said in, in square brackets, chosen among ${SPEAKING_STYLES.join(', ')}; for example "[encouragement] …".`,
    );
  }
  return lines.join('\n');
}

export interface StyledReply {
  text: string;
  style?: SpeakingStyle;
}

const STYLE_TAG = /^\s*\[\s*([A-Za-z_ ]+?)\s*\]\s*/;

/** Splits the leading `[style]` tag off a reply; an unknown or missing tag leaves the style unset. */
export function parseStyledReply(reply: string): StyledReply {
  // Markdown emphasis would be read aloud as symbols by some voices.
  const spoken = (s: string) => s.replace(/[*#`]+/g, '').replace(/\s+/g, ' ').trim();
  const m = STYLE_TAG.exec(reply);
  if (!m) return { text: spoken(reply) };
  const tag = m[1].toLowerCase().replace(/\s+/g, '_');
  const text = spoken(reply.slice(m[0].length));
  return (SPEAKING_STYLES as readonly string[]).includes(tag) ? { text, style: tag as SpeakingStyle } : { text };
}
