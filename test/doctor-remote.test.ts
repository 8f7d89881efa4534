/**
 * `palabre doctor` asks each configured remote engine one cheap question
 * (Deepgram's projects, the ElevenLabs voice, an OpenAI-compatible model
 * list) against local servers speaking those services' protocols, and tells a
 * refused key or an unreachable server apart without ever printing a key.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { palabre, type Run, runAll } from './support/cli.js';
import { type FakeDeepgram, startFakeDeepgram } from './support/fake-deepgram.js';
import { FAKE_EN_VOICE, type FakeElevenLabs, startFakeElevenLabs } from './support/fake-elevenlabs.js';
import { type FakeOpenAi, startFakeOpenAi } from './support/fake-openai.js';

const DG_KEY = 'dg-secret-key-0123';
const EL_KEY = 'sk_el_secret_4567';
const LLM_KEY = 'sk-llm-secret-89ab';

let deepgram: FakeDeepgram;
let elevenlabs: FakeElevenLabs;
let openai: FakeOpenAi;
let closedPort: number;
let runs: Record<'healthy' | 'refused', Run>;

/** A port nothing listens on (taken, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

beforeAll(async () => {
  [deepgram, elevenlabs, openai, closedPort] = await Promise.all([
    startFakeDeepgram({ apiKey: DG_KEY }),
    startFakeElevenLabs({ apiKey: EL_KEY }),
    startFakeOpenAi({ apiKey: LLM_KEY, models: ['coach-model'] }),
    freePort(),
  ]);
  const remote = {
    PALABRE_ENGINES_STT_DEEPGRAM_BASE_URL: deepgram.baseUrl,
    PALABRE_ENGINES_TTS_ELEVENLABS_BASE_URL: elevenlabs.baseUrl,
    PALABRE_ENGINES_TTS_ELEVENLABS_VOICE_ID: FAKE_EN_VOICE,
    PALABRE_ENGINES_LLM_BASE_URL: openai.baseUrl,
    PALABRE_ENGINES_LLM_MODEL: 'coach-model',
  };
  runs = await runAll({
    healthy: () =>
      palabre(['doctor'], { ...remote, PALABRE_ENGINES_STT_ENGINE: 'deepgram', PALABRE_ENGINES_STT_DEEPGRAM_API_KEY: DG_KEY, PALABRE_ENGINES_TTS_ELEVENLABS_API_KEY: EL_KEY, PALABRE_ENGINES_LLM_API_KEY: LLM_KEY }),
    refused: () =>
      palabre(['doctor', '--json'], {
        ...remote,
        PALABRE_ENGINES_STT_ENGINE: 'deepgram',
        PALABRE_ENGINES_STT_DEEPGRAM_API_KEY: 'wrong-dg-key',
        PALABRE_ENGINES_TTS_ELEVENLABS_API_KEY: EL_KEY,
        PALABRE_ENGINES_TTS_ELEVENLABS_VOICE_ID: 'no-such-voice',
        PALABRE_ENGINES_LLM_BASE_URL: `http://127.0.0.1:${closedPort}/v1`,
        PALABRE_ENGINES_LLM_API_KEY: LLM_KEY,
      }),
  });
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([deepgram?.close(), elevenlabs?.close(), openai?.close()]);
});

describe('palabre doctor with remote engines', () => {
  it('checks each configured service with one request that costs nothing, and passes when they answer', () => {
    const { code, out, err } = runs.healthy;
    expect(code, out + err).toBe(0);
    expect(out).toMatch(/^ {2}ok {2}stt deepgram \(remote\) +key accepted \(1 project\(s\)\), model nova-3 \[\d+ ms\]/m);
    expect(out).toMatch(/^ {2}ok {2}tts elevenlabs \(remote\) +key accepted, voice EXAVITQu4vr4xnSDxMaL/m);
    expect(out).toMatch(/^ {2}ok {2}llm generic \(remote\) +http:\/\/127\.0\.0\.1:\d+\/v1 serves coach-model/m);
    // Nothing was transcribed or spoken to answer.
    expect(deepgram.rest.filter((r) => r.query !== undefined && r.bodyBytes > 0)).toEqual([]);
    expect(out + err).not.toMatch(new RegExp(`${DG_KEY}|${EL_KEY}|${LLM_KEY}`));
  });

  it('names a refused key, an unknown voice and an unreachable server; a failing default engine fails the check', () => {
    const { code, out, err } = runs.refused;
    expect(code).toBe(1);
    const report = JSON.parse(out) as { remote: Array<{ kind: string; engine: string; ok: boolean; detail: string }>; missingDefaults: string[] };
    const byEngine = Object.fromEntries(report.remote.map((r) => [`${r.kind}:${r.engine}`, r]));
    expect(byEngine['stt:deepgram']).toMatchObject({ ok: false, detail: expect.stringMatching(/Deepgram refused the API key \(HTTP 401\); check engines\.stt\.deepgram\.apiKey/) });
    expect(byEngine['tts:elevenlabs']).toMatchObject({ ok: false, detail: expect.stringMatching(/ElevenLabs has no voice no-such-voice/) });
    expect(byEngine['llm:generic']).toMatchObject({ ok: false, detail: expect.stringMatching(new RegExp(`127\\.0\\.0\\.1:${closedPort}`)) });
    expect(report.missingDefaults).toContain('stt:deepgram');
    expect(out + err).not.toMatch(new RegExp(`wrong-dg-key|${EL_KEY}|${LLM_KEY}`));
  });
});
