/**
 * The realtime session's edges: settings from a flow and the config, the
 * loader's checks of `mode: realtime` flows, a connection that never becomes
 * ready, the denoiser in front of the model, and end() from outside. The
 * conversation itself (audio, barge-in, drops) is in test/realtime.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../audio/frame.js';
import { loadResampler, type ResamplerFactory } from '../audio/resample.js';
import { configSchema } from '../config.js';
import { loadFlowFile, parseFlow } from '../dialog/loader.js';
import type { Denoiser } from '../engines/denoise/types.js';
import { silentLogger } from '../log.js';
import { startFakeRealtime, type FakeRealtime } from '../../test/support/fake-openai-realtime.js';
import { realClock } from './clock.js';
import { createMemoryIO } from './memory-io.js';
import { createRealtimeSession, realtimeSettingsFor, type RealtimeCallSettings } from './realtime-session.js';

const FLOWS = join(import.meta.dirname, '..', '..', 'flows');
const KEY = 'sk-unit';

let resampler: ResamplerFactory;
let fake: FakeRealtime;
let dir: string;
beforeAll(async () => {
  resampler = await loadResampler();
  fake = await startFakeRealtime({ apiKey: KEY, reply: () => 'Hello there.' });
  dir = mkdtempSync(join(tmpdir(), 'palabre-rt-flow-'));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const REALTIME_FLOW = (realtime: string, mode = 'mode: realtime') => `id: rt\nlanguages: [en, fr]\n${mode}\n${realtime}\nstart: A\nstates:\n  A:\n    say: { en: hi, fr: salut }\n    on_enter:\n      - hangup: null\n`;

function settings(over: Partial<RealtimeCallSettings> = {}): RealtimeCallSettings {
  return { url: fake.url, apiKey: KEY, model: 'gpt-realtime', voice: 'marin', instructions: 'Be brief.', transcriptionModel: 'whisper-1', turnDetection: { threshold: 0.5, silenceDurationMs: 500, prefixPaddingMs: 300 }, connectTimeoutMs: 3000, ...over };
}

describe('realtime flows', () => {
  it('the example flow loads when the Realtime API is configured, and is refused with a clear message when not', async () => {
    const flow = await loadFlowFile(join(FLOWS, 'realtime-concierge.yaml'), { llmAvailable: false, realtimeAvailable: true });
    expect(flow.definition.mode).toBe('realtime');
    expect(flow.realtimeInstructions?.en).toMatch(/concierge/);
    expect(flow.realtimeInstructions?.fr).toMatch(/concierge/);
    const err = await loadFlowFile(join(FLOWS, 'realtime-concierge.yaml'), { llmAvailable: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'engine_unavailable' });
    expect((err as Error).message).toMatch(/realtime-concierge\.yaml:\d+:\d+: mode: .*OpenAI Realtime API.*engines\.realtime\.apiKey/);
  });

  it('reads instructions from a prompt file next to the flow, and names what is wrong', async () => {
    writeFileSync(join(dir, 'concierge.en.md'), 'You are a concierge.\n');
    writeFileSync(join(dir, 'concierge.fr.md'), 'Vous êtes concierge.\n');
    const ok = await parseFlow(REALTIME_FLOW('realtime:\n  prompt: { en: concierge.en.md, fr: concierge.fr.md }'), { file: join(dir, 'rt.yaml'), llmAvailable: false, realtimeAvailable: true });
    expect(ok.realtimeInstructions).toEqual({ en: 'You are a concierge.', fr: 'Vous êtes concierge.' });
    const problems = async (yaml: string): Promise<string> => (await parseFlow(yaml, { file: join(dir, 'rt.yaml'), llmAvailable: false, realtimeAvailable: true }).catch((e: Error) => e)).toString();
    expect(await problems(REALTIME_FLOW('realtime:\n  prompt: nope.md'))).toMatch(/realtime\.prompt: cannot read prompt file nope\.md .*no such file/);
    expect(await problems(REALTIME_FLOW('realtime:\n  voice: marin'))).toMatch(/either `instructions` or `prompt`/);
    expect(await problems(REALTIME_FLOW('realtime:\n  instructions: { en: hi }'))).toMatch(/realtime\.instructions: no instructions in fr/);
    expect(await problems(REALTIME_FLOW('realtime:\n  instructions: hi', ''))).toMatch(/realtime: realtime settings are used only with `mode: realtime`/);
    expect(await problems(REALTIME_FLOW('realtime:\n  instructions: hi\n  turn_detection: { threshold: 2 }'))).toMatch(/threshold/);
  });

  it('makes call settings from the flow (in the call\'s language) and engines.realtime', async () => {
    const flow = await loadFlowFile(join(FLOWS, 'realtime-concierge.yaml'), { llmAvailable: false, realtimeAvailable: true });
    const config = configSchema.parse({ engines: { realtime: { apiKey: 'sk-x', model: 'gpt-realtime-mini' } } }).engines.realtime;
    const fr = realtimeSettingsFor(flow, config, 'fr-FR');
    expect(fr).toMatchObject({ url: 'wss://api.openai.com/v1/realtime', apiKey: 'sk-x', model: 'gpt-realtime-mini', voice: 'marin', turnDetection: { threshold: 0.5, silenceDurationMs: 600, prefixPaddingMs: 300 } });
    expect(fr.instructions).toMatch(/^Vous êtes le concierge/);
    expect(fr.greeting).toMatch(/^Saluez/);
    expect(realtimeSettingsFor(flow, config, 'de').instructions).toMatch(/^You are the concierge/);
    const unset = configSchema.parse({}).engines.realtime;
    expect(() => realtimeSettingsFor(flow, unset, 'en')).toThrow(/engines\.realtime\.apiKey/);
  });
});

describe('realtime session edges', () => {
  it('ends with reason error when the connection is not ready within the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const io = createMemoryIO({ clock: realClock });
    const session = createRealtimeSession({ io, language: 'en', logger: silentLogger, engines: { resampler }, realtime: settings({ url: `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/v1/realtime`, connectTimeoutMs: 300 }) });
    const summary = await session.run();
    expect(summary.endReason).toBe('error');
    expect(summary.endDetail).toMatch(/was not ready within 300 ms/);
    expect(io.closedWith?.reason).toBe('error');
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('sends the caller\'s audio through the denoiser, and end() closes the socket cleanly', async () => {
    const seen: number[] = [];
    const denoiser: Denoiser = {
      name: 'spy',
      delayMs: 0,
      createStream: (rate) => ({
        process: (f: Frame) => {
          seen.push(rate);
          // Silenced: the model must hear only what the denoiser let through.
          return { samples: new Int16Array(f.samples.length), sampleRate: f.sampleRate };
        },
        close: () => undefined,
      }),
    };
    const before = fake.connections.length;
    const io = createMemoryIO({ clock: realClock });
    const session = createRealtimeSession({ io, language: 'en', logger: silentLogger, engines: { resampler, denoiser }, realtime: settings() });
    const summary = session.run();
    await io.silence(400);
    await expect.poll(() => fake.connections[before]?.received.filter((e) => e.type === 'input_audio_buffer.append').length ?? 0).toBeGreaterThan(5);
    await session.end('server_shutdown');
    expect((await summary).endReason).toBe('server_shutdown');
    expect(seen.length).toBeGreaterThan(5);
    expect(new Set(seen)).toEqual(new Set([16_000]));
    const conn = fake.connections[before];
    const appended = conn.received.filter((e) => e.type === 'input_audio_buffer.append').map((e) => Buffer.from(e.audio as string, 'base64'));
    expect(appended.every((b) => b.every((x) => x === 0))).toBe(true);
    // 20 ms at 24 kHz, 16-bit: the audio really is resampled to the API's rate.
    expect(appended.some((b) => b.length === 960)).toBe(true);
    await expect.poll(() => conn.closed).toBe(true);
    expect(conn.closeCode).toBe(1000);
    expect(io.closedWith?.reason).toBe('server_shutdown');
  });

  it('ends with reason timeout at maxCallMs, and keeps going after an error event of the API (recorded as an error)', async () => {
    const before = fake.connections.length;
    const io = createMemoryIO({ clock: realClock });
    const session = createRealtimeSession({ io, language: 'en', logger: silentLogger, engines: { resampler }, realtime: settings(), maxCallMs: 1500 });
    const events: string[] = [];
    session.on('event', (e) => events.push(e.type === 'error' ? `error:${e.code}:${e.message}` : e.type));
    const summary = session.run();
    const conn = await fake.waitFor((c, i = fake.connections.indexOf(c)) => i >= before && c.received.length > 0);
    conn.sendError({ type: 'server_error', code: 'server_error', message: 'The server had an error while processing your request.' });
    conn.sendError({ type: 'invalid_request_error', code: 'response_cancel_not_active', message: 'Cancellation failed: no active response found' });
    const done = await summary;
    expect(done.endReason).toBe('timeout');
    expect(done.endDetail).toMatch(/1500 ms limit/);
    expect(done.errors).toEqual([expect.objectContaining({ stage: 'dialog', code: 'engine_failed', message: 'openai realtime: server_error/server_error: The server had an error while processing your request.' })]);
    expect(events.filter((e) => e.startsWith('error'))).toHaveLength(1);
    expect(events.at(-1)).toBe('call-ended');
    await expect.poll(() => conn.closeCode).toBe(1000);
  });
});
