/**
 * The Deepgram fake must speak Deepgram's protocol, or the engine tests prove
 * nothing: here the official client (@deepgram/sdk v5) is pointed at it
 * (`baseUrl`) for a pre-recorded transcription and a live stream, and what
 * the SDK parses must be what Deepgram's API reference describes. The
 * transcripts come from PocketSphinx hearing flite's speech inside the fake.
 */
import { DeepgramClient, DeepgramError } from '@deepgram/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PIPELINE_RATE, type AudioChunk } from '../src/audio/frame.js';
import { encodeSlinLe } from '../src/audio/slin.js';
import { encodeWav } from '../src/audio/wav.js';
import { createPocketSphinx, type PocketSphinxStt } from '../src/engines/stt/pocketsphinx.js';
import { cleanupSpeech, fliteSpeech } from '../src/engines/stt/test-support.js';
import { normalizedEditDistance } from '../src/engines/stt/wer.js';
import { scriptLines, startFakeDeepgram, type FakeDeepgram } from './support/fake-deepgram.js';

const SENTENCE = 'i would like to speak to an agent please';
const KEY = 'dg-test-key';
let stt: PocketSphinxStt;
let fake: FakeDeepgram;
let speech: AudioChunk;

beforeAll(async () => {
  stt = await createPocketSphinx({ poolSize: 1 });
  fake = await startFakeDeepgram({ apiKey: KEY, stt });
  speech = await fliteSpeech(SENTENCE);
});
afterAll(async () => {
  await fake?.close();
  await stt?.close();
  cleanupSpeech();
});

const silence = (ms: number): Int16Array => new Int16Array(Math.round((PIPELINE_RATE * ms) / 1000));
const until = async (cond: () => boolean, what: string, ms = 90_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('the Deepgram fake, read by @deepgram/sdk', { timeout: 180_000 }, () => {
  it('pre-recorded: transcribeFile gets metadata and words for real speech', async () => {
    const client = new DeepgramClient({ apiKey: KEY, baseUrl: fake.baseUrl });
    const res = await client.listen.v1.media.transcribeFile(Buffer.from(encodeWav(speech)), { model: 'nova-3', smart_format: true });
    if (!('results' in res)) throw new Error('expected a synchronous transcription, not an accepted callback');
    const alt = res.results.channels[0].alternatives![0];
    expect(normalizedEditDistance(SENTENCE, alt.transcript!)).toBeLessThanOrEqual(0.25);
    expect(alt.transcript).toMatch(/^[A-Z].*\.$/);
    expect(alt.words!.length).toBeGreaterThan(4);
    for (const w of alt.words!) expect(w.end!).toBeGreaterThan(w.start!);
    expect(res.metadata.duration).toBeCloseTo(speech.samples.length / PIPELINE_RATE, 2);
    expect(res.metadata.channels).toBe(1);
    expect(res.metadata.models).toHaveLength(1);
    expect(fake.rest.at(-1)!.headers.authorization).toBe(`Token ${KEY}`);
    expect(fake.rest.at(-1)!.query.get('smart_format')).toBe('true');
  });

  it('manage: projects.list (what `palabre doctor` asks) with the key, and 401 without it', async () => {
    const res = await new DeepgramClient({ apiKey: KEY, baseUrl: fake.baseUrl }).manage.v1.projects.list();
    expect(res.projects?.[0]?.project_id).toBeTruthy();
    const err = await new DeepgramClient({ apiKey: 'nope', baseUrl: fake.baseUrl }).manage.v1.projects.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeepgramError);
    expect((err as DeepgramError).statusCode).toBe(401);
  });

  it('pre-recorded: raw linear16 named by encoding and sample_rate', async () => {
    const client = new DeepgramClient({ apiKey: KEY, baseUrl: fake.baseUrl });
    const res = await client.listen.v1.media.transcribeFile(Buffer.from(encodeSlinLe(speech.samples)), { model: 'nova-2', encoding: 'linear16' }, { queryParams: { sample_rate: 16000 } });
    if (!('results' in res)) throw new Error('expected a transcription');
    expect(normalizedEditDistance(SENTENCE, res.results.channels[0].alternatives![0].transcript!)).toBeLessThanOrEqual(0.25);
  });

  it('pre-recorded: a wrong key, a 429 and a bad parameter reach the SDK as DeepgramErrors with Deepgram\'s body', async () => {
    const wrong = new DeepgramClient({ apiKey: 'nope', baseUrl: fake.baseUrl });
    const e401 = await wrong.listen.v1.media.transcribeFile(Buffer.from(encodeWav(speech)), { model: 'nova-3' }, { maxRetries: 0 }).catch((e: unknown) => e);
    expect(e401).toBeInstanceOf(DeepgramError);
    expect((e401 as DeepgramError).statusCode).toBe(401);
    expect((e401 as DeepgramError).body).toMatchObject({ err_code: 'INVALID_AUTH', request_id: expect.any(String) });

    const client = new DeepgramClient({ apiKey: KEY, baseUrl: fake.baseUrl });
    fake.nextRest({ status: 429 });
    const e429 = await client.listen.v1.media.transcribeFile(Buffer.from(encodeWav(speech)), { model: 'nova-3' }, { maxRetries: 0 }).catch((e: unknown) => e);
    expect((e429 as DeepgramError).statusCode).toBe(429);
    expect((e429 as DeepgramError).body).toMatchObject({ err_code: 'TOO_MANY_REQUESTS' });

    const e400 = await client.listen.v1.media.transcribeFile(Buffer.from(encodeWav(speech)), { model: 'nova-3', keywords: 'agent' }, { maxRetries: 0 }).catch((e: unknown) => e);
    expect((e400 as DeepgramError).statusCode).toBe(400);
    expect(JSON.stringify((e400 as DeepgramError).body)).toMatch(/keyterm/);
  });

  it('live: interim and final Results, SpeechStarted, UtteranceEnd, from_finalize and Metadata, as the SDK types them', async () => {
    const client = new DeepgramClient({ apiKey: KEY, baseUrl: fake.baseUrl });
    const socket = await client.listen.v1.connect({
      model: 'nova-3',
      language: 'en',
      encoding: 'linear16',
      sample_rate: 16000,
      interim_results: 'true',
      vad_events: 'true',
      endpointing: 300,
      utterance_end_ms: 1000,
      reconnectAttempts: 0,
    });
    const messages: Array<Record<string, unknown>> = [];
    let closed: { code?: number } | undefined;
    socket.on('message', (m) => messages.push(m as unknown as Record<string, unknown>));
    socket.on('close', (e) => (closed = e as { code?: number }));
    socket.connect();
    await socket.waitForOpen();
    const audio = new Int16Array([...silence(300), ...speech.samples, ...silence(1600), ...speech.samples.subarray(0, 8000)]);
    for (let i = 0; i < audio.length; i += 320) socket.sendMedia(Buffer.from(encodeSlinLe(audio.subarray(i, i + 320))));
    socket.sendFinalize({ type: 'Finalize' });
    await until(() => messages.some((m) => m.type === 'Results' && m.from_finalize === true), 'the Finalize answer');
    socket.sendCloseStream({ type: 'CloseStream' });
    await until(() => messages.some((m) => m.type === 'Metadata') && closed !== undefined, 'Metadata and the close');

    const results = messages.filter((m) => m.type === 'Results') as Array<{ is_final: boolean; speech_final: boolean; start: number; duration: number; channel: { alternatives: Array<{ transcript: string; words: unknown[] }> } }>;
    expect(results.some((r) => !r.is_final && r.channel.alternatives[0].transcript !== '')).toBe(true);
    const endpointed = results.find((r) => r.is_final && r.speech_final);
    expect(endpointed).toBeDefined();
    expect(normalizedEditDistance(SENTENCE, endpointed!.channel.alternatives[0].transcript)).toBeLessThanOrEqual(0.25);
    expect(endpointed!.channel.alternatives[0].words.length).toBeGreaterThan(4);
    const speechStarted = messages.filter((m) => m.type === 'SpeechStarted') as Array<{ timestamp: number; channel: number[] }>;
    expect(speechStarted.length).toBeGreaterThanOrEqual(2);
    expect(speechStarted[0].timestamp).toBeGreaterThanOrEqual(0.2);
    expect(messages.find((m) => m.type === 'UtteranceEnd')).toMatchObject({ channel: [0, 1], last_word_end: expect.any(Number) });
    expect(messages.find((m) => m.type === 'Metadata')).toMatchObject({ request_id: expect.any(String), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), channels: 1 });
    expect((messages.find((m) => m.type === 'Metadata') as { duration: number }).duration).toBeCloseTo(audio.length / PIPELINE_RATE, 2);
    // Finals tile the stream: each starts where the previous ended.
    const finals = results.filter((r) => r.is_final);
    for (let i = 1; i < finals.length; i++) expect(finals[i].start).toBeCloseTo(finals[i - 1].start + finals[i - 1].duration, 2);
    expect(closed?.code).toBe(1000);
    expect(fake.live.at(-1)!.controls).toEqual(['Finalize', 'CloseStream']);
    expect(fake.live.at(-1)!.auth).toBe('header');
  });

  it('live: a wrong key is refused at the handshake with 401 and dg-error', async () => {
    const ws = new WebSocket(`${fake.baseUrl.replace('http', 'ws')}/v1/listen?model=nova-3&encoding=linear16&sample_rate=16000`, { headers: { Authorization: 'Token wrong' } });
    const res = await new Promise<{ status?: number; error?: string | string[] }>((resolve) => {
      ws.on('unexpected-response', (_req, r) => resolve({ status: r.statusCode, error: r.headers['dg-error'] }));
      ws.on('error', () => undefined);
    });
    expect(res).toEqual({ status: 401, error: 'Invalid credentials.' });
    ws.terminate();
  });

  it('live: the browser `token` subprotocol authenticates too, and 10 s of nothing closes with 1011 NET-0001', async () => {
    const quiet = await startFakeDeepgram({ apiKey: KEY, script: scriptLines([]), netTimeoutMs: 300 });
    try {
      const ws = new WebSocket(`${quiet.baseUrl.replace('http', 'ws')}/v1/listen?model=nova-3&encoding=mulaw&sample_rate=8000`, ['token', KEY]);
      await new Promise((resolve, reject) => {
        ws.on('open', resolve);
        ws.on('error', reject);
      });
      expect(ws.protocol).toBe('token');
      const close = await new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      expect(close).toEqual({ code: 1011, reason: 'NET-0001' });
      expect(quiet.live[0].auth).toBe('subprotocol');
    } finally {
      await quiet.close();
    }
  });

  it('live: KeepAlive holds a silent stream open past the idle timeout', async () => {
    const quiet = await startFakeDeepgram({ apiKey: KEY, script: scriptLines([]), netTimeoutMs: 300 });
    try {
      const client = new DeepgramClient({ apiKey: KEY, baseUrl: quiet.baseUrl });
      const socket = await client.listen.v1.connect({ model: 'nova-3', encoding: 'mulaw', sample_rate: 8000, reconnectAttempts: 0 });
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.connect();
      await socket.waitForOpen();
      for (let i = 0; i < 8; i++) {
        socket.sendKeepAlive({ type: 'KeepAlive' });
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(closed).toBe(false);
      expect(quiet.live[0].controls.filter((c) => c === 'KeepAlive')).toHaveLength(8);
      socket.close();
    } finally {
      await quiet.close();
    }
  });
});
