/**
 * The ElevenLabs fake against the official client, @elevenlabs/elevenlabs-js: if the
 * client can stream from it, parse its timestamp chunks and its errors, and if the
 * client's own message schemas accept what its stream-input socket says, the fake
 * speaks ElevenLabs' protocol and the engine tests built on it mean something.
 * The audio is checked by ear too: PocketSphinx must hear the words.
 */
import { ElevenLabs, ElevenLabsClient, ElevenLabsError } from '@elevenlabs/elevenlabs-js';
import * as serialization from '@elevenlabs/elevenlabs-js/serialization/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeG711 } from '../src/audio/g711.js';
import { resample } from '../src/audio/resample.js';
import { decodeSlinLe } from '../src/audio/slin.js';
import { createStt } from '../src/engines/stt/index.js';
import type { Stt } from '../src/engines/stt/types.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import { FAKE_EN_VOICE, startFakeElevenLabs, type FakeElevenLabs } from './support/fake-elevenlabs.js';

const TEXT = 'Please call me back tomorrow afternoon. I would like to speak to a technician.';

let fake: FakeElevenLabs;
let client: ElevenLabsClient;
let stt: Stt;

beforeAll(async () => {
  fake = await startFakeElevenLabs();
  // No retries: a 429 or 500 must reach the test, not be retried away.
  client = new ElevenLabsClient({ apiKey: fake.apiKey, baseUrl: fake.baseUrl, maxRetries: 0 });
  stt = await createStt('pocketsphinx');
});
afterAll(async () => {
  await fake?.close();
  await stt?.close();
});

async function readAll(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; chunks: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) parts.push(c);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

async function heard(samples: Int16Array, rate: number): Promise<string> {
  const audio = await resample({ samples, sampleRate: rate }, 16_000);
  return (await stt.transcribe(audio, { language: 'en' })).text;
}

function expectWords(said: string, text: string, maxWer: number): void {
  const wer = wordErrorRate(text.toLowerCase().replace(/[^a-z ]/g, ''), said);
  expect(wer, `heard "${said}"`).toBeLessThanOrEqual(maxWer);
}

describe('fake ElevenLabs through the official client', () => {
  it('streams PCM 16 kHz speech (textToSpeech.stream) that PocketSphinx understands', async () => {
    const stream = await client.textToSpeech.stream(FAKE_EN_VOICE, {
      text: TEXT,
      modelId: 'eleven_flash_v2_5',
      outputFormat: 'pcm_16000',
      voiceSettings: { stability: 0.4, similarityBoost: 0.75, style: 0.2, useSpeakerBoost: true, speed: 1.05 },
      previousText: 'Hello.',
    });
    const { bytes, chunks } = await readAll(stream);
    expect(chunks).toBeGreaterThan(3);
    expect(bytes.length % 2).toBe(0);
    const samples = decodeSlinLe(bytes);
    expect(samples.length / 16_000).toBeGreaterThan(3);
    expectWords(await heard(samples, 16_000), TEXT, 0.3);
    const req = fake.requests.at(-1)!;
    expect(req).toMatchObject({ endpoint: 'stream', voiceId: FAKE_EN_VOICE, query: { output_format: 'pcm_16000' }, outcome: 'ok' });
    expect(req.headers['xi-api-key']).toBe(fake.apiKey);
    // The client's camelCase became the API's snake_case on the wire.
    expect(req.body).toEqual({
      text: TEXT,
      model_id: 'eleven_flash_v2_5',
      voice_settings: { stability: 0.4, similarity_boost: 0.75, style: 0.2, use_speaker_boost: true, speed: 1.05 },
      previous_text: 'Hello.',
    });
  });

  it('streams µ-law 8 kHz with character timestamps (textToSpeech.streamWithTimestamps)', async () => {
    const stream = await client.textToSpeech.streamWithTimestamps(FAKE_EN_VOICE, { text: TEXT, outputFormat: 'ulaw_8000', modelId: 'eleven_flash_v2_5' });
    const audio: Buffer[] = [];
    const chars: string[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for await (const chunk of stream) {
      audio.push(Buffer.from(chunk.audioBase64, 'base64'));
      if (chunk.alignment) {
        chars.push(...chunk.alignment.characters);
        starts.push(...chunk.alignment.characterStartTimesSeconds);
        ends.push(...chunk.alignment.characterEndTimesSeconds);
      }
    }
    expect(audio.length).toBeGreaterThan(3);
    const bytes = Buffer.concat(audio);
    const seconds = bytes.length / 8000;
    // Every character of the text, once, in order; times never go back and stay within the audio.
    expect(chars.join('')).toBe(TEXT);
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThanOrEqual(starts[i - 1]);
    for (let i = 0; i < starts.length; i++) expect(ends[i]).toBeGreaterThanOrEqual(starts[i]);
    expect(ends.at(-1)!).toBeLessThanOrEqual(seconds + 0.001);
    expect(ends.at(-1)!).toBeGreaterThan(seconds * 0.7);
    // The second sentence starts after the first one's audio: near the middle, not at 0.
    const second = TEXT.indexOf('I would');
    expect(starts[second]).toBeGreaterThan(seconds * 0.3);
    expectWords(await heard(decodeG711('ulaw', bytes), 8000), TEXT, 0.45);
  });

  it('answers convert and convertWithTimestamps whole', async () => {
    const { bytes } = await readAll(await client.textToSpeech.convert(FAKE_EN_VOICE, { text: 'Hello world.', outputFormat: 'pcm_22050' }));
    expect(bytes.length / 2 / 22050).toBeGreaterThan(0.5);
    const whole = await client.textToSpeech.convertWithTimestamps(FAKE_EN_VOICE, { text: 'Hello world.', outputFormat: 'pcm_16000' });
    expect(whole.alignment?.characters.join('')).toBe('Hello world.');
    expect(Buffer.from(whole.audioBase64, 'base64').length / 2 / 16000).toBeGreaterThan(0.5);
  });

  it('answers voices.get (what `palabre doctor` asks) with the voice, and 404 for an unknown one', async () => {
    const voice = await client.voices.get(FAKE_EN_VOICE);
    expect(voice.voiceId).toBe(FAKE_EN_VOICE);
    expect(voice.name).toBeTruthy();
    const err = await client.voices.get('no-such-voice').catch((e: unknown) => e);
    expect((err as ElevenLabsError).statusCode).toBe(404);
  });

  it('refuses a wrong key with 401 {detail: {status: invalid_api_key}}', async () => {
    const wrong = new ElevenLabsClient({ apiKey: 'sk_wrong', baseUrl: fake.baseUrl, maxRetries: 0 });
    const err = await wrong.textToSpeech.stream(FAKE_EN_VOICE, { text: 'Hello.', outputFormat: 'pcm_16000' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ElevenLabsError);
    expect((err as ElevenLabsError).statusCode).toBe(401);
    expect((err as ElevenLabsError).body).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  });

  it('answers bad voice settings with 422 in FastAPI shape (UnprocessableEntityError)', async () => {
    const err = await client.textToSpeech.stream(FAKE_EN_VOICE, { text: 'Hello.', outputFormat: 'pcm_16000', voiceSettings: { speed: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ElevenLabs.UnprocessableEntityError);
    expect((err as ElevenLabsError).body).toMatchObject({ detail: [{ loc: ['body', 'voice_settings', 'speed'], type: 'less_than_equal' }] });
  });

  it('passes injected 429 and 500 answers with their error bodies', async () => {
    fake.next({ status: 429 }, { status: 500 });
    for (const status of [429, 500]) {
      const err = await client.textToSpeech.stream(FAKE_EN_VOICE, { text: 'Hello.', outputFormat: 'pcm_16000' }).catch((e: unknown) => e);
      expect((err as ElevenLabsError).statusCode).toBe(status);
      expect((err as ElevenLabsError).body).toMatchObject({ detail: { status: status === 429 ? 'too_many_concurrent_requests' : 'internal_server_error' } });
    }
  });

  it('speaks stream-input: messages built and parsed with the client schemas', async () => {
    const url = `${fake.baseUrl.replace('http', 'ws')}/v1/text-to-speech/${FAKE_EN_VOICE}/stream-input?model_id=eleven_flash_v2_5&output_format=pcm_16000`;
    const ws = new WebSocket(url);
    const received: unknown[] = [];
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (data) => received.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    // The key goes in the first message here (no header), as the API allows.
    const send = (m: unknown) => ws.send(JSON.stringify(m));
    send(serialization.InitializeConnection.jsonOrThrow({ text: ' ', voiceSettings: { stability: 0.5, similarityBoost: 0.75, speed: 1 }, generationConfig: { chunkLengthSchedule: [50, 120] }, xiApiKey: fake.apiKey }));
    const pieces = ['Please call me back ', 'tomorrow afternoon. ', 'I would like to speak to a technician. '];
    send(serialization.SendText.jsonOrThrow({ text: pieces[0] }));
    send(serialization.SendText.jsonOrThrow({ text: pieces[1], flush: true }));
    send(serialization.SendText.jsonOrThrow({ text: pieces[2], tryTriggerGeneration: true }));
    send(serialization.CloseConnection.jsonOrThrow({ text: '' }));
    expect(await closed).toBe(1000);

    const last = received.pop();
    expect(serialization.FinalOutput.parseOrThrow(last)).toEqual({ isFinal: true });
    const audio: Buffer[] = [];
    const chars: string[] = [];
    for (const raw of received) {
      const msg: ElevenLabs.AudioOutput = serialization.AudioOutput.parseOrThrow(raw);
      const bytes = Buffer.from(msg.audio, 'base64');
      audio.push(bytes);
      const a = msg.alignment!;
      chars.push(...a.chars!);
      const chunkMs = (bytes.length / 2 / 16000) * 1000;
      // Times are relative to this message's own audio: each character starts within it.
      for (let i = 0; i < a.chars!.length; i++) expect(a.charStartTimesMs![i]).toBeLessThanOrEqual(chunkMs + 1);
    }
    expect(chars.join('').trim()).toBe(pieces.join('').trim());
    expectWords(await heard(decodeSlinLe(Buffer.concat(audio)), 16_000), TEXT, 0.3);
    const req = fake.requests.at(-1)!;
    expect(req).toMatchObject({ transport: 'websocket', endpoint: 'stream-input', query: { model_id: 'eleven_flash_v2_5', output_format: 'pcm_16000' }, outcome: 'ok' });
    expect(req.messages[0]).toMatchObject({ text: ' ', 'xi-api-key': fake.apiKey, generation_config: { chunk_length_schedule: [50, 120] } });
    expect(req.messages[2]).toEqual({ text: pieces[1], flush: true });
  });

  it('closes stream-input with 1008 and a reason for a wrong key', async () => {
    const url = `${fake.baseUrl.replace('http', 'ws')}/v1/text-to-speech/${FAKE_EN_VOICE}/stream-input?output_format=ulaw_8000`;
    const ws = new WebSocket(url, { headers: { 'xi-api-key': 'sk_wrong' } });
    const [code, reason] = await new Promise<[number, string]>((resolve) => ws.on('close', (c, r) => resolve([c, r.toString()])));
    expect(code).toBe(1008);
    expect(reason).toBe('Invalid API key');
  });
});
