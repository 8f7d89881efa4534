/**
 * A call whose cloud engines are down (nothing listens where Deepgram and
 * ElevenLabs are configured): the fallback chains from the configuration take
 * over (PocketSphinx, flite), the call completes and saves its record, the
 * fallbacks are events of the call, and the usage of each engine (with the
 * price table's cost) is in its summary and on /metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../src/call/clock.js';
import type { CallEvent } from '../src/call/events.js';
import { createCallFactory } from '../src/call/factory.js';
import { createMemoryIO } from '../src/call/memory-io.js';
import { speech } from '../src/call/test-support.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { loadEngines, type Engines } from '../src/engines/registry.js';
import { cleanupSpeech } from '../src/engines/stt/test-support.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/server/metrics.js';

const FLOW = `
id: resilient
languages: [en]
start: ASK
states:
  ASK:
    say: What is the problem with your connection?
    listen: { endpointing: { mode: silence, silence_ms: 700 }, no_input_ms: 15000 }
    slots: [{ name: problem, type: text }]
    on:
      - slot_filled: problem
        actions:
          - save_record: { kind: ticket, data: { problem: "{problem}" } }
        goto: BYE
  BYE:
    say: Thank you, a technician will call you back.
    on_enter: [{ hangup: null }]
`;

let dir: string;
let engines: Engines;
let deadPort: number;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palabre-resilience-'));
  writeFileSync(join(dir, 'resilient.yaml'), FLOW);
  deadPort = await freePort();
});

afterAll(async () => {
  await engines?.close();
  rmSync(dir, { recursive: true, force: true });
  cleanupSpeech();
});

describe('a call whose cloud engines are down', () => {
  it('falls back to the local recogniser and voice, completes, and reports fallbacks, usage and cost', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        log: { level: 'silent' },
        flows: { dir },
        engines: {
          stt: { engine: 'deepgram', fallback: ['pocketsphinx'], deepgram: { apiKey: 'dg-key', baseUrl: `http://127.0.0.1:${deadPort}`, connectTimeoutMs: 2000 }, pocketsphinx: { poolSize: 1 } },
          tts: { engine: 'elevenlabs', fallback: ['flite'], elevenlabs: { apiKey: 'el-key', baseUrl: `http://127.0.0.1:${deadPort}`, voiceId: 'EXAVITQu4vr4xnSDxMaL', connectTimeoutMs: 2000 } },
        },
        pricing: { enabled: true, currency: 'EUR', stt: { deepgram: { perMinute: 0.01 }, pocketsphinx: { perMinute: 0 } }, tts: { flite: { perThousandCharacters: 0.5 } } },
      },
    });
    engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
    expect([...engines.stt.keys()].sort()).toEqual(['deepgram', 'pocketsphinx']);
    expect([...engines.tts.keys()]).toEqual(expect.arrayContaining(['elevenlabs', 'flite']));
    const metrics = createMetrics({ defaultMetrics: false });
    const factory = createCallFactory({ config, engines, flows: () => loadFlowsDir(dir, { llmAvailable: false }), metrics });

    const io = createMemoryIO({ clock: realClock, afterScript: 'silence' });
    const session = await factory({ io, meta: { transport: 'simulate', flow: 'resilient', language: 'en', callerId: '+33100000000' }, logger: silentLogger });
    const events: CallEvent[] = [];
    session.on('event', (e) => events.push(e));
    const answer = await speech('my internet is not working');
    void io.waitForBot('speaking').then(() => io.waitForBot('silent', { quietMs: 300 })).then(() => io.say(answer));
    const summary = await session.run();

    expect(summary.endReason).toBe('bot_hangup');
    expect(summary.records).toEqual([{ kind: 'ticket', data: { problem: expect.stringMatching(/internet/) } }]);
    const fallbacks = events.filter((e): e is Extract<CallEvent, { type: 'fallback' }> => e.type === 'fallback');
    expect(fallbacks.map((f) => `${f.stage}:${f.from}>${f.to}`)).toEqual(expect.arrayContaining(['tts:elevenlabs>flite', 'stt:deepgram>pocketsphinx']));
    expect(fallbacks.every((f) => f.reason.length > 0)).toBe(true);
    // The bot spoke (through flite) and was heard: its lines are in the transcript.
    expect(summary.transcript.filter((l) => l.role === 'bot').map((l) => l.text)).toEqual(['What is the problem with your connection?', 'Thank you, a technician will call you back.']);

    const usage = Object.fromEntries((summary.usage ?? []).map((u) => [`${u.kind}:${u.engine}`, u]));
    expect(usage['stt:deepgram']).toMatchObject({ errors: 1 });
    expect(usage['stt:pocketsphinx'].requests).toBe(1);
    expect(usage['stt:pocketsphinx'].audioSeconds).toBeGreaterThan(1);
    expect(usage['tts:elevenlabs'].errors).toBeGreaterThanOrEqual(1);
    expect(usage['tts:flite'].characters).toBe('What is the problem with your connection?'.length + 'Thank you, a technician will call you back.'.length);
    expect(summary.cost).toMatchObject({ currency: 'EUR' });
    expect(summary.cost!.byEngine['tts:flite']).toBeCloseTo((0.5 * usage['tts:flite'].characters) / 1000, 6);

    const exported = await metrics.registry.metrics();
    expect(exported).toMatch(/palabre_engine_requests_total\{kind="stt",engine="pocketsphinx"\} 1/);
    expect(exported).toMatch(/palabre_engine_characters_total\{kind="tts",engine="flite"\} \d+/);
    expect(exported).toMatch(/palabre_call_cost_total\{currency="EUR"\} 0\.0\d+/);
  });
});
