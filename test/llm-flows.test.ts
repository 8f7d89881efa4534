/**
 * The speaking-coach flow end to end in `palabre chat` (a real subprocess fed
 * from a pipe) and `palabre simulate` (real speech engines), its replies
 * written by the LLM engine over the streaming fake OpenAI server; and the
 * clear refusal when no LLM is configured.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat, palabre } from './support/cli.js';
import { type FakeChatServer, startFakeChatServer } from './support/fake-openai.js';


let fake: FakeChatServer;
beforeAll(async () => {
  fake = await startFakeChatServer();
});
afterAll(() => fake.close());

describe('palabre chat with an LLM', () => {
  it('runs speaking-coach with the model writing the coach lines, up to the saved feedback request', async () => {
    const run = await chat(['--flow', 'speaking-coach', '--lang', 'en'], ['Hello, my name is Ana', 'I worked five years as a baker', 'stop', '4'], {
      PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl,
      PALABRE_ENGINES_LLM_MODEL: 'coach-model',
      PALABRE_ENGINES_LLM_API_KEY: 'sk-e2e-secret',
    });
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/bot \(encouragement\): Welcome! Tell me about yourself\./);
    // Streamed replies are said sentence by sentence, each as soon as the model has written it.
    expect(run.out).toMatch(/bot \(encouragement\): Thank you\. You said "Hello, my name is Ana"\.\nbot \(encouragement\): Why do you want this position\?/);
    expect(run.out).toMatch(/bot \(curiosite\): Interesting!\nbot \(curiosite\): What did you learn in that job\?/);
    expect(run.out).toMatch(/\[state\] CONVERSATION → FEEDBACK/);
    expect(run.out).toMatch(/\[slot\] self_rating = 4/);
    expect(run.out).toMatch(/1 record\(s\) saved/);
    expect(run.out).toMatch(/feedback_request \{"scenario":"job_interview","language":"en","turns":2,"self_rating":4\}/);
    expect(run.out + run.err).not.toContain('sk-e2e-secret');
    // The model saw the conversation: the flow's system prompt and scenario, then the learner's words.
    const last = fake.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
    const body = last.body as { model: string; stream: boolean; max_tokens: number; messages: Array<{ role: string; content: string }> };
    expect(body).toMatchObject({ model: 'coach-model', stream: true, max_tokens: 120 });
    expect(body.messages[0]).toMatchObject({ role: 'system' });
    expect(body.messages[0].content).toMatch(/kind speaking coach/);
    expect(body.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([expect.stringMatching(/^\(The conversation starts now/), 'Hello, my name is Ana', 'I worked five years as a baker']);
    expect(last.headers.authorization).toBe('Bearer sk-e2e-secret');
  });

  it('refuses the flow without an LLM, saying it needs one and how to configure it', async () => {
    const run = await chat(['--flow', 'speaking-coach', '--lang', 'en'], ['hello']);
    expect(run.code).not.toBe(0);
    expect(run.err).toMatch(/no LLM is configured/);
    expect(run.err).toMatch(/This flow needs an LLM: set engines\.llm\.baseUrl and engines\.llm\.model/);
    expect(run.out).not.toMatch(/^bot/m);
  });

  it('runs speaking-coach in palabre simulate over real speech, the model answering what the recogniser heard', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'palabre-coach-'));
    try {
      const script = join(dir, 'coach.yaml');
      writeFileSync(
        script,
        [
          'flow: speaking-coach',
          'language: en',
          'caller: { engine: flite, voice: slt }',
          'turns:',
          '  - say: "i worked five years in a bakery"',
          '  - say: "stop"',
          '  - dtmf: "4"',
          'expect:',
          '  states: [WELCOME, CONVERSATION, FEEDBACK, GOODBYE]',
          '  records:',
          '    - kind: feedback_request',
          '      fields: { self_rating: 4 }',
        ].join('\n'),
      );
      const report = join(dir, 'report.json');
      const run = await palabre(['simulate', '--script', script, '--report', report], { PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl, PALABRE_ENGINES_LLM_MODEL: 'coach-model' });
      expect(run.code, run.out + run.err).toBe(0);
      const saved = JSON.parse(readFileSync(report, 'utf8')) as { ok: boolean; summary: { transcript: Array<{ role: string; text: string }> } };
      expect(saved.ok).toBe(true);
      const bot = saved.summary.transcript.filter((l) => l.role === 'bot').map((l) => l.text);
      expect(bot).toContain('Welcome! Tell me about yourself.');
      // Whatever PocketSphinx made of the answer, the model's reply quotes it back.
      const heard = saved.summary.transcript.find((l) => l.role === 'caller')!.text;
      expect(bot).toContain(`Thank you. You said "${heard}".`);
      expect(bot[bot.indexOf(`Thank you. You said "${heard}".`) + 1]).toBe('Why do you want this position?');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
