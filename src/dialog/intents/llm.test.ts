import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intentReply, startFakeOpenAi, type FakeOpenAiServer } from '../../../test/support/fake-openai.js';
import { createLlmClassifier } from './llm.js';
import { SUPPORT_DESK } from './test-support.js';

const candidates = SUPPORT_DESK.map((d) => d.name);
let server: FakeOpenAiServer;

// The fake model: a few rules, answering in the requested JSON shape and only with allowed names.
const brain = (text: string, allowed: string[]): string => {
  const t = text.toLowerCase();
  const pick = (name: string, confidence: number, slots: Array<{ name: string; value: string }> = []) =>
    JSON.stringify(allowed.includes(name) ? { intent: name, confidence, slots } : { intent: 'none', confidence: 0.1, slots: [] });
  if (t.includes('internet') || t.includes('wifi')) return pick('INTERNET_ISSUE', 0.92);
  if (t.includes('my name is')) return pick('IDENTITY_PROVIDED', 0.88, [{ name: 'person_name', value: text.slice(t.indexOf('my name is') + 11) }]);
  if (t.includes('maybe')) return pick('YES', 0.3);
  return JSON.stringify({ intent: 'none', confidence: 0.05, slots: [] });
};

beforeAll(async () => {
  server = await startFakeOpenAi({ reply: intentReply(brain) });
});
afterAll(async () => {
  await server.close();
});

function classifier(extra: Partial<Parameters<typeof createLlmClassifier>[0]> = {}) {
  return createLlmClassifier({ baseUrl: server.baseUrl, model: 'fake-llm', intents: SUPPORT_DESK, timeoutMs: 2000, ...extra });
}

describe('LLM classifier against a local OpenAI-compatible server', () => {
  it('sends one non-streaming chat completion with a strict JSON schema restricted to the candidates', async () => {
    const before = server.requests.length;
    const got = await classifier({ apiKey: 'sk-test' }).classify('my wifi is broken', { language: 'fr', candidates: ['YES', 'NO', 'INTERNET_ISSUE'] });
    expect(got).toEqual({ intent: 'INTERNET_ISSUE', confidence: 0.92, source: 'llm' });
    const sent = server.requests.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(sent[0].headers.authorization).toBe('Bearer sk-test');
    const body = sent[0].body as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'fake-llm', temperature: 0, messages: [{ role: 'system' }, { role: 'user', content: 'my wifi is broken' }] });
    expect(body.stream).toBeUndefined();
    expect(body.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: {
        name: 'intent',
        strict: true,
        schema: {
          type: 'object',
          required: ['intent', 'confidence', 'slots'],
          additionalProperties: false,
          properties: { intent: { type: 'string', enum: ['YES', 'NO', 'INTERNET_ISSUE', 'none'] } },
        },
      },
    });
    const system = (body.messages as Array<{ content: string }>)[0].content;
    expect(system).toContain('French');
    expect(system).toContain('INTERNET_ISSUE');
    expect(system).toContain('"internet ne marche pas"');
    expect(system).not.toContain('MOBILE_ISSUE');
  });
  it('returns the slots the model extracted', async () => {
    const got = await classifier().classify('hello my name is Ada Lovelace', { language: 'en', candidates });
    expect(got).toEqual({ intent: 'IDENTITY_PROVIDED', confidence: 0.88, source: 'llm', slots: { person_name: 'Ada Lovelace' } });
  });
  it('answers unknown for "none" and for an answer below its threshold', async () => {
    expect(await classifier().classify('purple elephants', { language: 'en', candidates })).toEqual({ intent: null, confidence: 0.05, source: 'llm' });
    expect(await classifier().classify('maybe', { language: 'en', candidates })).toEqual({ intent: null, confidence: 0.3, source: 'llm' });
  });
  it('does not call the server when no candidate is one of its intents', async () => {
    const before = server.requests.length;
    expect(await classifier().classify('hello', { language: 'en', candidates: ['OTHER'] })).toEqual({ intent: null, confidence: 0, source: 'llm' });
    expect(server.requests.length).toBe(before);
  });
  const completion = (content: unknown) => ({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] });
  it('refuses malformed JSON, JSON off the schema and an intent that is not a candidate', async () => {
    const c = classifier();
    server.next({ body: completion('{"intent": "YES", "confid') });
    await expect(c.classify('yes', { language: 'en', candidates })).rejects.toMatchObject({ code: 'engine_failed', message: expect.stringContaining('malformed JSON') });
    server.next({ body: completion('{"intent": "YES"}') });
    await expect(c.classify('yes', { language: 'en', candidates })).rejects.toMatchObject({ message: expect.stringContaining('does not match the intent schema: confidence') });
    server.next({ body: completion(JSON.stringify({ intent: 'MOBILE_ISSUE', confidence: 0.9, slots: [] })) });
    await expect(c.classify('yes', { language: 'en', candidates: ['YES', 'NO'] })).rejects.toMatchObject({ message: expect.stringContaining('"MOBILE_ISSUE", which is not among the candidates (YES, NO)') });
    server.next({ body: { choices: [] } });
    await expect(c.classify('yes', { language: 'en', candidates })).rejects.toMatchObject({ message: expect.stringContaining('unexpected shape') });
    server.next({ body: { choices: [{ message: { content: null, refusal: 'I cannot help with that' } }] } });
    await expect(c.classify('yes', { language: 'en', candidates })).rejects.toMatchObject({ message: expect.stringContaining('refused to classify: I cannot help with that') });
  });
  it('accepts slots as an object from servers that ignore the strict schema, and clamps confidence', async () => {
    server.next({ body: completion(JSON.stringify({ intent: 'YES', confidence: 1.4, slots: { answer: true } })) });
    expect(await classifier().classify('yes', { language: 'en', candidates })).toEqual({ intent: 'YES', confidence: 1, source: 'llm', slots: { answer: true } });
  });
  it('names the server and the status on a 429 and a 500', async () => {
    const c = classifier();
    server.next({ status: 429, body: { error: { message: 'Rate limit reached for requests' } } });
    await expect(c.classify('yes', { language: 'en', candidates })).rejects.toMatchObject({
      code: 'engine_unavailable',
      message: expect.stringMatching(new RegExp(`LLM server ${server.baseUrl}/chat/completions answered HTTP 429: .*Rate limit`)),
    });
    server.next({ status: 500, body: { error: { message: 'internal' } } });
    await expect(c.classify('yes', { language: 'en', candidates })).rejects.toMatchObject({ code: 'engine_failed', message: expect.stringContaining('answered HTTP 500') });
  });
  it('gives up after its timeout on a slow answer', async () => {
    server.next({ delayMs: 2000 });
    const started = Date.now();
    await expect(classifier({ timeoutMs: 150 }).classify('yes', { language: 'en', candidates })).rejects.toMatchObject({
      code: 'engine_unavailable',
      message: expect.stringContaining('did not answer within 150 ms'),
    });
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
