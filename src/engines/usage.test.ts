/**
 * The usage wrappers: what a call used of each engine, counted without
 * changing what the engine offers (an LLM keeps `stream` and `json`, which
 * tool calls and structured intents need), and priced by the table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Frame } from '../audio/frame.js';
import { PalabreError } from '../errors.js';
import { type FakeOpenAi, startFakeOpenAi } from '../../test/support/fake-openai.js';
import { createOpenAiLlm } from './llm/openai.js';
import type { Llm } from './llm/types.js';
import type { Stt, SttResult } from './stt/types.js';
import { CallUsage, costOf, meteredLlm, meteredStt } from './usage.js';

let openai: FakeOpenAi;

beforeAll(async () => {
  openai = await startFakeOpenAi({ reply: (r) => (r.responseFormat ? '{"intent": "greeting"}' : 'Hello there, how can I help?') });
});

afterAll(async () => {
  await openai?.close();
});

const frame = (): Frame => ({ samples: new Int16Array(320), sampleRate: 16_000 });

describe('meteredLlm', () => {
  it('keeps a full model one (stream and json pass through) and counts requests, characters and reported tokens', async () => {
    const usage = new CallUsage();
    const llm = meteredLlm(createOpenAiLlm({ baseUrl: openai.baseUrl, model: 'm', timeoutMs: 10_000, preset: 'openai' }), usage) as Llm;
    expect(typeof llm.stream).toBe('function');
    expect(typeof llm.json).toBe('function');
    let text = '';
    for await (const item of llm.stream([{ role: 'user', content: 'hi' }])) if (item.type === 'text') text += item.text;
    expect(text).toBe('Hello there, how can I help?');
    let chat = '';
    for await (const delta of llm.chat([{ role: 'user', content: 'hi' }])) chat += delta;
    expect(chat).toBe(text);
    const answer = await llm.json([{ role: 'user', content: 'classify' }], { name: 'answer', schema: z.object({ intent: z.string() }) });
    expect(answer).toEqual({ intent: 'greeting' });
    const [u] = usage.snapshot();
    expect(u).toMatchObject({ kind: 'llm', requests: 3, errors: 0, characters: 2 * text.length });
    expect(u.promptTokens + u.completionTokens).toBeGreaterThan(0);
  });
});

describe('meteredStt', () => {
  it('sums a stream\'s audio once, and counts a failing stream as one error wherever it fails', async () => {
    const usage = new CallUsage();
    const broken: Stt = {
      name: 'cloud',
      sampleRate: 16_000,
      languages: [],
      streaming: true,
      transcribe: async (): Promise<SttResult> => {
        throw new PalabreError('engine_failed', 'down');
      },
      stream: () => ({
        push: () => undefined,
        async *events() {
          yield* [];
          throw new PalabreError('engine_failed', 'dropped');
        },
        finish: async () => {
          throw new PalabreError('engine_failed', 'dropped');
        },
        close: () => undefined,
      }),
      close: async () => undefined,
    };
    const stt = meteredStt(broken, usage);
    const stream = stt.stream!();
    for (let i = 0; i < 50; i++) stream.push(frame());
    await expect((async () => {
      for await (const _ of stream.events()) void _;
    })()).rejects.toThrow(/dropped/);
    await expect(stream.finish()).rejects.toThrow(/dropped/);
    stream.close();
    await expect(stt.transcribe({ samples: new Int16Array(16_000), sampleRate: 16_000 })).rejects.toThrow(/down/);
    expect(usage.snapshot()).toEqual([{ kind: 'stt', engine: 'cloud', requests: 2, errors: 2, audioSeconds: 2, characters: 0, promptTokens: 0, completionTokens: 0 }]);
  });
});

describe('costOf', () => {
  it('prices each engine with the table, and engines absent from it cost nothing', () => {
    const cost = costOf(
      [
        { kind: 'stt', engine: 'deepgram', requests: 3, errors: 0, audioSeconds: 90, characters: 0, promptTokens: 0, completionTokens: 0 },
        { kind: 'tts', engine: 'elevenlabs', requests: 4, errors: 0, audioSeconds: 20, characters: 2000, promptTokens: 0, completionTokens: 0 },
        { kind: 'llm', engine: 'openai', requests: 2, errors: 0, audioSeconds: 0, characters: 300, promptTokens: 1_000_000, completionTokens: 500_000 },
        { kind: 'stt', engine: 'pocketsphinx', requests: 1, errors: 0, audioSeconds: 30, characters: 0, promptTokens: 0, completionTokens: 0 },
      ],
      { currency: 'EUR', stt: { deepgram: { perMinute: 0.01 } }, tts: { elevenlabs: { perThousandCharacters: 0.3 } }, llm: { openai: { perMillionPromptTokens: 0.15, perMillionCompletionTokens: 0.6 } } },
    );
    expect(cost.byEngine).toEqual({ 'stt:deepgram': 0.015, 'tts:elevenlabs': 0.6, 'llm:openai': 0.45, 'stt:pocketsphinx': 0 });
    expect(cost).toMatchObject({ currency: 'EUR', total: 1.065 });
  });
});
