/**
 * A call whose recogniser and voice are an OpenAI-compatible server (the
 * local one speaking OpenAI's protocol: it transcribes uploads with
 * PocketSphinx and speaks with flite at 24 kHz), built by the call factory
 * from the configuration as `palabre serve` does: the caller is understood
 * through /v1/audio/transcriptions, the bot speaks through /v1/audio/speech.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../src/call/clock.js';
import { createCallFactory } from '../src/call/factory.js';
import { createMemoryIO } from '../src/call/memory-io.js';
import { speech } from '../src/call/test-support.js';
import { loadConfig } from '../src/config.js';
import { loadFlowsDir } from '../src/dialog/loader.js';
import { loadEngines, type Engines } from '../src/engines/registry.js';
import { cleanupSpeech } from '../src/engines/stt/test-support.js';
import { silentLogger } from '../src/log.js';
import { type FakeOpenAi, startFakeOpenAi } from './support/fake-openai.js';

const FLOW = `
id: ticket
languages: [en]
start: ASK
states:
  ASK:
    say: What is the problem with your connection?
    listen: { endpointing: { mode: silence, silence_ms: 700 }, no_input_ms: 15000, hints: { en: [internet, working] } }
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

const KEY = 'sk-openai-engines-test';
let dir: string;
let engines: Engines;
let openai: FakeOpenAi;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palabre-openai-call-'));
  writeFileSync(join(dir, 'ticket.yaml'), FLOW);
  openai = await startFakeOpenAi({ apiKey: KEY });
});

afterAll(async () => {
  await engines?.close();
  await openai?.close();
  rmSync(dir, { recursive: true, force: true });
  cleanupSpeech();
});

describe('a call on OpenAI-compatible engines', () => {
  it('hears the caller through the transcription endpoint and speaks through the speech endpoint', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        log: { level: 'silent' },
        flows: { dir },
        engines: {
          stt: { engine: 'openai' },
          tts: { engine: 'openai' },
          openai: { preset: 'openai', baseUrl: openai.baseUrl, apiKey: KEY, tts: { sampleRate: 16_000 } },
        },
      },
    });
    engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
    expect(engines.stt.has('openai') && engines.tts.has('openai')).toBe(true);
    const factory = createCallFactory({ config, engines, flows: () => loadFlowsDir(dir, { llmAvailable: false }) });
    const io = createMemoryIO({ clock: realClock });
    const session = await factory({ io, meta: { transport: 'simulate', flow: 'ticket', language: 'en' }, logger: silentLogger });
    const answer = await speech('my internet is not working');
    void io.waitForBot('speaking').then(() => io.waitForBot('silent', { quietMs: 300 })).then(() => io.say(answer));
    const summary = await session.run();

    expect(summary.endReason).toBe('bot_hangup');
    expect(summary.records).toEqual([{ kind: 'ticket', data: { problem: expect.stringMatching(/internet/) } }]);
    expect(summary.transcript.filter((l) => l.role === 'bot').map((l) => l.text)).toEqual(['What is the problem with your connection?', 'Thank you, a technician will call you back.']);
    expect(io.playedMs()).toBeGreaterThan(3000);
    const paths = openai.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths.filter((p) => p === 'POST /v1/audio/speech').length).toBeGreaterThanOrEqual(2);
    expect(paths).toContain('POST /v1/audio/transcriptions');
    expect(openai.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
    const usage = Object.fromEntries((summary.usage ?? []).map((u) => [`${u.kind}:${u.engine}`, u]));
    expect(usage['stt:openai']).toMatchObject({ requests: 1, errors: 0 });
    expect(usage['tts:openai'].characters).toBeGreaterThan(60);
  });
});
