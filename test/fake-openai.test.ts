/**
 * The OpenAI fake (test/support/fake-openai.ts), read by the official
 * `openai` npm client: if the client understands every endpoint, streamed
 * event and error the fake produces, the engines tested against the fake
 * speak the real wire protocol. Audio is real both ways: flite speech is
 * uploaded for transcription (the fake runs PocketSphinx on it), and the
 * fake's synthesised speech is recognised here by PocketSphinx.
 */
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AudioChunk } from '../src/audio/frame.js';
import { decodeAudio } from '../src/audio/decode.js';
import { resample } from '../src/audio/resample.js';
import { decodeSlinLe } from '../src/audio/slin.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { createStt } from '../src/engines/stt/index.js';
import { cleanupSpeech, fliteSpeech } from '../src/engines/stt/test-support.js';
import type { Stt } from '../src/engines/stt/types.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import { coachBrain, fakeEmbedding, type FakeOpenAi, pieces, startFakeOpenAi } from './support/fake-openai.js';

const KEY = 'sk-test-fake-key-123456';
const SENTENCE = 'i would like to speak to an agent please';
const MESSAGES = [
  { role: 'system' as const, content: 'You are a recruiter.' },
  { role: 'user' as const, content: 'I worked five years as a baker' },
];

let fake: FakeOpenAi;
let client: OpenAI;
let stt: Stt;

beforeAll(async () => {
  fake = await startFakeOpenAi({ apiKey: KEY });
  client = new OpenAI({ baseURL: fake.baseUrl, apiKey: KEY, maxRetries: 0 });
  stt = await createStt('pocketsphinx', { pocketsphinx: { poolSize: 1 } });
});
afterAll(async () => {
  await fake.close();
  await stt.close();
  cleanupSpeech();
});

/** PocketSphinx's hearing of 24 kHz speech. */
async function hear(audio: AudioChunk): Promise<string> {
  return (await stt.transcribe(await resample(audio, 16_000), { language: 'en' })).text;
}

describe('chat completions', () => {
  it('streams chat.completion.chunk deltas the client reassembles, with usage last when asked', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true, stream_options: { include_usage: true } });
    const deltas: string[] = [];
    let finish: string | null = null;
    let usage: unknown;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice?.delta.content) deltas.push(choice.delta.content);
      if (choice?.finish_reason) finish = choice.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(deltas).toEqual(pieces(coachBrain(MESSAGES)));
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ completion_tokens: deltas.length });
    expect(fake.requests.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('answers one chat.completion when not streaming', async () => {
    const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES });
    expect(whole.object).toBe('chat.completion');
    expect(whole.choices[0].message.content).toBe(coachBrain(MESSAGES));
    expect(whole.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('fills a strict json_schema the client parses, and refuses a schema strict mode cannot take', async () => {
    const Lead = z.object({ intent: z.enum(['callback', 'quote', 'none']), confidence: z.number(), notes: z.array(z.string()) });
    const schema = z.toJSONSchema(Lead);
    const done = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'please call me back, I want a callback' }],
      response_format: { type: 'json_schema', json_schema: { name: 'lead', strict: true, schema } },
    });
    expect(Lead.parse(JSON.parse(done.choices[0].message.content ?? ''))).toMatchObject({ intent: 'callback' });

    const loose = { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: MESSAGES, response_format: { type: 'json_schema', json_schema: { name: 'x', strict: true, schema: loose } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/Invalid schema for response_format 'x'.*Missing 'b'/);

    const noJson = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, response_format: { type: 'json_object' } }).catch((e: unknown) => e);
    expect((noJson as Error).message).toMatch(/must contain the word 'json'/);
  });

  it('streams tool calls as deltas that the client helper assembles, and takes the tool results back', async () => {
    const tools = [
      { type: 'function' as const, function: { name: 'book_callback', description: 'Book a call back', parameters: { type: 'object', properties: { day: { type: 'string', enum: ['monday', 'tuesday'] }, phone: { type: 'string' } }, required: ['day', 'phone'], additionalProperties: false } } },
      { type: 'function' as const, function: { name: 'save_ticket', parameters: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] } } },
    ];
    const messages = [{ role: 'user' as const, content: 'book callback on tuesday and save ticket please' }];
    const runner = client.chat.completions.stream({ model: 'gpt-4o-mini', messages, tools });
    const final = await runner.finalChatCompletion();
    const calls = final.choices[0].message.tool_calls ?? [];
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    expect(calls.map((c) => (c.type === 'function' ? c.function.name : ''))).toEqual(['book_callback', 'save_ticket']);
    const first = calls[0].type === 'function' ? calls[0] : undefined;
    expect(JSON.parse(first!.function.arguments)).toMatchObject({ day: 'tuesday' });

    const back = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [...messages, final.choices[0].message, ...calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: 'done' }))],
      tools,
      parallel_tool_calls: false,
    });
    expect(back.choices[0].finish_reason).toBe('tool_calls');
    expect(back.choices[0].message.tool_calls).toHaveLength(1);
    const orphan = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] }).catch((e: unknown) => e);
    expect((orphan as Error).message).toMatch(/role 'tool' must be a response to a preceeding message with 'tool_calls'/);
  });
});

describe('embeddings', () => {
  it('answers floats or base64 float32 (the client default), in input order, with dimensions', async () => {
    const texts = ['my internet is down', 'I want to cancel my subscription'];
    const decoded = await client.embeddings.create({ model: 'text-embedding-3-small', input: texts });
    expect(fake.requests.at(-1)?.body).toMatchObject({ encoding_format: 'base64' });
    expect(decoded.data.map((d) => d.index)).toEqual([0, 1]);
    for (const [i, d] of decoded.data.entries()) {
      const expected = fakeEmbedding(texts[i]);
      expect(d.embedding).toHaveLength(expected.length);
      d.embedding.forEach((x, k) => expect(x).toBeCloseTo(expected[k], 6));
    }
    const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', encoding_format: 'float', dimensions: 32 });
    expect(floats.data[0].embedding).toHaveLength(32);
    expect(floats.usage.total_tokens).toBe(1);
  });
});

describe('audio transcriptions', () => {
  it('transcribes uploaded flite speech with PocketSphinx: json, text, and verbose_json with segment and word times', async () => {
    const speech = await fliteSpeech(SENTENCE);
    const file = () => toFile(Buffer.from(encodeWav(speech)), 'speech.wav', { type: 'audio/wav' });
    const json = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1' });
    expect(wordErrorRate(SENTENCE, json.text)).toBeLessThanOrEqual(0.2);
    const text = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'text' });
    expect(text.trim()).toBe(json.text);

    const verbose = await client.audio.transcriptions.create({ file: await file(), model: 'whisper-1', response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'] });
    const sent = fake.requests.at(-1)!.body as Record<string, unknown>;
    expect(sent['timestamp_granularities[]']).toEqual(['word', 'segment']);
    expect(sent.file).toMatchObject({ filename: 'speech.wav', type: 'audio/wav' });
    const seconds = speech.samples.length / speech.sampleRate;
    expect(verbose.duration).toBeCloseTo(seconds, 1);
    expect(verbose.language).toBe('english');
    expect(verbose.segments?.length).toBeGreaterThan(0);
    const words = verbose.words ?? [];
    expect(words.map((w) => w.word).join(' ')).toBe(json.text);
    for (const [i, w] of words.entries()) {
      expect(w.end).toBeGreaterThan(w.start);
      expect(w.end).toBeLessThanOrEqual(seconds + 0.05);
      if (i > 0) expect(w.start).toBeGreaterThanOrEqual(words[i - 1].end - 0.01);
    }
  });

  it('streams transcript.text events when asked, and refuses what is not audio', async () => {
    const speech = await fliteSpeech('the quick brown fox jumps over the lazy dog');
    const stream = await client.audio.transcriptions.create({ file: await toFile(Buffer.from(encodeWav(speech)), 'a.wav'), model: 'gpt-4o-mini-transcribe', stream: true });
    const deltas: string[] = [];
    let done = '';
    for await (const event of stream) {
      if (event.type === 'transcript.text.delta') deltas.push(event.delta);
      if (event.type === 'transcript.text.done') done = event.text;
    }
    expect(deltas.join('')).toBe(done);
    expect(wordErrorRate('the quick brown fox jumps over the lazy dog', done)).toBeLessThanOrEqual(0.3);
    const err = await client.audio.transcriptions.create({ file: await toFile(Buffer.from('not audio at all'), 'a.wav'), model: 'whisper-1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/Audio file might be corrupted or unsupported/);
  });
});

describe('audio speech', () => {
  it('streams pcm (24 kHz s16le) in pieces that PocketSphinx understands', async () => {
    const input = 'Please call me back tomorrow afternoon. I would like to speak to a technician.';
    const response = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input, response_format: 'pcm' });
    expect(response.headers.get('content-type')).toBe('audio/pcm');
    const parts: Uint8Array[] = [];
    for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) parts.push(part);
    expect(parts.length).toBeGreaterThan(3);
    const bytes = Buffer.concat(parts);
    const audio = { samples: decodeSlinLe(bytes), sampleRate: 24_000 };
    expect(audio.samples.length / 24_000).toBeGreaterThan(3);
    expect(wordErrorRate(input, await hear(audio))).toBeLessThanOrEqual(0.3);
  });

  it('answers wav and mp3 that decode to the same speech, and SSE audio deltas', async () => {
    const input = 'i want to cancel my subscription';
    const wav = decodeWav(new Uint8Array(await (await client.audio.speech.create({ model: 'tts-1', voice: 'echo', input, response_format: 'wav' })).arrayBuffer()));
    expect(wav.sampleRate).toBe(24_000);
    expect(wordErrorRate(input, await hear({ samples: wav.samples, sampleRate: 24_000 }))).toBeLessThanOrEqual(0.3);
    const mp3 = await decodeAudio(new Uint8Array(await (await client.audio.speech.create({ model: 'tts-1', voice: 'nova', input })).arrayBuffer()), { ffmpegPath: 'ffmpeg' });
    expect(mp3.samples.length / mp3.sampleRate).toBeGreaterThan(1);
    expect(wordErrorRate(input, await hear(mp3))).toBeLessThanOrEqual(0.3);

    const sse = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input, response_format: 'pcm', stream_format: 'sse' });
    const text = await sse.text();
    const events = text.split('\n\n').filter(Boolean).map((e) => JSON.parse(e.replace(/^data: /, '')) as { type: string; audio?: string });
    expect(events.at(-1)?.type).toBe('speech.audio.done');
    const audio = Buffer.concat(events.filter((e) => e.type === 'speech.audio.delta').map((e) => Buffer.from(e.audio!, 'base64')));
    expect(audio.length / 2 / 24_000).toBeGreaterThan(1);
  });

  it('refuses an unknown voice and an over-long input as OpenAI does', async () => {
    const voice = await client.audio.speech.create({ model: 'tts-1', voice: 'robot' as 'alloy', input: 'hi' }).catch((e: unknown) => e);
    expect(voice).toBeInstanceOf(OpenAI.BadRequestError);
    expect((voice as Error).message).toMatch(/Invalid value: 'robot'/);
    const long = await client.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'a'.repeat(4097) }).catch((e: unknown) => e);
    expect((long as Error).message).toMatch(/string too long/);
  });
});

describe('models', () => {
  it('lists and retrieves models, and says which does not exist', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toContain('whisper-1');
    expect((await client.models.retrieve('whisper-1')).owned_by).toBe('palabre-fake');
    await expect(client.models.retrieve('nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('faults', () => {
  it('401 for a wrong key, without echoing it', async () => {
    const wrong = new OpenAI({ baseURL: fake.baseUrl, apiKey: 'sk-wrong-key-99999999', maxRetries: 0 });
    const err = await wrong.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as Error).message).toMatch(/Incorrect API key provided: sk-\*+9999/);
    expect((err as Error).message).not.toContain('sk-wrong-key-99999999');
  });

  it('429 with retry-after, and 500, as the client classes them', async () => {
    fake.next({ status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', code: 'rate_limit_exceeded' } } });
    const limited = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.RateLimitError>;
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited.headers?.get('retry-after')).toBe('2');
    fake.next({ status: 500, body: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } } });
    await expect(client.embeddings.create({ model: 'm', input: 'x' })).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });

  it('a malformed event and a stream cut mid-way fail the client after what did arrive', async () => {
    fake.next({ rawStream: 'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: {not json\n\n' });
    const got: string[] = [];
    const bad = async () => {
      for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true })) got.push(c.choices[0]?.delta.content ?? '');
    };
    await expect(bad()).rejects.toThrow();
    expect(got).toEqual(['Hi']);

    fake.next({ cutAfter: 2 });
    const cut: string[] = [];
    const broken = async () => {
      for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES, stream: true })) if (c.choices[0]?.delta.content) cut.push(c.choices[0].delta.content);
    };
    await expect(broken()).rejects.toThrow();
    expect(cut).toEqual(pieces(coachBrain(MESSAGES)).slice(0, 2));
  });

  it('a slow first byte runs into the client timeout', async () => {
    fake.next({ delayMs: 1500 });
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }, { timeout: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });
});
