/** Helpers for the dialog tests: flows from inline YAML, a phrase-table classifier, a scripted LLM. */
import { parseFlow, type LoadedFlow } from './loader.js';
import type { LlmItem, LlmMessage, StreamOptions } from '../engines/llm/types.js';
import type { ChatMessage, DialogLlm } from './llm.js';
import type { ToolLlm } from './machine.js';
import type { DialogOutput, IntentClassifier } from './types.js';

export async function flowFrom(yaml: string, options: { llmAvailable?: boolean; baseDir?: string } = {}): Promise<LoadedFlow> {
  return parseFlow(yaml, { file: 'test.yaml', llmAvailable: options.llmAvailable ?? true, baseDir: options.baseDir });
}

/**
 * The runtime's own unit tests classify with an exact phrase table, so that each
 * test says precisely which intent a turn carries (the shipped flows are tested
 * with the real local classifier in test/flows.test.ts).
 */
export function phraseClassifier(table: Record<string, string | [string, number]>): IntentClassifier & { calls: Array<{ text: string; candidates: readonly string[] }> } {
  const calls: Array<{ text: string; candidates: readonly string[] }> = [];
  return {
    calls,
    async classify(text, { candidates }) {
      calls.push({ text, candidates });
      const entry = table[text.trim().toLowerCase()];
      if (entry === undefined) return { intent: null, confidence: 0, source: 'table' };
      const [intent, confidence] = typeof entry === 'string' ? [entry, 1] : entry;
      return candidates.includes(intent) ? { intent, confidence, source: 'table' } : { intent: null, confidence: 0, source: 'table' };
    },
  };
}

/** A chat model that answers from a list, recording what it was asked. */
export function scriptedLlm(replies: Array<string | Error>): DialogLlm & { requests: ChatMessage[][] } {
  const requests: ChatMessage[][] = [];
  let next = 0;
  return {
    requests,
    chat(messages) {
      requests.push(messages.map((m) => ({ ...m })));
      const reply = replies[next++] ?? '[neutre] (no more replies)';
      return (async function* () {
        if (reply instanceof Error) throw reply;
        // Deltas, as a streaming model sends them.
        for (const piece of reply.match(/.{1,7}/gs) ?? []) yield piece;
      })();
    },
  };
}

/** One answer of a scripted tool-calling model: text, tool calls, or both (text first, as models write). */
export type ScriptedAnswer = string | Error | { text?: string; calls?: Array<{ name: string; arguments: unknown }> };

/** A model with `stream()` that answers from a list with text and tool calls, recording each request with its options. */
export function scriptedToolLlm(answers: ScriptedAnswer[]): ToolLlm & { requests: Array<{ messages: LlmMessage[]; options: StreamOptions }> } {
  const requests: Array<{ messages: LlmMessage[]; options: StreamOptions }> = [];
  let next = 0;
  let callIds = 0;
  return {
    requests,
    chat() {
      throw new Error('a model with tools is asked through stream()');
    },
    stream(messages, options = {}) {
      requests.push({ messages: structuredClone(messages), options: { ...options, signal: undefined } });
      const answer = answers[next++] ?? '(no more answers)';
      return (async function* (): AsyncGenerator<LlmItem> {
        if (answer instanceof Error) throw answer;
        const { text = '', calls = [] } = typeof answer === 'string' ? { text: answer } : answer;
        for (const piece of text.match(/.{1,7}/gs) ?? []) yield { type: 'text', text: piece };
        for (const c of calls) yield { type: 'tool_call', id: `call_${++callIds}`, name: c.name, arguments: c.arguments };
        yield { type: 'usage', promptTokens: 10, completionTokens: 5, totalTokens: 15 };
      })();
    },
  };
}

export function counter(): () => string {
  let n = 0;
  return () => `fx-${++n}`;
}

/** Outputs as short strings, for readable assertions on order. */
export function brief(outputs: DialogOutput[]): string[] {
  return outputs.map((o) => {
    switch (o.type) {
      case 'say':
        return `say:${o.text}`;
      case 'listen':
        return 'listen';
      case 'state':
        return `state:${o.from ?? ''}>${o.to}`;
      case 'intent':
        return `intent:${o.intent ?? 'null'}`;
      case 'slot':
        return `slot:${o.name}=${JSON.stringify(o.value)}`;
      case 'effect':
        return `effect:${o.effect.type}`;
      case 'transfer':
        return `transfer:${o.target ?? ''}`;
      case 'hangup':
        return `hangup:${o.reason}`;
    }
  });
}

export function says(outputs: DialogOutput[]): string[] {
  return outputs.flatMap((o) => (o.type === 'say' ? [o.text] : []));
}
