/**
 * The Realtime fake (test/support/fake-openai-realtime.ts), driven by the
 * official `openai` client's Realtime WebSocket (OpenAIRealtimeWS, which
 * always connects over wss: the fake serves TLS with a throw-away
 * certificate here). If the client's typed events and errors match what the
 * fake sends, the session tested against the fake speaks the real protocol.
 * Audio is real both ways: flite speech goes in, the fake's VAD and
 * PocketSphinx hear it, and its spoken answer is recognised here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { RealtimeClientEvent as OfficialClientEvent, RealtimeServerEvent } from 'openai/resources/realtime/realtime';
import type { RealtimeClientEvent } from '../src/engines/realtime/protocol.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resample } from '../src/audio/resample.js';
import { decodeSlinLe, encodeSlinLe } from '../src/audio/slin.js';
import { createStt } from '../src/engines/stt/index.js';
import { cleanupSpeech, fliteSpeech } from '../src/engines/stt/test-support.js';
import type { Stt } from '../src/engines/stt/types.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import { type FakeRealtime, startFakeRealtime } from './support/fake-openai-realtime.js';

const KEY = 'sk-test-realtime-0123456789';
const SENTENCE = 'i would like to speak to an agent please';

let fake: FakeRealtime;
let client: OpenAI;
let stt: Stt;
let certDir: string;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'palabre-rt-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' });
  const tls = { key: readFileSync(join(certDir, 'key.pem'), 'utf8'), cert: readFileSync(join(certDir, 'cert.pem'), 'utf8') };
  fake = await startFakeRealtime({ apiKey: KEY, tls, reply: (c) => (c.heard !== undefined ? 'Please hold the line' : 'Good morning and welcome to the help desk') });
  client = new OpenAI({ apiKey: KEY, baseURL: fake.baseURL });
  stt = await createStt('pocketsphinx', { pocketsphinx: { poolSize: 1 } });
}, 60_000);
afterAll(async () => {
  await fake?.close();
  await stt?.close();
  cleanupSpeech();
  rmSync(certDir, { recursive: true, force: true });
});

function open(apiKey = KEY): OpenAIRealtimeWS {
  const c = apiKey === KEY ? client : new OpenAI({ apiKey, baseURL: fake.baseURL });
  return new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { rejectUnauthorized: false } }, c);
}

/** Every event of the connection, and a wait for the first of a type (after those already seen). */
function collect(rt: OpenAIRealtimeWS) {
  const events: RealtimeServerEvent[] = [];
  const waiters: Array<() => void> = [];
  rt.on('event', (e) => {
    events.push(e);
    for (const w of [...waiters]) w();
  });
  const next = <T extends RealtimeServerEvent['type']>(type: T, from = 0, timeoutMs = 30_000): Promise<Extract<RealtimeServerEvent, { type: T }>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = events.slice(from).find((e) => e.type === type);
        if (!found) return;
        waiters.splice(waiters.indexOf(check), 1);
        clearTimeout(timer);
        resolve(found as Extract<RealtimeServerEvent, { type: T }>);
      };
      const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms; got ${events.map((e) => e.type).join(', ')}`)), timeoutMs);
      waiters.push(check);
      check();
    });
  return { events, next };
}

async function callerAudio24k(text: string): Promise<Int16Array> {
  const speech = await fliteSpeech(text);
  const padded = new Int16Array(speech.samples.length + 16_000 * 1.5);
  padded.set(speech.samples, 8000);
  return (await resample({ samples: padded, sampleRate: 16_000 }, 24_000)).samples;
}

function appendAll(rt: OpenAIRealtimeWS, samples: Int16Array): void {
  for (let at = 0; at < samples.length; at += 480) rt.send({ type: 'input_audio_buffer.append', audio: Buffer.from(encodeSlinLe(samples.subarray(at, at + 480))).toString('base64') });
}

describe('fake OpenAI Realtime, read by the official client', () => {
  it('refuses a wrong key at the upgrade', async () => {
    const rt = open('sk-wrong');
    const err = await new Promise<Error>((resolve) => rt.on('error', resolve));
    expect(err.message).toMatch(/401/);
  });

  it('configures the session, hears the caller with VAD and PocketSphinx, and answers in speech with usage', async () => {
    const rt = open();
    const { events, next } = collect(rt);
    const created = await next('session.created');
    expect(created.session.type).toBe('realtime');
    rt.send({
      type: 'session.update',
      session: {
        type: 'realtime',
        instructions: 'You are a help desk.',
        audio: {
          input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'whisper-1' }, turn_detection: { type: 'server_vad', threshold: 0.5, silence_duration_ms: 500, prefix_padding_ms: 300 } },
          output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' },
        },
      },
    });
    const updated = await next('session.updated');
    expect(updated.session.type === 'realtime' && updated.session.instructions).toBe('You are a help desk.');
    appendAll(rt, await callerAudio24k(SENTENCE));
    const started = await next('input_audio_buffer.speech_started');
    const stopped = await next('input_audio_buffer.speech_stopped');
    expect(stopped.audio_end_ms).toBeGreaterThan(started.audio_start_ms + 1000);
    expect((await next('input_audio_buffer.committed')).item_id).toBe(started.item_id);
    const heard = await next('conversation.item.input_audio_transcription.completed');
    expect(wordErrorRate(SENTENCE, heard.transcript)).toBeLessThanOrEqual(0.35);
    const done = await next('response.done');
    expect(done.response.status).toBe('completed');
    expect(done.response.usage?.output_tokens).toBeGreaterThan(0);
    const audio = events.filter((e) => e.type === 'response.output_audio.delta').map((e) => decodeSlinLe(Buffer.from(e.delta, 'base64')));
    const all = new Int16Array(audio.reduce((n, a) => n + a.length, 0));
    audio.reduce((at, a) => (all.set(a, at), at + a.length), 0);
    const said = await stt.transcribe(await resample({ samples: all, sampleRate: 24_000 }, 16_000), { language: 'en' });
    expect(wordErrorRate('please hold the line', said.text)).toBeLessThanOrEqual(0.5);
    const transcript = events.filter((e) => e.type === 'response.output_audio_transcript.delta').map((e) => e.delta).join('');
    expect(transcript).toBe('Please hold the line');
    expect((await next('response.output_audio_transcript.done')).transcript).toBe('Please hold the line');
    rt.close();
  }, 60_000);

  it('cancels a response, truncates its item, and answers a cancel with nothing active with the real error', async () => {
    const rt = open();
    const { next } = collect(rt);
    await next('session.created');
    rt.send({ type: 'session.update', session: { type: 'realtime', audio: { input: { turn_detection: null } } } });
    await next('session.updated');
    rt.send({ type: 'response.create' });
    const added = await next('response.output_item.added');
    await next('response.output_audio.delta');
    rt.send({ type: 'response.cancel' });
    const done = await next('response.done');
    expect(done.response.status).toBe('cancelled');
    rt.send({ type: 'conversation.item.truncate', item_id: added.item.id as string, content_index: 0, audio_end_ms: 50 });
    const truncated = await next('conversation.item.truncated');
    expect(truncated).toMatchObject({ item_id: added.item.id, audio_end_ms: 50 });
    const errors: Array<{ code?: string | null }> = [];
    rt.on('error', (e) => errors.push(e.error ?? {}));
    rt.send({ type: 'response.cancel' });
    rt.send({ type: 'conversation.item.truncate', item_id: added.item.id as string, content_index: 0, audio_end_ms: 60_000 });
    await expect.poll(() => errors.map((e) => e.code)).toEqual(['response_cancel_not_active', 'invalid_value']);
    rt.close();
  }, 60_000);

  it('drops the socket mid-response on demand, and sends error events', async () => {
    const rt = open();
    const { next } = collect(rt);
    await next('session.created');
    const conn = await fake.waitFor((c) => !c.closed && c.received.length === 0 && c.sent.length === 1);
    const errors: Array<{ code?: string | null; message?: string }> = [];
    rt.on('error', (e) => errors.push(e.error ?? {}));
    conn.sendError({ type: 'server_error', code: 'server_error', message: 'The server had an error' });
    await expect.poll(() => errors[0]?.message).toBe('The server had an error');
    fake.dropAfterDeltas(2);
    rt.send({ type: 'response.create' });
    const closed = await new Promise<number>((resolve) => rt.socket.on('close', (code) => resolve(code)));
    expect(closed).toBe(1006);
  }, 60_000);

  it('palabre\'s client events are events the official client declares (checked by the compiler)', () => {
    const ours: RealtimeClientEvent[] = [
      { type: 'session.update', session: { type: 'realtime', instructions: 'x', output_modalities: ['audio'], audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'whisper-1', language: 'en' }, turn_detection: { type: 'server_vad', threshold: 0.5, silence_duration_ms: 500, prefix_padding_ms: 300, create_response: true, interrupt_response: true } }, output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' } } } },
      { type: 'input_audio_buffer.append', audio: 'AAA=' },
      { type: 'conversation.item.truncate', item_id: 'item_1', content_index: 0, audio_end_ms: 1200 },
      { type: 'response.cancel' },
      { type: 'response.create', response: { instructions: 'Greet the caller.' } },
    ];
    const official: OfficialClientEvent[] = ours;
    expect(official.map((e) => e.type)).toEqual(['session.update', 'input_audio_buffer.append', 'conversation.item.truncate', 'response.cancel', 'response.create']);
  });
});
