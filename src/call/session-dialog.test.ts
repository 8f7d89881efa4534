/**
 * What the session does with the dialog's outputs (side effects, reports,
 * transfer), the call's own limits, and the optional parts of the chain
 * (a denoiser, a transport at another rate), with real engines.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_RATE } from '../audio/frame.js';
import { resample } from '../audio/resample.js';
import { createDenoiser } from '../engines/denoise/index.js';
import { cleanupSpeech } from '../engines/stt/test-support.js';
import type { DialogOutput } from '../dialog/types.js';
import { silentLogger } from '../log.js';
import { createDialogRuntime } from '../dialog/runtime.js';
import { flowFrom, phraseClassifier } from '../dialog/test-support.js';
import { createFastClock, realClock } from './clock.js';
import { defaultEffects } from './effects.js';
import { createMemoryIO } from './memory-io.js';
import { createCallSession } from './session.js';
import { hangup, listen, loadTestEngines, say, ScriptedDialog, sessionEngines, speech, startCall, type TestEngines } from './test-support.js';

let engines: TestEngines;
let server: Server;
let base = '';
const received: Array<{ method?: string; url?: string; body: string }> = [];

beforeAll(async () => {
  engines = await loadTestEngines();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, body });
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 2000);
      if (req.url === '/fail') {
        res.statusCode = 503;
        return void res.end('down');
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ticket: 'T-42' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await engines?.close();
  cleanupSpeech();
});

describe('dialog outputs', () => {
  it('performs side effects and feeds their results back, reports states, intents and slots, and transfers', async () => {
    const dialog = new ScriptedDialog(
      [
        { type: 'state', from: null, to: 'WELCOME' },
        say('Welcome.'),
        listen({ endpointing: { mode: 'silence', silenceMs: 500 } }),
      ],
      (e) => {
        if (e.type === 'utterance') {
          return [
            { type: 'intent', intent: 'YES', confidence: 0.93, source: 'local', text: e.text },
            { type: 'slot', name: 'owner', value: true, confidence: 0.9 },
            { type: 'state', from: 'WELCOME', to: 'SAVE' },
            { type: 'effect', id: 'rec-1', effect: { type: 'save_record', kind: 'ticket', data: { owner: true } } },
            { type: 'effect', id: 'hook-1', effect: { type: 'webhook', url: `${base}/tickets`, method: 'POST', body: { owner: true }, timeoutMs: 1000 } },
          ];
        }
        if (e.type === 'action-result' && e.id === 'hook-1') {
          return [{ type: 'state', from: 'SAVE', to: 'TRANSFER' }, say(`Your ticket is ${String((e.data?.body as { ticket: string }).ticket)}.`), { type: 'transfer', target: 'support-queue', reason: 'done' }];
        }
        return [];
      },
    );
    const call = startCall(sessionEngines(engines), dialog, { effects: defaultEffects() });
    void call.io.waitForBot('silent');
    void call.io.say(await speech('yes i am the owner'));
    const summary = await call.summary;

    expect(summary.states).toEqual(['WELCOME', 'SAVE', 'TRANSFER']);
    expect(summary.records).toEqual([{ kind: 'ticket', data: { owner: true } }]);
    expect(call.of('record')).toEqual([expect.objectContaining({ kind: 'ticket', data: { owner: true } })]);
    expect(call.of('effect').map((e) => [e.id, e.ok])).toEqual(
      expect.arrayContaining([
        ['rec-1', true],
        ['hook-1', true],
      ]),
    );
    expect(received).toEqual([{ method: 'POST', url: '/tickets', body: '{"owner":true}' }]);
    expect(dialog.events.filter((e) => e.type === 'action-result')).toEqual(
      expect.arrayContaining([
        { type: 'action-result', id: 'rec-1', ok: true, data: { kind: 'ticket' }, error: undefined },
        { type: 'action-result', id: 'hook-1', ok: true, data: { status: 200, body: { ticket: 'T-42' } }, error: undefined },
      ]),
    );
    expect(call.of('intent')).toEqual([expect.objectContaining({ intent: 'YES', confidence: 0.93, source: 'local' })]);
    expect(call.of('slot')).toEqual([expect.objectContaining({ name: 'owner', value: true })]);
    expect(summary.transcript.filter((l) => l.role === 'bot').map((l) => l.text)).toEqual(['Welcome.', 'Your ticket is T-42.']);
    expect(summary.endReason).toBe('transfer');
    expect(call.io.closedWith).toMatchObject({ reason: 'transfer', detail: { transferTarget: 'support-queue' } });
    // The turn's timeline has every step, in order.
    const turn = summary.turns.find((t) => t.kind === 'speech');
    expect(turn?.intent).toBe('YES');
    const steps = [turn?.speechStartMs, turn?.speechEndMs, turn?.endOfTurnMs, turn?.sttStartMs, turn?.sttFinalMs, turn?.dialogStartMs, turn?.intentMs, turn?.dialogDoneMs];
    expect(steps.every((v) => typeof v === 'number')).toBe(true);
    expect([...(steps as number[])].sort((a, b) => a - b)).toEqual(steps);
  });

  it('reports a webhook that fails or times out to the dialog', async () => {
    const effects = defaultEffects();
    const signal = new AbortController().signal;
    const down = await effects({ type: 'webhook', url: `${base}/fail`, method: 'GET', timeoutMs: 1000 }, { callId: 'x', signal });
    expect(down).toEqual({ ok: false, data: { status: 503, body: 'down' }, error: 'webhook answered HTTP 503' });
    const slow = await effects({ type: 'webhook', url: `${base}/slow`, method: 'GET', timeoutMs: 100 }, { callId: 'x', signal });
    expect(slow).toEqual({ ok: false, error: `webhook GET ${base}/slow timed out after 100 ms` });
    const refused = await effects({ type: 'webhook', url: 'http://127.0.0.1:1/x', method: 'GET', timeoutMs: 1000 }, { callId: 'x', signal });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/failed/);
  });
});

describe('when the caller hangs up', () => {
  it('tells the dialog, and still saves the record it asks for then', async () => {
    const dialog = new ScriptedDialog(
      [say('What is your zip code?'), listen()],
      () => [],
      (reason) => [{ type: 'effect', id: 'partial-lead', effect: { type: 'save_record', kind: 'lead', data: { complete: false, reason } } }],
    );
    const call = startCall(sessionEngines(engines), dialog);
    void call.io.waitForBot('silent');
    void call.io.hangup();
    const summary = await call.summary;
    expect(dialog.hangups).toEqual(['caller_hangup']);
    expect(summary.records).toEqual([{ kind: 'lead', data: { complete: false, reason: 'caller_hangup' } }]);
    const types = call.events.map((e) => e.type);
    expect(types.indexOf('record')).toBeLessThan(types.indexOf('call-ended'));
  });

  it('does not send the dialog a hangup when the dialog ended the call itself', async () => {
    const dialog = new ScriptedDialog([say('Goodbye.'), hangup], () => []);
    const call = startCall(sessionEngines(engines), dialog);
    expect((await call.summary).endReason).toBe('bot_hangup');
    expect(dialog.hangups).toEqual([]);
  });
});

describe('limits and optional parts', () => {
  it('ends a call that reaches maxCallMs with reason timeout', async () => {
    const dialog = new ScriptedDialog([say('Hello.'), listen({ noInputMs: 600_000 })], () => []);
    const call = startCall(sessionEngines(engines), dialog, { maxCallMs: 5000 });
    const summary = await call.summary;
    expect(summary.endReason).toBe('timeout');
    expect(summary.durationMs).toBeGreaterThanOrEqual(5000);
    expect(summary.durationMs).toBeLessThan(5100);
  });

  it('understands the caller with a denoiser in the chain', async () => {
    const denoiser = await createDenoiser('rnnoise');
    if (!denoiser) throw new Error('rnnoise did not load');
    const dialog = new ScriptedDialog([say('How can I help?'), listen()], () => [hangup]);
    const call = startCall({ ...sessionEngines(engines), denoiser }, dialog);
    void call.io.waitForBot('silent');
    void call.io.say(await speech('i would like to speak to an agent please'));
    await call.summary;
    expect(dialog.utterances()).toEqual([expect.stringContaining('agent')]);
  });

  it('runs on a transport at 8 kHz: the VAD and the STT get their own rate, the bot speaks at 8 kHz', async () => {
    const clock = createFastClock();
    const io = createMemoryIO({ clock, sampleRate: 8000 });
    const dialog = new ScriptedDialog([say('How can I help?'), listen()] as DialogOutput[], () => [say('One moment.'), hangup]);
    const session = createCallSession({ io, dialog, engines: sessionEngines(engines), language: 'en', logger: silentLogger, clock });
    // PocketSphinx hears 8 kHz speech worse; this sentence survives the band limit (checked by a direct request).
    const caller = await resample(await speech('my internet connection stopped working'), 8000);
    void io.waitForBot('silent');
    void io.say(caller);
    const summary = await session.run();
    expect(dialog.utterances()).toEqual([expect.stringContaining('internet connection')]);
    expect(summary.endReason).toBe('bot_hangup');
    expect(io.sent.every((f) => f.samples.length === 160)).toBe(true);
    expect(PIPELINE_RATE).toBe(16_000);
  });
});

describe('language-model replies', () => {
  it('the caller hears the first sentence of a streamed reply before the model has finished writing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palabre-streamed-'));
    writeFileSync(join(dir, 'coach.md'), 'Practise a job interview.');
    const flow = await flowFrom(
      `
id: streamed
languages: [en]
start: TALK
states:
  TALK:
    llm: { prompt: coach.md, system: You are a coach. }
`,
      { baseDir: dir },
    );
    rmSync(dir, { recursive: true, force: true });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let finished = false;
    const llm = {
      chat: () =>
        (async function* () {
          yield 'Hello and welcome to the practice. ';
          await gate;
          yield 'Tell me about yourself.';
          finished = true;
        })(),
    };
    const dialog = createDialogRuntime(flow, { language: 'en', classifier: phraseClassifier({}), llm });
    const call = startCall(sessionEngines(engines), dialog, {}, realClock);
    for (let i = 0; i < 400 && call.of('bot-audio').length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(call.of('bot-audio')[0]).toMatchObject({ phase: 'start' });
    expect(finished).toBe(false);
    release();
    for (let i = 0; i < 800 && call.of('transcript').length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(call.of('transcript').map((t) => t.text)).toEqual(['Hello and welcome to the practice.', 'Tell me about yourself.']);
    await call.session.end('caller_hangup');
    expect((await call.summary).errors).toEqual([]);
  });
});
