/**
 * The OpenAI-compatible engines against the fake (itself proven with the
 * official client in test/fake-openai.test.ts), with real audio: flite
 * speech transcribed by the fake's PocketSphinx, the fake's speech streamed
 * back as 24 kHz PCM and recognised again. Presets must shape the requests
 * (fields a server refuses are not sent), and every failure must be a clear
 * PalabreError that says whether another engine may be tried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { concatChunks, type AudioChunk } from '../src/audio/frame.js';
import { resample } from '../src/audio/resample.js';
import { loadConfig } from '../src/config.js';
import { createLlmFromConfig } from '../src/engines/llm/index.js';
import { createOpenAiLlm } from '../src/engines/llm/openai.js';
import type { LlmItem, LlmMessage } from '../src/engines/llm/types.js';
import { createOpenAiClient, isRetryable } from '../src/engines/openai/client.js';
import { createEmbedder } from '../src/engines/openai/embeddings.js';
import { listOpenAiModels } from '../src/engines/openai/models.js';
import { openAiPreset, type OpenAiPresetName } from '../src/engines/openai/presets.js';
import { loadEngines } from '../src/engines/registry.js';
import { createStt } from '../src/engines/stt/index.js';
import { createOpenAiStt } from '../src/engines/stt/openai.js';
import { cleanupSpeech, fliteSpeech } from '../src/engines/stt/test-support.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import { createTts } from '../src/engines/tts/index.js';
import { createOpenAiTts } from '../src/engines/tts/openai.js';
import { PalabreError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { defaultReply, fakeEmbedding, type FakeOpenAi, type FakeReply, startFakeOpenAi } from './support/fake-openai.js';

const KEY = 'sk-engines-test-key-4321';
const SENTENCE = 'please enter your account number followed by the pound key';
let fake: FakeOpenAi;
/** Answers set per test; undefined falls back to the fake's default model. */
let answer: ((userText: string) => FakeReply | undefined) | undefined;

beforeAll(async () => {
  fake = await startFakeOpenAi({ reply: (request) => answer?.(request.userText) ?? defaultReply(request) });
});
afterAll(async () => {
  await fake.close();
  cleanupSpeech();
});

// Generous clocks: the fake recognises and speaks with real engines on a machine other tests load too.
const server = (extra: Partial<{ apiKey: string; timeoutMs: number; connectTimeoutMs: number }> = {}) => ({ baseUrl: fake.baseUrl, timeoutMs: 45_000, connectTimeoutMs: 45_000, ...extra });
const stt = (preset: OpenAiPresetName, model = openAiPreset(preset).stt?.model ?? 'whisper-1', extra = {}) => createOpenAiStt({ server: server(extra), model, quirks: openAiPreset(preset).stt! });
const lastBody = () => fake.requests.at(-1)!.body as Record<string, unknown>;

async function failure(run: () => Promise<unknown>): Promise<PalabreError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return err as PalabreError;
  }
  throw new Error('expected a failure');
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('openai speech-to-text', () => {
  it('uploads the turn as WAV and reads segments and word times back (speaches: verbose_json with words)', async () => {
    const speech = await fliteSpeech(SENTENCE);
    const engine = stt('speaches');
    expect(engine).toMatchObject({ name: 'openai', sampleRate: 16_000, streaming: false, languages: [] });
    const result = await engine.transcribe(speech, { language: 'en-US', hints: ['account number', 'pound key'] });
    expect(lastBody()).toMatchObject({
      model: 'Systran/faster-whisper-small',
      language: 'en',
      prompt: 'account number, pound key',
      response_format: 'verbose_json',
      'timestamp_granularities[]': ['segment', 'word'],
      file: { filename: 'audio.wav', type: 'audio/wav' },
    });
    expect(wordErrorRate(SENTENCE, result.text)).toBeLessThanOrEqual(0.2);
    expect(result).toMatchObject({ engine: 'openai', language: 'en' });
    const seconds = speech.samples.length / speech.sampleRate;
    expect(result.duration).toBeCloseTo(seconds, 1);
    expect(result.words?.map((w) => w.word).join(' ')).toBe(result.text);
    for (const w of result.words ?? []) {
      expect(w.end).toBeGreaterThan(w.start);
      expect(w.end).toBeLessThanOrEqual(seconds + 0.05);
    }
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.segments.flatMap((s) => s.words ?? []).length).toBe(result.words?.length);
  });

  it('asks each preset only for what it gives: Groq segments without words, gpt-4o-transcribe plain json, vLLM json', async () => {
    const speech = await fliteSpeech('i want to cancel my subscription');
    const groq = await stt('groq').transcribe(speech, { language: 'en' });
    expect(lastBody()).toMatchObject({ model: 'whisper-large-v3-turbo', response_format: 'verbose_json', 'timestamp_granularities[]': ['segment'] });
    expect(groq.segments.length).toBeGreaterThan(0);
    expect(groq.words).toBeUndefined();

    const fourO = await stt('openai', 'gpt-4o-mini-transcribe').transcribe(speech);
    expect(lastBody().response_format).toBe('json');
    expect(lastBody()['timestamp_granularities[]']).toBeUndefined();
    expect(lastBody().language).toBeUndefined();
    expect(fourO.segments).toEqual([{ id: 0, start: 0, end: fourO.duration, text: fourO.text }]);
    expect(wordErrorRate('i want to cancel my subscription', fourO.text)).toBeLessThanOrEqual(0.3);

    await stt('vllm', 'openai/whisper-small').transcribe(speech);
    expect(lastBody().response_format).toBe('json');
  });

  it('refuses audio at the wrong rate, and fails clearly on timeouts, cancellation and errors', async () => {
    const speech = await fliteSpeech(SENTENCE);
    expect((await failure(() => stt('speaches').transcribe({ samples: new Int16Array(8000), sampleRate: 8000 }))).code).toBe('rate_mismatch');

    fake.next({ delayMs: 1500 });
    const slow = await failure(() => stt('speaches', undefined, { timeoutMs: 300 }).transcribe(speech));
    expect(slow.code).toBe('engine_unavailable');
    expect(slow.message).toMatch(/speech-to-text model Systran\/faster-whisper-small at http:\/\/127\.0\.0\.1:\d+\/v1\/audio\/transcriptions did not answer within 300 ms/);
    expect(isRetryable(slow)).toBe(true);

    const ac = new AbortController();
    fake.next({ delayMs: 1000 });
    setTimeout(() => ac.abort(), 50);
    const aborted = await failure(() => stt('speaches').transcribe(speech, { signal: ac.signal }));
    expect(aborted.code).toBe('aborted');
    expect(isRetryable(aborted)).toBe(false);

    fake.next({ status: 400, body: { detail: "Model 'nope' is not installed locally. You can download the model using `POST /v1/models`" } });
    const missing = await failure(() => stt('speaches').transcribe(speech));
    expect(missing.message).toMatch(/answered HTTP 400: Model 'nope' is not installed locally/);
    expect(isRetryable(missing)).toBe(false);
  });
});

describe('openai text-to-speech', () => {
  it('streams 24 kHz PCM as it arrives, with the voice of the language, and it is heard back', async () => {
    const tts = await createOpenAiTts({ server: server(), model: 'kokoro', quirks: openAiPreset('kokoro').tts!, language: 'en' });
    expect(tts).toMatchObject({ name: 'openai', sampleRate: 24_000 });
    expect(tts.languages).toEqual(expect.arrayContaining(['en', 'fr']));
    const text = 'My internet connection stopped working this morning. Please call me back tomorrow afternoon.';
    const chunks = await collect(tts.synthesize(text, { language: 'en-US' }));
    expect(lastBody()).toEqual({ model: 'kokoro', input: text, voice: 'af_heart', response_format: 'pcm', stream: true });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.sampleRate).toBe(24_000);
    const audio = concatChunks(chunks);
    expect(audio.samples.length / 24_000).toBeGreaterThan(3);
    // The fake's PocketSphinx hears what was spoken, through the STT engine.
    const heard = await stt('speaches').transcribe(await resample(audio, 16_000), { language: 'en' });
    expect(wordErrorRate(text, heard.text)).toBeLessThanOrEqual(0.3);
  });

  it('takes the speed from the speaking style, asks speaches for 24 kHz, and resamples to a declared rate', async () => {
    const kokoro = await createOpenAiTts({ server: server(), model: 'kokoro', quirks: openAiPreset('kokoro').tts!, voices: { en: 'am_adam' } });
    await collect(kokoro.synthesize('I am sorry to hear that.', { language: 'en', style: 'empathie' }));
    expect(lastBody()).toMatchObject({ voice: 'am_adam', speed: 0.85 });
    await collect(kokoro.synthesize('Great news.', { voice: 'af_bella(2)+af_sky', style: 'neutre' }));
    expect(lastBody().voice).toBe('af_bella(2)+af_sky');
    expect(lastBody().speed).toBeUndefined();

    const speaches = await createOpenAiTts({ server: server(), model: 'speaches-ai/Kokoro-82M-v1.0-ONNX', quirks: openAiPreset('speaches').tts!, language: 'en', sampleRate: 16_000 });
    const chunks: AudioChunk[] = await collect(speaches.synthesize('i would like to speak to an agent please'));
    expect(lastBody()).toMatchObject({ sample_rate: 24_000, response_format: 'pcm' });
    expect(chunks.every((c) => c.sampleRate === 16_000)).toBe(true);
    const audio = concatChunks(chunks);
    const heard = await stt('speaches').transcribe(audio, { language: 'en' });
    expect(wordErrorRate('i would like to speak to an agent please', heard.text)).toBeLessThanOrEqual(0.3);

    const err = await failure(() => collect(kokoro.synthesize('Hallo', { language: 'de' })));
    expect(err.code).toBe('bad_request');
    expect(err.message).toMatch(/no voice for "de".*PALABRE_ENGINES_OPENAI_TTS_VOICES=de=<voice>/);
  });

  it('fails clearly on a cut stream, a cancellation mid-stream and a body that is not PCM', async () => {
    const tts = await createOpenAiTts({ server: server(), model: 'tts-1', quirks: openAiPreset('openai').tts!, language: 'en' });
    const text = 'Your call cannot be completed as dialed. Please check the number and try again.';
    fake.next({ cutAfter: 3 });
    const got: AudioChunk[] = [];
    const cut = await failure(async () => {
      for await (const c of tts.synthesize(text)) got.push(c);
    });
    expect(cut.code).toBe('engine_failed');
    expect(cut.message).toMatch(/text-to-speech model tts-1 at .*\/v1\/audio\/speech broke off its reply after 300 ms of audio/);
    expect(concatChunks(got).samples.length).toBe(3 * 2400);

    fake.next({ chunkDelayMs: 100 });
    const ac = new AbortController();
    const aborted = await failure(async () => {
      for await (const _ of tts.synthesize(text, { signal: ac.signal })) ac.abort();
    });
    expect(aborted.code).toBe('aborted');

    fake.next({ status: 200, body: { audio: 'not here' } });
    expect((await failure(() => collect(tts.synthesize(text)))).message).toMatch(/answered application\/json instead of raw PCM audio/);
  });
});

describe('embeddings through the shared client', () => {
  it('returns unit vectors in input order, sending dimensions only where the preset takes it', async () => {
    const client = createOpenAiClient(server());
    const texts = ['my internet is down', 'cancel my subscription'];
    const vectors = await createEmbedder({ client, model: 'text-embedding-3-small', quirks: openAiPreset('openai').embeddings, dimensions: 64 }).embed(texts);
    expect(lastBody()).toEqual({ input: texts, model: 'text-embedding-3-small', dimensions: 64 });
    expect(vectors.map((v) => v.length)).toEqual([64, 64]);
    await createEmbedder({ client, model: 'nomic-embed-text', quirks: openAiPreset('ollama').embeddings, dimensions: 64 }).embed(texts);
    expect(lastBody()).toEqual({ input: texts, model: 'nomic-embed-text' });
    const full = await createEmbedder({ client, model: 'm' }).embed(['hello world']);
    fakeEmbedding('hello world').forEach((x, i) => expect(full[0][i]).toBeCloseTo(x, 9));
  });
});

describe('chat: JSON answers', () => {
  const Lead = z.object({ intent: z.enum(['callback', 'quote', 'none']), confidence: z.number(), sentiment: z.enum(['positive', 'neutral', 'negative']) });
  const ask: LlmMessage[] = [{ role: 'user', content: 'I want a callback, I am positive about it' }];

  it('sends a strict json_schema where the preset takes one and returns the validated object', async () => {
    const llm = createOpenAiLlm({ ...server(), model: 'gpt-4o-mini', preset: 'openai' });
    const lead = await llm.json(ask, { name: 'lead', schema: Lead, maxTokens: 100 });
    expect(lead).toEqual({ intent: 'callback', confidence: 0.5, sentiment: 'positive' });
    const body = lastBody();
    expect(body.stream).toBeUndefined();
    expect(body.max_completion_tokens).toBe(100);
    expect(body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'lead', strict: true, schema: { type: 'object', additionalProperties: false } } });
    expect((body.response_format as { json_schema: { schema: Record<string, unknown> } }).json_schema.schema.$schema).toBeUndefined();

    // An optional field makes the schema unfit for strict mode: strict false rather than a 400.
    await llm.json(ask, { name: 'lead', schema: Lead.extend({ notes: z.string().optional() }) });
    expect(lastBody().response_format).toMatchObject({ json_schema: { strict: false } });
  });

  it('falls back to json_object with the schema in the prompt on a Groq model without json_schema', async () => {
    const groqLike = await startFakeOpenAi({ unsupported: ['json_schema'] });
    try {
      const generic = createOpenAiLlm({ baseUrl: groqLike.baseUrl, timeoutMs: 5000, model: 'llama-3.3-70b-versatile' });
      expect((await failure(() => generic.json(ask, { name: 'lead', schema: Lead }))).message).toMatch(/HTTP 400: This model does not support response format `json_schema`/);
      const groq = createOpenAiLlm({ baseUrl: groqLike.baseUrl, timeoutMs: 5000, model: 'llama-3.3-70b-versatile', preset: 'groq' });
      const lead = await groq.json(ask, { name: 'lead', schema: Lead });
      expect(Lead.parse(lead)).toEqual(lead);
      const body = groqLike.requests.at(-1)!.body as { response_format: unknown; messages: Array<{ role: string; content: string }> };
      expect(body.response_format).toEqual({ type: 'json_object' });
      expect(body.messages[0].role).toBe('system');
      expect(body.messages[0].content).toMatch(/^Answer with one JSON object only.*"intent"/s);
      // GPT-OSS on Groq takes strict json_schema.
      await createOpenAiLlm({ baseUrl: groqLike.baseUrl, timeoutMs: 5000, model: 'openai/gpt-oss-20b', preset: 'groq' }).json(ask, { name: 'lead', schema: Lead }).catch(() => undefined);
      expect((groqLike.requests.at(-1)!.body as { response_format: unknown }).response_format).toMatchObject({ type: 'json_schema', json_schema: { strict: true } });
    } finally {
      await groqLike.close();
    }
  });

  it('refuses an answer that is not JSON, does not match the schema, or was cut off', async () => {
    const llm = createOpenAiLlm({ ...server(), model: 'gpt-4o-mini', preset: 'openai' });
    answer = () => '{"intent": "callback", "confid';
    expect((await failure(() => llm.json(ask, { name: 'lead', schema: Lead }))).message).toMatch(/answered malformed JSON for "lead"/);
    answer = () => JSON.stringify({ intent: 'maybe', confidence: 1, sentiment: 'neutral' });
    expect((await failure(() => llm.json(ask, { name: 'lead', schema: Lead }))).message).toMatch(/does not match the schema "lead": intent:/);
    answer = () => ({ refusal: 'I cannot help with that.' });
    expect((await failure(() => llm.json(ask, { name: 'lead', schema: Lead }))).message).toMatch(/refused to answer "lead": I cannot help with that/);
    answer = undefined;
    fake.next({ body: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: '{"intent": "call' }, finish_reason: 'length' }] } });
    expect((await failure(() => llm.json(ask, { name: 'lead', schema: Lead, maxTokens: 5 }))).message).toMatch(/was cut off at its token limit while writing "lead"/);
    expect((await failure(() => llm.json(ask, { name: 'bad name!', schema: Lead }))).code).toBe('bad_request');
  });
});

describe('chat: tool calls', () => {
  const tools = [
    { name: 'book_callback', description: 'Book a call back', parameters: { type: 'object', properties: { day: { type: 'string', enum: ['monday', 'tuesday'] } }, required: ['day'], additionalProperties: false } },
    { name: 'save_ticket', description: 'Save a ticket', parameters: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'], additionalProperties: false } },
  ];
  const ask: LlmMessage[] = [{ role: 'user', content: 'book callback for tuesday and save ticket' }];

  it('assembles streamed tool_call deltas into calls with parsed arguments, then takes the results back', async () => {
    const llm = createOpenAiLlm({ ...server(), model: 'gpt-4o-mini', preset: 'openai' });
    const items = await collect(llm.stream(ask, { tools }));
    const calls = items.filter((i): i is Extract<LlmItem, { type: 'tool_call' }> => i.type === 'tool_call');
    expect(calls.map((c) => [c.name, c.arguments])).toEqual([
      ['book_callback', { day: 'tuesday' }],
      ['save_ticket', { summary: 'ticket' }],
    ]);
    expect(calls.every((c) => c.id.startsWith('call_'))).toBe(true);
    expect(items.at(-1)).toMatchObject({ type: 'usage', completionTokens: expect.any(Number) });
    expect(lastBody()).toMatchObject({ stream: true, stream_options: { include_usage: true }, tools: [{ type: 'function', function: { name: 'book_callback' } }, { type: 'function' }] });

    const followUp: LlmMessage[] = [...ask, { role: 'assistant', content: null, toolCalls: calls }, ...calls.map((c) => ({ role: 'tool' as const, toolCallId: c.id, content: 'done' }))];
    const text = (await collect(llm.stream(followUp, { tools, toolChoice: 'none' }))).filter((i) => i.type === 'text');
    expect(text.length).toBeGreaterThan(0);
    expect((lastBody().messages as unknown[])[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: calls[0].id, type: 'function', function: { name: 'book_callback', arguments: '{"day":"tuesday"}' } }, {}] });
    expect(lastBody().tool_choice).toBe('none');
  });

  it('sends parallel_tool_calls and stream_options only to presets that take them', async () => {
    await collect(createOpenAiLlm({ ...server(), model: 'gpt-4o-mini', preset: 'openai' }).stream(ask, { tools, parallelToolCalls: false }));
    expect(lastBody().parallel_tool_calls).toBe(false);
    for (const preset of ['ollama', 'vllm', 'mistral'] as const) {
      const items = await collect(createOpenAiLlm({ ...server(), model: 'm', preset }).stream(ask, { tools, parallelToolCalls: false, maxTokens: 50 }));
      const quirks = openAiPreset(preset).chat!;
      expect(lastBody().parallel_tool_calls).toBe(quirks.parallelToolCalls ? false : undefined);
      expect(lastBody().max_tokens).toBe(50);
      expect(lastBody().stream_options !== undefined).toBe(quirks.streamOptions);
      expect(items.some((i) => i.type === 'usage')).toBe(quirks.streamOptions);
      // Told not to call in parallel, the model calls one tool at a time; a server never told calls both.
      expect(items.filter((i) => i.type === 'tool_call')).toHaveLength(quirks.parallelToolCalls ? 1 : 2);
    }
    const mistralLike = await startFakeOpenAi({ unsupported: ['stream_options', 'parallel_tool_calls'] });
    try {
      const generic = createOpenAiLlm({ baseUrl: mistralLike.baseUrl, timeoutMs: 5000, model: 'm', preset: 'openai' });
      expect((await failure(() => collect(generic.stream(ask)))).message).toMatch(/HTTP 400: Unrecognized request argument supplied: stream_options/);
      const items = await collect(createOpenAiLlm({ baseUrl: mistralLike.baseUrl, timeoutMs: 5000, model: 'm', preset: 'mistral' }).stream(ask, { tools }));
      expect(items.filter((i) => i.type === 'tool_call')).toHaveLength(2);
    } finally {
      await mistralLike.close();
    }
  });

  it('refuses tool arguments that are not JSON, naming the tool', async () => {
    const llm = createOpenAiLlm({ ...server(), model: 'gpt-4o-mini', preset: 'openai' });
    answer = () => ({ toolCalls: [{ name: 'book_callback', arguments: '{"day": tues' }] });
    const err = await failure(() => collect(llm.stream(ask, { tools })));
    answer = undefined;
    expect(err.code).toBe('engine_failed');
    expect(err.message).toMatch(/sent arguments for tool "book_callback" that are not JSON: \{"day": tues/);
  });
});

describe('HTTP failures through the shared client', () => {
  it('401, 429 with retry-after, 500 and a malformed stream are clear errors, marked retryable or not, without the key', async () => {
    const keyed = await startFakeOpenAi({ apiKey: 'sk-right-key-000000' });
    try {
      const llm = createOpenAiLlm({ baseUrl: keyed.baseUrl, apiKey: KEY, timeoutMs: 5000, model: 'gpt-4o-mini', preset: 'openai' });
      const denied = await failure(() => collect(llm.chat([{ role: 'user', content: 'hi' }])));
      expect(denied.code).toBe('engine_failed');
      expect(denied.message).toMatch(/answered HTTP 401: Incorrect API key provided: sk-\*+4321\. .* \(check the API key\)$/);
      expect(JSON.stringify({ m: denied.message, d: denied.details })).not.toContain(KEY);
      expect(isRetryable(denied)).toBe(false);
    } finally {
      await keyed.close();
    }
    const llm = createOpenAiLlm({ ...server(), model: 'gpt-4o-mini', preset: 'openai' });
    fake.next({ status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests' } } });
    const limited = await failure(() => collect(llm.chat([{ role: 'user', content: 'hi' }])));
    expect(limited.code).toBe('engine_unavailable');
    expect(limited.details).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000 });
    fake.next({ status: 500, body: { error: { message: 'The server had an error while processing your request.' } } });
    const broken = await failure(() => collect(llm.chat([{ role: 'user', content: 'hi' }])));
    expect(broken).toMatchObject({ code: 'engine_failed', details: { status: 500, retryable: true } });
    fake.next({ rawStream: 'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\ndata: {oops\n\n' });
    expect((await failure(() => collect(llm.chat([{ role: 'user', content: 'hi' }])))).message).toMatch(/sent a stream event that is not JSON: \{oops/);
  });
});

describe('health check', () => {
  it('lists the models with one cheap GET, and names a refused key', async () => {
    expect(await listOpenAiModels(createOpenAiClient(server()))).toContain('whisper-1');
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/models' });
    fake.next({ status: 401, body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } } });
    expect((await failure(() => listOpenAiModels(createOpenAiClient(server())))).message).toMatch(/OpenAI-compatible server .*\/v1\/models answered HTTP 401: Invalid API Key \(check the API key\)/);
  });
});

describe('configuration', () => {
  it('builds the engines from engines.openai, one preset per use, and says what is missing', async () => {
    const config = loadConfig({
      env: { PALABRE_ENGINES_OPENAI_PRESET: 'speaches', PALABRE_ENGINES_OPENAI_BASE_URL: fake.baseUrl, PALABRE_ENGINES_OPENAI_TTS_PRESET: 'kokoro', PALABRE_ENGINES_OPENAI_TTS_VOICES: 'en=am_michael', PALABRE_ENGINES_STT_ENGINE: 'openai', PALABRE_ENGINES_TTS_ENGINE: 'openai', PALABRE_ENGINES_OPENAI_TIMEOUT_MS: '60000', PALABRE_ENGINES_OPENAI_CONNECT_TIMEOUT_MS: '45000' },
    });
    const sttEngine = await createStt('openai', { openai: { config: config.engines.openai } });
    await sttEngine.transcribe(await fliteSpeech('yes'));
    expect(lastBody()).toMatchObject({ model: 'Systran/faster-whisper-small', response_format: 'verbose_json' });
    const ttsEngine = await createTts('openai', { config: config.engines.openai, language: 'en' });
    await collect(ttsEngine.synthesize('Hello.'));
    expect(lastBody()).toMatchObject({ model: 'kokoro', voice: 'am_michael', stream: true });

    const engines = await loadEngines(config, silentLogger, { kinds: ['stt', 'tts'], ttsEngines: ['openai'] });
    try {
      expect(engines.stt.get('openai')).toBeDefined();
      expect(engines.tts.get('openai')).toBeDefined();
      expect(engines.statuses.find((s) => s.kind === 'stt' && s.name === 'pocketsphinx')).toMatchObject({ loaded: false });
    } finally {
      await engines.close();
    }

    const unset = await loadEngines(loadConfig({ env: { PALABRE_ENGINES_STT_ENGINE: 'openai' } }), silentLogger, { kinds: ['stt', 'tts'], ttsEngines: ['openai'] });
    expect(unset.statuses.find((s) => s.kind === 'stt' && s.name === 'openai')?.reason).toMatch(/openai transcription server needs an API key: set engines\.openai\.apiKey \(PALABRE_ENGINES_OPENAI_API_KEY\)/);
    expect(unset.statuses.find((s) => s.kind === 'tts' && s.name === 'openai')?.reason).toMatch(/openai speech server needs an API key/);
    await unset.close();
    const ollama = loadConfig({ env: { PALABRE_ENGINES_OPENAI_PRESET: 'ollama' } });
    await expect(createStt('openai', { openai: { config: ollama.engines.openai } })).rejects.toThrow(/the ollama preset has no transcription endpoint; set engines\.openai\.stt\.preset \(PALABRE_ENGINES_OPENAI_STT_PRESET\) to one that has: generic, openai, groq, vllm, speaches/);
    const generic = loadConfig({ env: { PALABRE_ENGINES_OPENAI_PRESET: 'generic', PALABRE_ENGINES_OPENAI_BASE_URL: fake.baseUrl } });
    await expect(createStt('openai', { openai: { config: generic.engines.openai } })).rejects.toThrow(/no transcription model: the generic preset has no default, set engines\.openai\.stt\.model \(PALABRE_ENGINES_OPENAI_STT_MODEL\)/);
  });

  it('lets engines.llm take a preset for its URL, model and request fields', async () => {
    const groq = createLlmFromConfig(loadConfig({ env: { PALABRE_ENGINES_LLM_PRESET: 'groq', PALABRE_ENGINES_LLM_API_KEY: KEY } }))!;
    expect(groq.model).toBe('llama-3.3-70b-versatile');
    expect(() => createLlmFromConfig(loadConfig({ env: { PALABRE_ENGINES_LLM_PRESET: 'openai' } }))).toThrow(/needs an API key: set engines\.llm\.apiKey/);
    expect(() => createLlmFromConfig(loadConfig({ env: { PALABRE_ENGINES_LLM_PRESET: 'kokoro' } }))).toThrow(/serves no chat completions/);
    const ollama = createLlmFromConfig(loadConfig({ env: { PALABRE_ENGINES_LLM_PRESET: 'ollama', PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl, PALABRE_ENGINES_LLM_MODEL: 'llama3.2' } }))!;
    expect((await collect(ollama.chat([{ role: 'user', content: 'I worked as a baker' }]))).join('')).toMatch(/What did you learn/);
    expect(lastBody()).toMatchObject({ model: 'llama3.2', stream_options: { include_usage: true } });
    expect(() => loadConfig({ env: { PALABRE_ENGINES_OPENAI_PRESET: 'azure' } })).toThrow(/engines\.openai\.preset/);
  });
});
