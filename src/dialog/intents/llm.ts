/**
 * Intent classification by an LLM behind an OpenAI-compatible
 * `POST {baseUrl}/chat/completions` (non-streaming, through the shared client
 * of src/engines/openai), with structured output:
 * the answer must be JSON `{intent, confidence, slots}` where `intent` is one
 * of the candidate intents or "none". Strict JSON schemas cannot hold a free
 * object, so slots travel as `[{name, value}]` pairs (an object is accepted
 * too, from servers that ignore the schema). The answer is checked with zod;
 * anything else is an error naming the server.
 *
 * Given an LLM engine (`llm`, with `json()`), it asks through it instead, for
 * an analysis that also reads the caller's sentiment; the engine validates the
 * answer against the same schema whatever the server promised.
 */
import { z } from 'zod';
import { createOpenAiClient, type OpenAiServerOptions } from '../../engines/openai/client.js';
import { PalabreError } from '../../errors.js';
import type { Llm } from '../../engines/llm/types.js';
import { SENTIMENTS, type IntentClassifier, type IntentDefinition, type IntentResult, type Sentiment } from '../types.js';
import { primaryLanguage } from './normalize.js';

interface LlmClassifierSettings {
  intents: IntentDefinition[];
  /** Below this confidence the result is `intent: null`. Default 0.5. */
  threshold?: number;
  /** Examples per intent shown in the prompt. Default 3. */
  examplesPerIntent?: number;
  /** Default 0. */
  temperature?: number;
  /** Default 300. */
  maxTokens?: number;
  /** `source` of the results. Default 'llm'. */
  source?: string;
}

/** An OpenAI-compatible server to ask directly, or an LLM engine whose `json()` is used (intent, confidence, slots and sentiment). */
export type LlmClassifierOptions = LlmClassifierSettings & ((OpenAiServerOptions & { model: string; llm?: undefined }) | { llm: Pick<Llm, 'json'> });

const LANGUAGE_NAMES: Record<string, string> = { fr: 'French', en: 'English', es: 'Spanish', de: 'German', it: 'Italian', pt: 'Portuguese', nl: 'Dutch' };

const completionSchema = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable().optional(), refusal: z.string().nullable().optional() }), finish_reason: z.string().nullable().optional() }))
    .min(1),
});

const slotValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const answerSchema = z.object({
  intent: z.string(),
  confidence: z.number(),
  slots: z.union([z.array(z.object({ name: z.string(), value: slotValue })), z.record(z.string(), slotValue)]).optional(),
});

/** The JSON schema sent as `response_format`, restricting `intent` to the candidates and "none". */
export function intentSchema(candidates: readonly string[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      intent: { type: 'string', enum: [...candidates, 'none'], description: 'The intent that fits what the caller said, or "none".' },
      confidence: { type: 'number', description: 'How sure you are, from 0 to 1.' },
      slots: {
        type: 'array',
        description: 'Values the caller gave (names, numbers, dates…), as name/value pairs; empty when none.',
        items: { type: 'object', properties: { name: { type: 'string' }, value: { type: 'string' } }, required: ['name', 'value'], additionalProperties: false },
      },
    },
    required: ['intent', 'confidence', 'slots'],
    additionalProperties: false,
  };
}

/** The analysis asked of an LLM engine: the intent schema with the caller's sentiment. */
export function intentAnalysisSchema(candidates: readonly string[]): Record<string, unknown> {
  const base = intentSchema(candidates) as { properties: Record<string, unknown>; required: string[] };
  return {
    ...base,
    properties: { ...base.properties, sentiment: { type: 'string', enum: [...SENTIMENTS], description: 'The caller\'s mood in what they said.' } },
    required: [...base.required, 'sentiment'],
  };
}

const analysisSchema = z.object({
  intent: z.string(),
  confidence: z.number(),
  slots: z.union([z.array(z.object({ name: z.string(), value: slotValue })), z.record(z.string(), slotValue)]).optional(),
  sentiment: z.enum(SENTIMENTS).optional(),
});

export function createLlmClassifier(options: LlmClassifierOptions): IntentClassifier {
  if (options.llm) return createEngineClassifier(options, options.llm);
  return createServerClassifier(options);
}

/** What both ways share: the prompt, and turning an answer into a result. */
function instructions(options: LlmClassifierSettings, defs: IntentDefinition[], language: string, sentiment: boolean): string {
  const perIntent = options.examplesPerIntent ?? 3;
  const lines = defs.map((d) => {
    const own = Object.entries(d.examples).filter(([l]) => primaryLanguage(l) === language);
    const examples = (own.length > 0 ? own : Object.entries(d.examples)).flatMap(([, v]) => v).slice(0, perIntent);
    const desc = d.description ? `: ${d.description}` : '';
    return `- ${d.name}${desc}${examples.length > 0 ? `. Examples: ${examples.map((e) => JSON.stringify(e)).join(', ')}` : ''}`;
  });
  const lang = LANGUAGE_NAMES[language] ?? language;
  return [
    'You classify what a caller just said on the phone into one of the intents below.',
    `The caller speaks ${lang}; the text comes from speech recognition and may contain recognition errors.`,
    'Answer with JSON: "intent" (one of the intent names, or "none" when none fits), "confidence" (0 to 1),',
    `and "slots" (values the caller gave, as name/value pairs; an empty list when there are none)${sentiment ? ',\nand "sentiment" (positive, neutral or negative: the caller\'s mood)' : ''}.`,
    'Intents:',
    ...lines,
  ].join('\n');
}

function toResult(
  answer: { intent: string; confidence: number; slots?: Array<{ name: string; value: unknown }> | Record<string, unknown>; sentiment?: Sentiment },
  allowed: Set<string>,
  threshold: number,
  source: string,
  who: string,
): IntentResult {
  const { intent, confidence: c, slots } = answer;
  if (intent !== 'none' && !allowed.has(intent)) {
    throw new PalabreError('engine_failed', `${who} answered intent "${intent}", which is not among the candidates (${[...allowed].join(', ')})`);
  }
  const confidence = Math.round(Math.min(1, Math.max(0, c)) * 1000) / 1000;
  const slotRecord = Array.isArray(slots) ? Object.fromEntries(slots.map((s) => [s.name, s.value])) : (slots ?? {});
  const result: IntentResult = { intent: intent !== 'none' && confidence >= threshold ? intent : null, confidence, source };
  if (Object.keys(slotRecord).length > 0) result.slots = slotRecord;
  if (answer.sentiment) result.sentiment = answer.sentiment;
  return result;
}

function createEngineClassifier(options: LlmClassifierSettings, llm: Pick<Llm, 'json'>): IntentClassifier {
  const threshold = options.threshold ?? 0.5;
  const source = options.source ?? 'llm';
  return {
    async classify(text, { language, candidates, signal }): Promise<IntentResult> {
      const allowed = new Set(candidates);
      const defs = options.intents.filter((d) => allowed.has(d.name));
      if (defs.length === 0 || text.trim() === '') return { intent: null, confidence: 0, source };
      const names = defs.map((d) => d.name);
      const answer = await llm.json(
        [
          { role: 'system', content: instructions(options, defs, primaryLanguage(language), true) },
          { role: 'user', content: text },
        ],
        { name: 'intent', schema: analysisSchema, jsonSchema: intentAnalysisSchema(names), temperature: options.temperature ?? 0, maxTokens: options.maxTokens ?? 300, signal },
      );
      return toResult(answer, new Set(names), threshold, source, 'the language model');
    },
  };
}

function createServerClassifier(options: LlmClassifierSettings & OpenAiServerOptions & { model: string }): IntentClassifier {
  const threshold = options.threshold ?? 0.5;
  const source = options.source ?? 'llm';
  const client = createOpenAiClient(options);
  const url = client.url('chat/completions');

  return {
    async classify(text, { language, candidates, signal }): Promise<IntentResult> {
      const allowed = new Set(candidates);
      const defs = options.intents.filter((d) => allowed.has(d.name));
      if (defs.length === 0 || text.trim() === '') return { intent: null, confidence: 0, source };
      const names = defs.map((d) => d.name);
      const lang = primaryLanguage(language);
      const body = {
        model: options.model,
        temperature: options.temperature ?? 0,
        max_tokens: options.maxTokens ?? 300,
        messages: [
          { role: 'system', content: instructions(options, defs, lang, false) },
          { role: 'user', content: text },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'intent', strict: true, schema: intentSchema(names) } },
      };
      const json = await client.json('chat/completions', { json: body, what: `LLM server ${url}`, signal });
      const completion = completionSchema.safeParse(json);
      if (!completion.success) throw new PalabreError('engine_failed', `LLM server ${url} answered an unexpected shape: ${describe(completion.error)}`);
      const message = completion.data.choices[0].message;
      if (message.refusal) throw new PalabreError('engine_failed', `LLM server ${url} refused to classify: ${message.refusal.slice(0, 200)}`);
      const content = message.content ?? '';
      let raw: unknown;
      try {
        raw = JSON.parse(content);
      } catch (err) {
        throw new PalabreError('engine_failed', `LLM server ${url} answered with malformed JSON for the intent: ${JSON.stringify(content.slice(0, 120))}`, { cause: err });
      }
      const answer = answerSchema.safeParse(raw);
      if (!answer.success) throw new PalabreError('engine_failed', `LLM server ${url} answered JSON that does not match the intent schema: ${describe(answer.error)}`);
      return toResult(answer.data, new Set(names), threshold, source, `LLM server ${url}`);
    },
  };
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue.path.join('.') || 'body'}: ${issue.message}`;
}
