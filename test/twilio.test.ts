/**
 * Twilio Media Streams end to end over real sockets: a loopback server with
 * real engines runs `support-desk` in English for a spec-written Twilio peer
 * (test/support/twilio-client.ts) that streams a flite-synthesised caller as
 * 20 ms µ-law at real time and echoes marks as it plays the bot's audio.
 * Also: the voice webhook's TwiML and signature check, and bad input on the
 * media socket, with the server healthy afterwards.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { PIPELINE_RATE } from '../src/audio/frame.js';
import { encodeMulaw } from '../src/audio/g711.js';
import { resampleWith } from '../src/audio/resample.js';
import { decodeWav } from '../src/audio/wav.js';
import { loadConfig } from '../src/config.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { buildApp } from '../src/server/app.js';
import type { TwilioRoutesOptions } from '../src/server/routes/twilio.js';
import { TwilioClient } from './support/twilio-client.js';
import { fliteWav } from './support/server.js';

interface Server {
  url: string;
  ws: string;
  app: FastifyInstance;
}

let engines: Engines;
const apps: FastifyInstance[] = [];

async function serve(twilio: TwilioRoutesOptions = {}): Promise<Server> {
  const config = loadConfig({ env: {}, overrides: { server: { port: 0, host: '127.0.0.1' }, log: { level: 'silent' } } });
  const app = await buildApp({ config, engines, logger: silentLogger, twilio });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  apps.push(app);
  return { url, ws: `${url.replace('http', 'ws')}/twilio/media`, app };
}

beforeAll(async () => {
  const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'tts', 'stt'] });
});

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await engines?.close();
});

/** A caller's line as the phone network carries it: flite → 8 kHz → µ-law. */
function caller(text: string, voice = 'slt'): Uint8Array {
  const wav = decodeWav(fliteWav(text, voice));
  expect(wav.sampleRate).toBe(PIPELINE_RATE);
  const narrow = resampleWith(engines.resampler, { samples: wav.samples, sampleRate: wav.sampleRate }, 8000);
  return encodeMulaw(narrow.samples);
}

/** Twilio's documented algorithm, written out here independently of src/: URL, then sorted name+value pairs; HMAC-SHA1; base64. */
function referenceSignature(token: string, url: string, params: Record<string, string>): string {
  let data = url;
  for (const key of Object.keys(params).sort()) data += key + params[key];
  return createHmac('sha1', Buffer.from(token, 'utf8')).update(Buffer.from(data, 'utf8')).digest('base64');
}

/** One sample of a metric on /metrics (0 when absent), labels matched exactly. */
async function metric(server: Server, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const line = text.split('\n').find((l) => l.startsWith(want ? `${name}{${want}} ` : `${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function badInputCount(app: FastifyInstance, code: string): Promise<number> {
  const metric = await app.palabre.metrics.badInput.get();
  return metric.values.filter((v) => v.labels.route === '/twilio/media' && v.labels.code === code).reduce((s, v) => s + v.value, 0);
}

describe('Twilio Media Streams', () => {
  it('carries a full support-desk call: the ticket is saved, a keypad barge-in makes the server send clear, and playout follows echoed marks', async () => {
    let ended: Parameters<NonNullable<TwilioRoutesOptions['onCallEnded']>>[0] | undefined;
    const server = await serve({ onCallEnded: (c) => (ended = c) });
    const lines = {
      yes: caller('yes'),
      // Narrowed to 8 kHz µ-law, slt's "smith" reaches PocketSphinx as "a"; the rms voice survives the phone band.
      name: caller('my name is john smith', 'rms'),
      none: caller('i do not have one'),
      internet: caller('my internet is not working'),
    };

    const phone = TwilioClient.open(server.ws);
    await phone.opened;
    phone.connected();
    phone.start({ flow: 'support-desk', language: 'en' });
    phone.startLine();

    // The greeting arrives as µ-law with marks, and is played before the caller answers.
    await phone.waitBotTurn(0);
    const media = phone.received.filter((m) => m.event === 'media');
    expect(media.length).toBeGreaterThan(5);
    for (const m of media) {
      expect(m.streamSid).toBe(phone.streamSid);
      const bytes = Buffer.from(String(m.media?.payload), 'base64');
      // Raw µ-law, no RIFF header, in whole 20 ms frames.
      expect(bytes.subarray(0, 4).toString('latin1')).not.toBe('RIFF');
      expect(bytes.length % 160).toBe(0);
    }
    expect(phone.received.filter((m) => m.event === 'mark').length).toBe(media.length);

    let since = performance.now();
    await phone.say(lines.yes);
    // The ticket question starts; a key pressed during it interrupts it.
    await phone.waitFor('the ticket question', () => phone.lastAudioAt > since);
    await new Promise((r) => setTimeout(r, 700));
    expect(phone.playing).toBe(true);
    for (const d of '123456') {
      phone.dtmf(d);
      await new Promise((r) => setTimeout(r, 150));
    }
    await phone.waitFor('clear', () => phone.clears > 0);
    expect(phone.received.find((m) => m.event === 'clear')).toEqual({ event: 'clear', streamSid: phone.streamSid });
    since = performance.now();
    await phone.waitBotTurn(since - 1);

    for (const line of [lines.name, lines.none, lines.none, lines.none, lines.internet, lines.yes]) {
      since = performance.now();
      await phone.say(line);
      await phone.waitBotTurn(since);
    }
    await phone.say(lines.yes);
    // The goodbye plays out in full before the server hangs up.
    const closed = await phone.closed;
    expect(closed.code).toBe(1000);
    expect(phone.playing).toBe(false);

    expect(ended).toBeDefined();
    const summary = ended!.summary!;
    expect(ended).toMatchObject({ streamSid: phone.streamSid, callSid: phone.callSid, flow: 'support-desk', language: 'en', endReason: 'bot_hangup' });
    expect(summary.records).toEqual([
      { kind: 'ticket', data: expect.objectContaining({ ticket_number: '123456', name: 'John Smith', problem: 'internet', solved: true, language: 'en' }) },
    ]);
    expect(summary.states).toEqual(expect.arrayContaining(['WELCOME', 'TICKET_VERIFICATION', 'IDENTIFICATION', 'DIAGNOSTIC', 'SOLUTION', 'VERIFICATION', 'GOODBYE']));
    // What the transcript says was heard of the cut question is what the peer had played when it cleared.
    const cut = summary.transcript.find((l) => l.role === 'bot' && l.cut);
    expect(cut?.text).toBe('What is your ticket number? You can also type it on your keypad.');
    expect(cut!.heard!.length).toBeGreaterThan(0);
    expect(cut!.heard!.length).toBeLessThan(cut!.text.length);
    // Everything received was either played or dropped by the clear.
    expect(phone.playedMs).toBeLessThan(phone.receivedMs);
    expect(phone.playedMs).toBeGreaterThan(phone.receivedMs - 4_000);

    // The server's counters saw the same call: one stream, ended by the bot, a mark per chunk, the clear.
    const marksSent = phone.received.filter((m) => m.event === 'mark').length;
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'streamsStarted' })).toBe(1);
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'clears' })).toBe(phone.clears);
    expect(await metric(server, 'palabre_twilio_streams_ended_total', { reason: 'bot_hangup' })).toBe(1);
    expect(await metric(server, 'palabre_twilio_streams_active')).toBe(0);
    expect(await metric(server, 'palabre_twilio_marks_total', { direction: 'sent' })).toBe(marksSent);
    const echoed = await metric(server, 'palabre_twilio_marks_total', { direction: 'echoed' });
    expect(echoed).toBeGreaterThan(0);
    expect(echoed).toBeLessThanOrEqual(marksSent);
  }, 80_000);

  it('answers the voice webhook with TwiML and checks X-Twilio-Signature against the documented algorithm', async () => {
    // Twilio's documented example vector.
    const docParams = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
    expect(referenceSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', docParams)).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');

    const token = 'f00dfeedf00dfeedf00dfeedf00dfeed';
    const server = await serve({ authToken: token });
    const path = '/twilio/voice?flow=support-desk&language=en';
    const params = { CallSid: 'CA0123', From: '+15550001111', To: '+15552223333', AccountSid: 'AC42', CallStatus: 'ringing' };
    const post = (signature: string | undefined, body: Record<string, string> = params, p = path): Promise<Response> =>
      fetch(server.url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'x-twilio-signature': signature } : {}) },
        body: new URLSearchParams(body).toString(),
      });
    const good = referenceSignature(token, server.url + path, params);
    const ok = await post(good);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/xml/);
    const host = new URL(server.url).host;
    expect(await ok.text()).toBe(
      `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://${host}/twilio/media"><Parameter name="flow" value="support-desk"/><Parameter name="language" value="en"/><Parameter name="from" value="+15550001111"/></Stream></Connect></Response>`,
    );
    expect((await post(undefined)).status).toBe(403);
    expect((await post(referenceSignature('wrong-token', server.url + path, params))).status).toBe(403);
    // A tampered parameter, or a different URL, breaks the signature.
    expect((await post(good, { ...params, From: '+15559999999' })).status).toBe(403);
    expect((await post(good, params, '/twilio/voice?flow=support-desk&language=fr')).status).toBe(403);

    // Without a token: defaults, and the flow's languages are checked.
    const open = await serve();
    const plain = await (await fetch(`${open.url}/twilio/voice`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'CallSid=CA1' })).text();
    expect(plain).toContain('<Parameter name="flow" value="support-desk"/><Parameter name="language" value="en"/>');
    const wrongLang = await fetch(`${open.url}/twilio/voice?language=de`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(wrongLang.status).toBe(400);
  });

  it('counts and logs bad input; a malformed message closes that stream only, and the server stays healthy', async () => {
    const server = await serve();
    const opened = async (): Promise<TwilioClient> => {
      const c = TwilioClient.open(server.ws);
      await c.opened;
      c.connected();
      return c;
    };

    const garbage = await opened();
    garbage.send('{"event":"media",');
    expect((await garbage.closed).code).toBe(1008);

    const early = await opened();
    early.media(new Uint8Array(160).fill(0xff));
    expect(await early.closed).toMatchObject({ code: 1008, reason: '"media" before "start"' });

    const alaw = await opened();
    alaw.start({ flow: 'support-desk' }, { encoding: 'audio/x-alaw', sampleRate: 8000, channels: 1 });
    expect(await alaw.closed).toMatchObject({ code: 1003, reason: expect.stringMatching(/unsupported mediaFormat audio\/x-alaw/) });

    // Unknown events and stream ids are noted and ignored: the call goes on and greets.
    const live = await opened();
    live.send({ event: 'transcription', sequenceNumber: '1', streamSid: 'MZx' });
    live.start({ flow: 'support-desk', language: 'en' });
    live.media(new Uint8Array(160).fill(0xff), 'MZ-not-this-one');
    live.startLine();
    await live.waitFor('the greeting', () => live.receivedMs > 200);
    const bad = live.received.filter((m) => m.event === 'media');
    expect(bad.every((m) => m.streamSid === live.streamSid)).toBe(true);
    live.send({ event: 'dtmf', sequenceNumber: '9', streamSid: live.streamSid, dtmf: { digit: 'Z' } });
    expect((await live.closed).code).toBe(1008);

    expect(await badInputCount(server.app, 'garbage-json')).toBe(1);
    expect(await badInputCount(server.app, 'media-before-start')).toBe(1);
    expect(await badInputCount(server.app, 'unsupported-format')).toBe(1);
    expect(await badInputCount(server.app, 'unknown-event')).toBe(1);
    expect(await badInputCount(server.app, 'unknown-stream')).toBe(1);
    expect(await badInputCount(server.app, 'malformed')).toBe(1);
    for (const kind of ['garbage-json', 'media-before-start', 'unsupported-format', 'unknown-event', 'unknown-stream', 'malformed']) {
      expect(await metric(server, 'palabre_twilio_bad_messages_total', { kind }), kind).toBe(1);
    }
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'closedBeforeStart' })).toBe(3);
    expect(await metric(server, 'palabre_twilio_streams_ended_total', { reason: 'transport_error' })).toBe(1);

    // Still serving: health, and a new call that hangs up cleanly with stop.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const next = await opened();
    next.start({ flow: 'support-desk', language: 'en' });
    next.startLine();
    await next.waitFor('the greeting', () => next.receivedMs > 0);
    next.stop();
    expect((await next.closed).code).toBe(1000);
    expect(await metric(server, 'palabre_twilio_streams_ended_total', { reason: 'caller_hangup' })).toBe(1);
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'streamsStarted' })).toBe(2);
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'connections' })).toBe(5);
    expect(await metric(server, 'palabre_twilio_streams_active')).toBe(0);
  }, 30_000);

  it('refuses streams over capacity with 1013, and counts them', async () => {
    const server = await serve({ maxCalls: 1 });
    const first = TwilioClient.open(server.ws);
    await first.opened;
    first.connected();
    first.start({ flow: 'support-desk', language: 'en' });
    first.startLine();
    await first.waitFor('the greeting', () => first.receivedMs > 0);
    const second = TwilioClient.open(server.ws);
    expect(await second.closed).toMatchObject({ code: 1013, reason: 'the server already carries 1 calls' });
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'refusedCapacity' })).toBe(1);
    expect(await metric(server, 'palabre_twilio_streams_active')).toBe(1);
    first.stop();
    await first.closed;
  });

  it('with an auth token, refuses a media stream handshake without a valid X-Twilio-Signature (403, never upgraded)', async () => {
    const token = 'f00dfeedf00dfeedf00dfeedf00dfeed';
    const server = await serve({ authToken: token });
    // The stream URL is the one the signed webhook's TwiML names; Twilio signs that wss URL with no parameters.
    const path = '/twilio/voice?flow=support-desk&language=en';
    const params = { CallSid: 'CA0123', From: '+15550001111' };
    const twiml = await (
      await fetch(server.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': referenceSignature(token, server.url + path, params) },
        body: new URLSearchParams(params).toString(),
      })
    ).text();
    const streamUrl = /<Stream url="([^"]+)"/.exec(twiml)?.[1];
    expect(streamUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/twilio\/media$/);

    const refusedWith = async (headers?: Record<string, string>): Promise<number | undefined> => {
      const ws = new WebSocket(server.ws, headers ? { headers } : undefined);
      return new Promise((resolve) => {
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode);
          ws.terminate();
        });
        ws.on('open', () => {
          resolve(undefined);
          ws.close();
        });
        ws.on('error', () => undefined);
      });
    };
    expect(await refusedWith()).toBe(403);
    expect(await refusedWith({ 'x-twilio-signature': referenceSignature('wrong-token', streamUrl!, {}) })).toBe(403);
    // Signed for another URL (the plain ws:// one Twilio never connects to).
    expect(await refusedWith({ 'x-twilio-signature': referenceSignature(token, server.ws, {}) })).toBe(403);
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'refusedSignature' })).toBe(3);
    expect(await metric(server, 'palabre_bad_input_total', { route: '/twilio/media', code: 'bad_signature' })).toBe(3);
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'connections' })).toBe(0);

    // Signed as Twilio signs it: the stream opens and the call greets.
    const phone = TwilioClient.open(server.ws, { 'x-twilio-signature': referenceSignature(token, streamUrl!, {}) });
    await phone.opened;
    phone.connected();
    phone.start({ flow: 'support-desk', language: 'en' });
    phone.startLine();
    await phone.waitFor('the greeting', () => phone.receivedMs > 0);
    phone.stop();
    expect((await phone.closed).code).toBe(1000);
    expect(await metric(server, 'palabre_twilio_events_total', { event: 'connections' })).toBe(1);
  });
});
