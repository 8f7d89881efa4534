import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PalabreError } from '../../errors.js';
import type { IntentClassifier, IntentResult } from '../types.js';
import { createIntentChain } from './chain.js';
import { intentReply, startFakeOpenAi, type FakeOpenAiServer } from '../../../test/support/fake-openai.js';
import { createLlmClassifier } from './llm.js';
import { createLocalClassifier } from './local.js';
import { HEATING_LEADS, SUPPORT_DESK } from './test-support.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** A classifier that answers a fixed result, after `delayMs`, and counts its calls. */
function fixed(result: Omit<IntentResult, 'source'>, delayMs = 0) {
  const calls: AbortSignal[] = [];
  const classifier: IntentClassifier = {
    async classify(_text, { signal }) {
      if (signal) calls.push(signal);
      await new Promise((r) => setTimeout(r, delayMs));
      return { ...result, source: 'inner' };
    },
  };
  return { classifier, calls };
}
const never: IntentClassifier = { classify: () => new Promise<IntentResult>(() => {}) };
const broken: IntentClassifier = {
  classify: async () => {
    throw new PalabreError('engine_failed', 'LLM server http://x/v1/chat/completions answered HTTP 500');
  },
};

const supportCandidates = SUPPORT_DESK.map((d) => d.name);
let server: FakeOpenAiServer;
beforeAll(async () => {
  // The FAQ classifier of the lead line, as an LLM that knows the FAQ intents.
  server = await startFakeOpenAi({
    reply: intentReply((text, allowed) =>
      JSON.stringify(text.includes('garantie') && allowed.includes('faq_guarantee') ? { intent: 'faq_guarantee', confidence: 0.9, slots: [] } : { intent: 'none', confidence: 0.1, slots: [] }),
    ),
  });
});
afterAll(async () => {
  await server.close();
});

describe('intent chain', () => {
  it('takes the first step at or above the threshold and names it as the source', async () => {
    const second = fixed({ intent: 'NO', confidence: 0.99 });
    const chain = createIntentChain(
      [
        { name: 'local', classifier: createLocalClassifier(SUPPORT_DESK), timeoutMs: 200 },
        { name: 'llm', classifier: second.classifier, timeoutMs: 200 },
      ],
      { threshold: 0.6 },
    );
    expect(await chain.classify('yes yeah', { language: 'en', candidates: supportCandidates })).toMatchObject({ intent: 'YES', source: 'local' });
    expect(second.calls).toHaveLength(0);
  });
  it('falls through to the next step when the first is unsure (main classifier, then FAQ)', async () => {
    const main = HEATING_LEADS.filter((d) => !d.name.startsWith('faq_'));
    const faq = HEATING_LEADS.filter((d) => d.name.startsWith('faq_'));
    const chain = createIntentChain(
      [
        { name: 'main', classifier: createLocalClassifier(main), timeoutMs: 200 },
        { name: 'faq', classifier: createLlmClassifier({ baseUrl: server.baseUrl, model: 'm', intents: faq, timeoutMs: 1000 }), timeoutMs: 1000 },
      ],
      { threshold: 0.6 },
    );
    const candidates = HEATING_LEADS.map((d) => d.name);
    expect(await chain.classify('et la garantie elle dure combien', { language: 'fr', candidates })).toEqual({ intent: 'faq_guarantee', confidence: 0.9, source: 'faq' });
    expect(await chain.classify('je suis propriétaire', { language: 'fr', candidates })).toMatchObject({ intent: 'ok_proprio', source: 'main' });
  });
  it('answers unknown with the best confidence seen when no step reaches the threshold', async () => {
    const chain = createIntentChain(
      [
        { name: 'a', classifier: fixed({ intent: 'YES', confidence: 0.4 }).classifier, timeoutMs: 200 },
        { name: 'b', classifier: fixed({ intent: 'NO', confidence: 0.55 }).classifier, timeoutMs: 200 },
        { name: 'c', classifier: fixed({ intent: null, confidence: 0.2 }).classifier, timeoutMs: 200 },
      ],
      { threshold: 0.6 },
    );
    expect(await chain.classify('hmm', { language: 'en', candidates: ['YES', 'NO'] })).toEqual({ intent: null, confidence: 0.55, source: 'b' });
    const empty = createIntentChain([], { threshold: 0.5 });
    expect(await empty.classify('hmm', { language: 'en', candidates: ['YES'] })).toEqual({ intent: null, confidence: 0, source: 'none' });
  });
  it('skips a step that never answers once its own timeout has passed, and logs it', async () => {
    const { logger, lines } = capture();
    const chain = createIntentChain(
      [
        { name: 'stuck', classifier: never, timeoutMs: 100 },
        { name: 'local', classifier: createLocalClassifier(SUPPORT_DESK), timeoutMs: 200 },
      ],
      { threshold: 0.6, logger },
    );
    const started = Date.now();
    expect(await chain.classify('my internet is not walking', { language: 'en', candidates: supportCandidates })).toMatchObject({ intent: 'INTERNET_ISSUE', source: 'local' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(600);
    expect(lines.find((l) => l.step === 'stuck')).toMatchObject({ level: 40, err: 'intent step "stuck" gave no answer within 100 ms' });
  });
  it('aborts the signal it gave a step that ran out of time', async () => {
    const slow = fixed({ intent: 'YES', confidence: 1 }, 300);
    const chain = createIntentChain([{ name: 'slow', classifier: slow.classifier, timeoutMs: 50 }], { threshold: 0.5 });
    expect(await chain.classify('yes', { language: 'en', candidates: ['YES'] })).toEqual({ intent: null, confidence: 0, source: 'none' });
    expect(slow.calls[0].aborted).toBe(true);
  });
  it('skips a step that throws, and one that answers an intent outside the candidates', async () => {
    const { logger, lines } = capture();
    const chain = createIntentChain(
      [
        { name: 'broken', classifier: broken, timeoutMs: 200 },
        { name: 'rogue', classifier: fixed({ intent: 'NOT_A_CANDIDATE', confidence: 1 }).classifier, timeoutMs: 200 },
        { name: 'local', classifier: createLocalClassifier(SUPPORT_DESK), timeoutMs: 200 },
      ],
      { threshold: 0.6, logger },
    );
    expect(await chain.classify('nope', { language: 'en', candidates: supportCandidates })).toMatchObject({ intent: 'NO', source: 'local' });
    expect(lines.find((l) => l.step === 'broken')?.err).toMatch(/answered HTTP 500/);
    expect(lines.find((l) => l.step === 'rogue')?.msg).toMatch(/not a candidate/);
  });
  it('stops at once when the caller cancels (hang-up, barge-in)', async () => {
    const after = fixed({ intent: 'YES', confidence: 1 });
    const chain = createIntentChain(
      [
        { name: 'stuck', classifier: never, timeoutMs: 5000 },
        { name: 'after', classifier: after.classifier, timeoutMs: 200 },
      ],
      { threshold: 0.5 },
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = Date.now();
    await expect(chain.classify('yes', { language: 'en', candidates: ['YES'], signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(after.calls).toHaveLength(0);
  });
  it('applies the threshold inclusively', async () => {
    const chain = createIntentChain([{ name: 'x', classifier: fixed({ intent: 'YES', confidence: 0.6 }).classifier, timeoutMs: 100 }], { threshold: 0.6 });
    expect(await chain.classify('yes', { language: 'en', candidates: ['YES'] })).toEqual({ intent: 'YES', confidence: 0.6, source: 'x' });
  });
  it('refuses a threshold out of range and a step without a timeout', () => {
    expect(() => createIntentChain([], { threshold: 1.5 })).toThrow(/threshold must be between 0 and 1/);
    expect(() => createIntentChain([{ name: 'x', classifier: never, timeoutMs: 0 }], { threshold: 0.5 })).toThrow(/step "x" needs a positive timeoutMs/);
  });
});
