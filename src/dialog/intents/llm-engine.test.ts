/**
 * The LLM step of the intent chain through an LLM engine's `json()`: one
 * structured answer (intent, confidence, slots, sentiment) validated against
 * its schema, over the fake OpenAI server; and the sentiment carried on the
 * dialog's intent output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intentReply, startFakeOpenAi, type FakeOpenAiServer } from '../../../test/support/fake-openai.js';
import { createOpenAiLlm } from '../../engines/llm/openai.js';
import { createDialogRuntime } from '../runtime.js';
import { flowFrom } from '../test-support.js';
import { createLlmClassifier } from './llm.js';
import { SUPPORT_DESK } from './test-support.js';

let server: FakeOpenAiServer;
const brain = (text: string, allowed: string[]): string => {
  if (text.includes('wifi')) return JSON.stringify({ intent: allowed.includes('INTERNET_ISSUE') ? 'INTERNET_ISSUE' : 'none', confidence: 0.9, slots: [{ name: 'device', value: 'box' }], sentiment: 'negative' });
  if (text.includes('mood')) return JSON.stringify({ intent: 'none', confidence: 0.2, slots: [], sentiment: 'ecstatic' });
  return JSON.stringify({ intent: 'none', confidence: 0.1, slots: [], sentiment: 'neutral' });
};

beforeAll(async () => {
  server = await startFakeOpenAi({ reply: intentReply(brain) });
});
afterAll(() => server.close());

const llm = () => createOpenAiLlm({ baseUrl: server.baseUrl, model: 'fake-llm', timeoutMs: 2000 });

describe('LLM intent analysis through the engine json()', () => {
  it('asks for intent, confidence, slots and sentiment against a strict schema and returns them', async () => {
    const before = server.requests.length;
    const got = await createLlmClassifier({ llm: llm(), intents: SUPPORT_DESK }).classify('my wifi is dead again', { language: 'en', candidates: ['YES', 'INTERNET_ISSUE'] });
    expect(got).toEqual({ intent: 'INTERNET_ISSUE', confidence: 0.9, source: 'llm', slots: { device: 'box' }, sentiment: 'negative' });
    const body = server.requests[before].body as { response_format: { json_schema: { strict: boolean; schema: { required: string[]; properties: Record<string, { enum?: string[] }> } } } };
    expect(body.response_format.json_schema.strict).toBe(true);
    expect(body.response_format.json_schema.schema.required).toEqual(['intent', 'confidence', 'slots', 'sentiment']);
    expect(body.response_format.json_schema.schema.properties.intent.enum).toEqual(['YES', 'INTERNET_ISSUE', 'none']);
    expect(body.response_format.json_schema.schema.properties.sentiment.enum).toEqual(['positive', 'neutral', 'negative']);
  });

  it('refuses an answer off the schema, naming what is wrong', async () => {
    await expect(createLlmClassifier({ llm: llm(), intents: SUPPORT_DESK }).classify('what a mood', { language: 'en', candidates: ['YES'] })).rejects.toThrow(/does not match the schema "intent": sentiment/);
  });

  it('the dialog reports the sentiment with the intent', async () => {
    const flow = await flowFrom(`
id: s
languages: [en]
start: ASK
intents:
  INTERNET_ISSUE: { examples: { en: [internet] } }
states:
  ASK:
    say: How can I help?
    on: [{ intent: INTERNET_ISSUE, say: Sorry about that., goto: END }]
  END:
    say: Bye.
    on_enter: [{ hangup: {} }]
`);
    const classifier = createLlmClassifier({ llm: llm(), intents: [{ name: 'INTERNET_ISSUE', examples: { en: ['internet'] } }] });
    const runtime = createDialogRuntime(flow, { classifier });
    await runtime.start();
    const out = await runtime.handle({ type: 'utterance', text: 'the wifi is broken' });
    expect(out[0]).toEqual({ type: 'intent', intent: 'INTERNET_ISSUE', confidence: 0.9, source: 'llm', text: 'the wifi is broken', sentiment: 'negative' });
  });
});
