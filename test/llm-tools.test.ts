/**
 * A flow whose model calls tools, end to end in `palabre chat` (a real
 * subprocess) against the fake OpenAI server streaming tool-call deltas as
 * OpenAI does: the model's first arguments break the tool's schema and are
 * refused with the reason, it corrects them, the ticket is saved, and its
 * closing tool call ends the call. The prompt comes from a YAML prompt file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chat } from './support/cli.js';
import { type FakeChatRequest, type FakeOpenAi, type FakeReply, startFakeOpenAi } from './support/fake-openai.js';

const FLOW = `
id: desk-agent
languages: [en]
start: TALK
tools:
  save_ticket:
    description: Saves a support ticket once the caller's problem is clear.
    parameters:
      type: object
      properties:
        summary: { type: string, minLength: 10, description: The problem in a sentence }
        urgency: { type: string, enum: [low, normal, high] }
      required: [summary, urgency]
      additionalProperties: false
    save_record: { kind: ticket }
  end_call:
    description: Ends the call once the caller has nothing more to ask.
    hangup: { reason: caller done }
states:
  TALK:
    llm:
      prompt: desk-agent.prompt.yaml
      style: neutre
      tools: [save_ticket, end_call]
`;

const PROMPT = `system: You are the help desk of an internet provider.
template: Open tickets with save_ticket; end the call with end_call. Flow {flow}.
examples:
  - user: my phone line crackles
    assistant: I am sorry to hear that. Since when?
`;

/** The model: opens, calls save_ticket with bad then good arguments, confirms, and hangs up when told goodbye. */
function agent(request: FakeChatRequest): FakeReply {
  const last = request.messages.at(-1)!;
  if (last.role === 'tool') {
    if (last.content?.includes('invalid arguments')) return { toolCalls: [{ name: 'save_ticket', arguments: { summary: 'internet down since this morning', urgency: 'high' } }] };
    if (last.content?.includes('"saved"')) return 'Your ticket is saved. Anything else?';
    return 'Goodbye!';
  }
  if (/internet/i.test(request.userText)) return { content: 'I am opening a ticket. ', toolCalls: [{ name: 'save_ticket', arguments: { summary: 'down', urgency: 'asap' } }] };
  if (/bye/i.test(request.userText)) return { content: 'Thank you for calling, goodbye!', toolCalls: [{ name: 'end_call', arguments: {} }] };
  return 'Hello, this is the help desk. What is the problem?';
}

let fake: FakeOpenAi;
let dir: string;
beforeAll(async () => {
  fake = await startFakeOpenAi({ reply: agent });
  dir = mkdtempSync(join(tmpdir(), 'palabre-tools-e2e-'));
  writeFileSync(join(dir, 'desk-agent.yaml'), FLOW);
  writeFileSync(join(dir, 'desk-agent.prompt.yaml'), PROMPT);
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a flow with LLM tools in palabre chat', () => {
  it('refuses arguments off the schema, reports why to the model, then saves the corrected ticket and ends the call by tool', async () => {
    const run = await chat(['--flow', 'desk-agent', '--dir', dir], ['my internet is down', 'no, bye'], {
      PALABRE_ENGINES_LLM_BASE_URL: fake.baseUrl,
      PALABRE_ENGINES_LLM_MODEL: 'agent-model',
    });
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/bot \(neutre\): Hello, this is the help desk\.\nbot \(neutre\): What is the problem\?/);
    expect(run.out).toMatch(/bot \(neutre\): I am opening a ticket\.\nbot \(neutre\): Your ticket is saved\.\nbot \(neutre\): Anything else\?/);
    expect(run.out).toMatch(/bot \(neutre\): Thank you for calling, goodbye!/);
    expect(run.out).toMatch(/\[hangup\]/);
    expect(run.out).toMatch(/\[hangup\] caller done/);
    expect(run.out).toMatch(/1 record\(s\) saved/);
    expect(run.out).toMatch(/ticket \{"summary":"internet down since this morning","urgency":"high"\}/);

    const chats = fake.requests.filter((r) => r.path === '/v1/chat/completions').map((r) => r.body as { stream: boolean; tools?: Array<{ function: { name: string } }>; messages: Array<{ role: string; content: string | null; tool_call_id?: string }> });
    expect(chats.every((b) => b.stream)).toBe(true);
    expect(chats[0].tools?.map((t) => t.function.name)).toEqual(['save_ticket', 'end_call']);
    // The YAML prompt file: system and template in the system message, the example as a first exchange.
    expect(chats[0].messages[0].content).toMatch(/^You are the help desk of an internet provider\.\n\nOpen tickets with save_ticket; end the call with end_call\. Flow desk-agent\./);
    expect(chats[0].messages.slice(1, 3)).toEqual([
      { role: 'user', content: 'my phone line crackles' },
      { role: 'assistant', content: 'I am sorry to hear that. Since when?' },
    ]);
    // The refused call: its validation error went back as the tool result, and nothing was saved for it.
    const refusal = chats[2].messages.at(-1)!;
    expect(refusal.role).toBe('tool');
    expect(JSON.parse(refusal.content!).error).toBe(
      'invalid arguments for save_ticket, nothing was done: summary: must NOT have fewer than 10 characters; urgency: must be one of "low", "normal", "high". Call it again with corrected arguments if you can.',
    );
    expect(JSON.parse(chats[3].messages.at(-1)!.content!)).toEqual({ ok: true, saved: 'ticket' });
  });
});
