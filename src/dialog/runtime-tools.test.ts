/**
 * `llm` states whose model calls the flow's tools: arguments checked against
 * their schema before anything runs, records saved through effects, transfer
 * and hangup ending the turn, a lookup webhook's answer going back to the
 * model; YAML prompt files and the call's context in prompts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFlowsDir } from './loader.js';
import { createDialogRuntime } from './runtime.js';
import { brief, counter, flowFrom, phraseClassifier, says, scriptedLlm, scriptedToolLlm } from './test-support.js';
import type { DialogOutput } from './types.js';

const FLOW = `
id: helpdesk
languages: [en]
start: TALK
error: OOPS
tools:
  save_ticket:
    description: Saves a support ticket once the problem is clear.
    parameters:
      type: object
      properties:
        summary: { type: string, minLength: 3 }
        urgency: { type: string, enum: [low, high] }
      required: [summary, urgency]
      additionalProperties: false
    save_record: { kind: ticket }
  book_callback:
    description: Books a callback at the number the caller gives.
    slots: [phone]
    save_record: { kind: callback }
  lookup_customer:
    description: Finds the customer by phone number.
    parameters:
      type: object
      properties: { phone: { type: string } }
      required: [phone]
    webhook: { url: "https://crm.example/customers", method: GET, timeout_ms: 2000 }
  transfer:
    description: Hands the caller to a human agent.
    transfer: { target: support-queue, reason: asked for a human }
  end_call:
    description: Ends the call when the caller is done.
    hangup: { reason: done }
states:
  TALK:
    llm:
      prompt: prompt.md
      style: neutre
      max_tool_rounds: 2
      tools: [save_ticket, book_callback, lookup_customer, transfer, end_call]
  CALLBACK:
    say: Your number?
    slots:
      - { name: phone, type: phone }
  OOPS:
    say: Sorry, something went wrong.
    actions: []
    next: BYE
  BYE:
    say: Goodbye.
    on_enter: [{ hangup: {} }]
`.replace('    actions: []\n', '');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'palabre-tools-'));
  writeFileSync(join(dir, 'prompt.md'), 'You take support calls. The caller is {caller_id}, calling on {call_date} at {call_time} over {transport}.');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function started(answers: Parameters<typeof scriptedToolLlm>[0], context = {}) {
  const flow = await flowFrom(FLOW, { baseDir: dir });
  const llm = scriptedToolLlm(answers);
  const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}), llm, idGenerator: counter(), context });
  return { flow, llm, runtime };
}

function toolMessages(messages: Array<{ role: string }>): Array<{ toolCallId: string; content: string }> {
  return messages.filter((m) => m.role === 'tool') as unknown as Array<{ toolCallId: string; content: string }>;
}

describe('tools in llm states', () => {
  it('runs a tool call with valid arguments as a record effect, sends the result back, and speaks what the model says around it', async () => {
    const { llm, runtime } = await started([
      'Hello, how can I help?',
      { text: 'I am writing it down. ', calls: [{ name: 'save_ticket', arguments: { summary: 'internet is down', urgency: 'high' } }] },
      'Your ticket is saved. Anything else?',
    ]);
    await runtime.start();
    const early: DialogOutput[] = [];
    const out = await runtime.handle({ type: 'utterance', text: 'my internet is down' }, undefined, (o) => early.push(...o));
    // The sentence before the call is spoken before the tool runs; the record goes out at once; the model's words after it follow.
    expect(brief(early)).toEqual(['say:I am writing it down.', 'effect:save_record', 'say:Your ticket is saved.', 'say:Anything else?']);
    expect(brief(out)).toEqual(['listen']);
    expect(early.find((o) => o.type === 'effect')).toEqual({ type: 'effect', id: 'fx-1', effect: { type: 'save_record', kind: 'ticket', data: { summary: 'internet is down', urgency: 'high' } } });
    expect(runtime.snapshot().records).toEqual([{ kind: 'ticket', data: { summary: 'internet is down', urgency: 'high' } }]);
    // The model was offered the tools with their schemas, and got the result as a tool message.
    const second = llm.requests[1];
    expect(second.options.tools?.map((t) => t.name)).toEqual(['save_ticket', 'book_callback', 'lookup_customer', 'transfer', 'end_call']);
    expect(second.options.tools?.[1].parameters).toMatchObject({ type: 'object', required: ['phone'], additionalProperties: false });
    const third = llm.requests[2].messages;
    expect(third.at(-2)).toMatchObject({ role: 'assistant', content: 'I am writing it down. ', toolCalls: [{ name: 'save_ticket' }] });
    expect(toolMessages(third)).toEqual([{ role: 'tool', toolCallId: 'call_1', content: '{"ok":true,"saved":"ticket"}' }]);
    // The next turn's context holds what was said, not the tool exchange.
    await runtime.handle({ type: 'utterance', text: 'no thanks' });
    expect(llm.requests[3].messages.slice(-3).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('rejects arguments that do not match the schema: nothing runs, the model reads the error and may try again', async () => {
    const { llm, runtime } = await started([
      'Hello.',
      { calls: [{ name: 'save_ticket', arguments: { summary: 'x', urgency: 'urgent', extra: 1 } }] },
      { calls: [{ name: 'save_ticket', arguments: { summary: 'wifi broken', urgency: 'low' } }] },
      'Saved.',
    ]);
    await runtime.start();
    const out = await runtime.handle({ type: 'utterance', text: 'my wifi' });
    expect(brief(out)).toEqual(['say:Saved.', 'effect:save_record', 'listen']);
    const [rejected, accepted] = toolMessages(llm.requests[3].messages);
    expect(JSON.parse(rejected.content)).toEqual({
      ok: false,
      error: 'invalid arguments for save_ticket, nothing was done: arguments: unexpected property "extra"; summary: must NOT have fewer than 3 characters; urgency: must be one of "low", "high". Call it again with corrected arguments if you can.',
    });
    expect(JSON.parse(accepted.content)).toEqual({ ok: true, saved: 'ticket' });
    expect(runtime.snapshot().records).toHaveLength(1);
  });

  it('bounds the rounds: the last request allows no tool, and an unknown tool is reported to the model', async () => {
    const loop = { calls: [{ name: 'nope', arguments: {} }] };
    const { llm, runtime } = await started(['Hello.', loop, loop, { text: 'I cannot do that. ', calls: [{ name: 'nope', arguments: {} }] }]);
    await runtime.start();
    const out = await runtime.handle({ type: 'utterance', text: 'do something' });
    expect(says(out)).toEqual(['I cannot do that.']);
    expect(llm.requests.slice(1).map((r) => r.options.toolChoice)).toEqual(['auto', 'auto', 'none']);
    expect(toolMessages(llm.requests[3].messages)[0].content).toMatch(/there is no tool \\?"nope\\?" here; the tools are save_ticket, book_callback/);
  });

  it('a slot-typed tool fills the slots it names; a transfer tool ends the turn after the words before it', async () => {
    const { llm, runtime } = await started([
      'Hello.',
      { calls: [{ name: 'book_callback', arguments: { phone: '0612345678' } }] },
      { text: 'Let me put you through to a colleague.', calls: [{ name: 'transfer', arguments: {} }] },
    ]);
    await runtime.start();
    const out = await runtime.handle({ type: 'utterance', text: 'call me back, or get me a human' });
    expect(brief(out)).toEqual(['slot:phone="0612345678"', 'say:Let me put you through to a colleague.', 'effect:save_record', 'transfer:support-queue']);
    expect(out.at(-1)).toEqual({ type: 'transfer', target: 'support-queue', reason: 'asked for a human' });
    expect(runtime.snapshot()).toMatchObject({ slots: { phone: '0612345678' }, ended: true, records: [{ kind: 'callback', data: { phone: '0612345678' } }] });
    expect(llm.requests).toHaveLength(3);
  });

  it('a record a tool saved goes out at once: a model failing on its next words does not lose it', async () => {
    const { runtime } = await started(['Hello.', { calls: [{ name: 'save_ticket', arguments: { summary: 'line is dead', urgency: 'high' } }] }, new Error('model overloaded')]);
    await runtime.start();
    const early: DialogOutput[] = [];
    const out = await runtime.handle({ type: 'utterance', text: 'my line is dead' }, undefined, (o) => early.push(...o));
    expect(brief(early)).toEqual(['effect:save_record']);
    expect(brief(out)).toEqual(['state:TALK>OOPS', 'state:OOPS>BYE', 'say:Sorry, something went wrong.', 'say:Goodbye.', 'hangup:completed']);
  });

  it('a hangup tool with nothing said ends the call without an empty-reply error', async () => {
    const { runtime } = await started(['Hello.', { calls: [{ name: 'end_call', arguments: {} }] }]);
    await runtime.start();
    expect(brief(await runtime.handle({ type: 'utterance', text: 'bye' }))).toEqual(['hangup:done']);
  });

  it('a lookup webhook pauses the turn; its JSON answer goes back to the model, which goes on', async () => {
    const { llm, runtime } = await started(['Hello.', { text: 'Let me look you up.', calls: [{ name: 'lookup_customer', arguments: { phone: '+33 6 12' } }] }, 'Welcome back, Ana.']);
    await runtime.start();
    const out = await runtime.handle({ type: 'utterance', text: 'it is +33 6 12' });
    expect(brief(out)).toEqual(['say:Let me look you up.', 'effect:webhook']);
    expect(out[1]).toMatchObject({ id: 'fx-1', effect: { type: 'webhook', method: 'GET', url: 'https://crm.example/customers?phone=%2B33+6+12', timeoutMs: 2000 } });
    // The caller speaking while the lookup is out changes nothing.
    expect(await runtime.handle({ type: 'utterance', text: 'hello?' })).toEqual([]);
    const resumed = await runtime.handle({ type: 'action-result', id: 'fx-1', ok: true, data: { status: 200, body: { name: 'Ana' } } });
    expect(brief(resumed)).toEqual(['say:Welcome back, Ana.', 'listen']);
    expect(toolMessages(llm.requests[2].messages)[0].content).toBe('{"ok":true,"status":200,"body":{"name":"Ana"}}');
  });

  it('a model without stream() answers in words through chat(), tools left out', async () => {
    const flow = await flowFrom(FLOW, { baseDir: dir });
    const llm = scriptedLlm(['Hello.', 'I can only talk.']);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}), llm });
    await runtime.start();
    expect(says(await runtime.handle({ type: 'utterance', text: 'save a ticket' }))).toEqual(['I can only talk.']);
  });

  it('fills the call context into prompts and texts', async () => {
    const { llm } = await (async () => {
      const s = await started(['Hello.'], { callerId: '+33612345678', transport: 'twilio', callId: 'c-1', startedAt: new Date('2026-03-05T14:30:00Z'), timeZone: 'UTC' });
      await s.runtime.start();
      return s;
    })();
    expect(llm.requests[0].messages[0].content).toContain('The caller is +33612345678, calling on Thursday, March 5, 2026 at 2:30 PM over twilio.');
    const flow = await flowFrom(`
id: ctx
languages: [fr]
start: HI
states:
  HI:
    say: "Appel {call_id} du {call_date} à {call_time}, numéro {caller_id}."
    on_enter: [{ hangup: {} }]
`);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}), context: { callId: 'c-2', callerId: '0612', startedAt: new Date('2026-03-05T14:30:00Z'), timeZone: 'Europe/Paris' } });
    expect(says(await runtime.start())).toEqual(['Appel c-2 du jeudi 5 mars 2026 à 15:30, numéro 0612.']);
  });
});

describe('tool definitions', () => {
  const problems = async (yaml: string) => {
    const err = await flowFrom(yaml, { baseDir: dir }).catch((e: Error) => e);
    return err instanceof Error ? err.message : 'loaded';
  };

  it('reports a mistyped JSON schema, an unknown slot and an unknown tool at their lines', async () => {
    const bad = FLOW.replace('      properties: { phone: { type: string } }', '      proprties: { phone: { type: string } }')
      .replace('slots: [phone]', 'slots: [phnoe]')
      .replace('tools: [save_ticket,', 'tools: [save_tikcet,');
    const message = await problems(bad);
    expect(message).toMatch(/test\.yaml:\d+:\d+: tools\.lookup_customer\.parameters: invalid JSON schema: strict mode: unknown keyword: "proprties"/);
    expect(message).toMatch(/test\.yaml:19:13: tools\.book_callback\.slots\[0\]: unknown slot "phnoe" \(did you mean phone\?\)/);
    expect(message).toMatch(/states\.TALK\.llm\.tools\[0\]: unknown tool "save_tikcet" \(did you mean save_ticket\?\)/);
  });

  it('a tool does one thing', async () => {
    expect(await problems(FLOW.replace('    hangup: { reason: done }', '    hangup: { reason: done }\n    transfer: desk'))).toMatch(/tools\.end_call: a tool does one thing; this one has transfer and hangup/);
  });
});

describe('YAML prompt files', () => {
  const coach = (prompt: string) => `
id: coach
languages: [fr, en]
start: TALK
variables: { level: B1 }
states:
  TALK:
    llm:
      prompt: ${prompt}
      style: neutre
`;
  beforeAll(() => {
    writeFileSync(
      join(dir, 'coach.prompt.yaml'),
      [
        'system:',
        '  fr: Tu es un coach.',
        '  en: You are a coach.',
        'template: "Level {level}. Caller {caller_id}."',
        'examples:',
        '  en:',
        '    - user: hello',
        '      assistant: "Hello! Level {level}."',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'typo.prompt.yaml'), ['template: Level {level}.', 'exemples:', '  - user: hi', '    assistant: hello', ''].join('\n'));
    writeFileSync(join(dir, 'unknown.prompt.yaml'), ['system: Hi', 'template: |', '  Level {levle}.', ''].join('\n'));
    writeFileSync(join(dir, 'plain.yaml'), 'template: hi\n');
  });

  it('reads system, template and few-shot examples per language, filled like any text', async () => {
    const flow = await flowFrom(coach('coach.prompt.yaml'), { baseDir: dir });
    const llm = scriptedLlm(['Hi.']);
    const runtime = createDialogRuntime(flow, { language: 'en', classifier: phraseClassifier({}), llm, context: { callerId: '555' } });
    await runtime.start();
    const [system, ...rest] = llm.requests[0];
    expect(system.content).toMatch(/^You are a coach\.\n\nLevel B1\. Caller 555\.\n\nReply in English/);
    expect(rest).toEqual([
      { role: 'user', content: 'hello' },
      { role: 'assistant', content: 'Hello! Level B1.' },
      { role: 'user', content: '(The conversation starts now: open it.)' },
    ]);
    // French has no examples: none are sent.
    const fr = scriptedLlm(['Salut.']);
    await createDialogRuntime(flow, { language: 'fr', classifier: phraseClassifier({}), llm: fr }).start();
    expect(fr.requests[0].map((m) => m.role)).toEqual(['system', 'user']);
    expect(fr.requests[0][0].content).toMatch(/^Tu es un coach\.\n\nLevel B1\. Caller \./);
  });

  it('reports a bad key or an unknown placeholder with the prompt file and its line', async () => {
    const typo = await flowFrom(coach('typo.prompt.yaml'), { baseDir: dir }).catch((e: Error) => e.message);
    expect(typo).toBe('typo.prompt.yaml:2:1: exemples: unknown key "exemples" (did you mean examples?)');
    const unknown = await flowFrom(coach('unknown.prompt.yaml'), { baseDir: dir }).catch((e: Error) => e.message);
    expect(unknown).toBe('unknown.prompt.yaml:2:11: template: {levle} is neither a slot nor a variable of the flow (did you mean level?)');
    const plain = await flowFrom(coach('plain.yaml'), { baseDir: dir }).catch((e: Error) => e.message);
    expect(plain).toMatch(/test\.yaml:9:15: states\.TALK\.llm\.prompt: YAML prompt file plain\.yaml must be named \*\.prompt\.yaml/);
  });

  it('is named *.prompt.yaml so that a flows directory does not load it as a flow', async () => {
    const flows = mkdtempSync(join(tmpdir(), 'palabre-promptdir-'));
    try {
      writeFileSync(join(flows, 'coach.yaml'), coach('coach.prompt.yaml'));
      writeFileSync(join(flows, 'coach.prompt.yaml'), 'template: Level {level}.\n');
      const registry = await loadFlowsDir(flows, { llmAvailable: true });
      expect(registry.list().map((f) => [f.id, f.error])).toEqual([['coach', undefined]]);
      expect(registry.get('coach').prompts.TALK).toEqual({ fr: 'Level {level}.', en: 'Level {level}.' });
    } finally {
      rmSync(flows, { recursive: true, force: true });
    }
  });
});
