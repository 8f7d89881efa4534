import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddingsClassifier } from './embeddings.js';
import { startFakeOpenAi, type FakeOpenAiServer } from '../../../test/support/fake-openai.js';
import { SUPPORT_DESK } from './test-support.js';

const candidates = SUPPORT_DESK.map((d) => d.name);
let server: FakeOpenAiServer;
beforeAll(async () => {
  server = await startFakeOpenAi();
});
afterAll(async () => {
  await server.close();
});

function classifier(extra: Partial<Parameters<typeof createEmbeddingsClassifier>[0]> = {}) {
  return createEmbeddingsClassifier({ baseUrl: server.baseUrl, model: 'fake-embed', intents: SUPPORT_DESK, timeoutMs: 2000, ...extra });
}

describe('embeddings classifier against a local OpenAI-compatible server', () => {
  it('goes to the intent of the nearest example', async () => {
    const c = classifier({ threshold: 0.3 });
    const rows: Array<[string, string, string]> = [
      ['en', 'the internet connection is very slow today', 'INTERNET_ISSUE'],
      ['en', 'I cannot send text messages from my phone', 'MOBILE_ISSUE'],
      ['en', 'I would like to modify my subscription please', 'MODIFICATION_REQUEST'],
      ['en', 'can I speak to a real person', 'HUMAN'],
      ['fr', 'ma box clignote en rouge depuis ce matin', 'INTERNET_ISSUE'],
      ['fr', 'je voudrais modifier mon abonnement', 'MODIFICATION_REQUEST'],
    ];
    for (const [language, text, expected] of rows) {
      const got = await c.classify(text, { language, candidates });
      expect(got, text).toMatchObject({ intent: expected, source: 'embeddings' });
      expect(got.confidence).toBeGreaterThan(0.3);
    }
  });
  it('embeds the examples once per language, then one request per utterance, in the wire shape', async () => {
    const c = classifier({ apiKey: 'sk-test', batchSize: 4 });
    const before = server.requests.length;
    await c.classify('my internet is down', { language: 'en', candidates });
    const englishExamples = SUPPORT_DESK.reduce((n, d) => n + (d.examples.en?.length ?? 0), 0);
    const first = server.requests.slice(before);
    expect(first.length).toBe(Math.ceil(englishExamples / 4) + 1);
    for (const r of first) {
      expect(r).toMatchObject({ method: 'POST', path: '/v1/embeddings', body: { model: 'fake-embed' } });
      expect(r.headers.authorization).toBe('Bearer sk-test');
      expect(Array.isArray((r.body as { input: unknown }).input)).toBe(true);
    }
    await c.classify('my wifi keeps dropping', { language: 'en', candidates });
    expect(server.requests.length - before).toBe(first.length + 1);
    expect(server.requests.at(-1)?.body).toEqual({ input: ['my wifi keeps dropping'], model: 'fake-embed' });
  });
  it('chooses only among the candidates', async () => {
    const got = await classifier({ threshold: 0 }).classify('my internet is not working', { language: 'en', candidates: ['YES', 'NO'] });
    expect(['YES', 'NO', null]).toContain(got.intent);
    expect(got.intent).not.toBe('INTERNET_ISSUE');
    const none = await classifier().classify('anything', { language: 'en', candidates: ['NOT_HERE'] });
    expect(none).toEqual({ intent: null, confidence: 0, source: 'embeddings' });
  });
  it('maps cosine similarity to confidence with a floor and a ceiling', async () => {
    const raw = await classifier({ threshold: 0 }).classify('the internet is down', { language: 'en', candidates });
    expect(raw.confidence).toBeCloseTo(1, 5);
    const unrelated = await classifier({ threshold: 0.5 }).classify('purple elephants dance', { language: 'en', candidates });
    expect(unrelated.intent).toBeNull();
    const scaled = await classifier({ similarityFloor: 0.5, similarityCeil: 0.9, threshold: 0 }).classify('my internet is slow', { language: 'en', candidates });
    const plain = await classifier({ threshold: 0 }).classify('my internet is slow', { language: 'en', candidates });
    expect(scaled.confidence).toBeCloseTo(Math.min(1, (plain.confidence - 0.5) / 0.4), 2);
  });
  it('names the server and the status on a 429 and a 500', async () => {
    const c = classifier();
    await c.prepare('en');
    server.next({ status: 429, body: { error: { message: 'Rate limit reached' } } });
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({
      code: 'engine_unavailable',
      message: expect.stringMatching(new RegExp(`embeddings server ${server.baseUrl}/embeddings answered HTTP 429: .*Rate limit reached`)),
    });
    server.next({ status: 500, body: 'upstream exploded' });
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({
      code: 'engine_failed',
      status: 502,
      message: expect.stringContaining('answered HTTP 500: upstream exploded'),
    });
  });
  it('gives up after its timeout on a slow answer', async () => {
    const c = classifier({ timeoutMs: 200 });
    await c.prepare('en');
    server.next({ delayMs: 2000 });
    const started = Date.now();
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({
      code: 'engine_unavailable',
      message: expect.stringContaining('did not answer within 200 ms'),
    });
    expect(Date.now() - started).toBeLessThan(1500);
  });
  it('stops when the caller cancels', async () => {
    const c = classifier();
    await c.prepare('en');
    server.next({ delayMs: 1000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(c.classify('hello', { language: 'en', candidates, signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
  });
  it('refuses an answer that does not match its inputs', async () => {
    const c = classifier();
    await c.prepare('en');
    server.next({ body: { object: 'list', data: [] } });
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({ code: 'engine_failed', message: expect.stringContaining('0 embeddings for 1 inputs') });
    server.next({ body: { data: 'nope' } });
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({ code: 'engine_failed', message: expect.stringContaining('unexpected shape') });
    server.next({ status: 200, body: 'not json' });
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({ code: 'engine_failed', message: expect.stringContaining('invalid JSON') });
  });
  it('retries embedding the examples after a failure', async () => {
    const c = classifier();
    server.next({ status: 503, body: { error: { message: 'loading model' } } });
    await expect(c.prepare('en')).rejects.toMatchObject({ message: expect.stringContaining('HTTP 503: loading model') });
    const before = server.requests.length;
    expect((await c.classify('my internet is down', { language: 'en', candidates })).intent).toBe('INTERNET_ISSUE');
    expect(server.requests.length - before).toBe(2);
  });
  it('says which server it could not reach', async () => {
    const gone = await startFakeOpenAi();
    const url = gone.baseUrl;
    await gone.close();
    const c = createEmbeddingsClassifier({ baseUrl: url, model: 'm', intents: SUPPORT_DESK, timeoutMs: 1000, prepareTimeoutMs: 1000 });
    await expect(c.classify('hello', { language: 'en', candidates })).rejects.toMatchObject({
      code: 'engine_unavailable',
      message: expect.stringContaining(`${url}/embeddings could not be reached`),
    });
  });
});
