/**
 * The runtime's side of effects (records, webhooks, transfer, hangup), the
 * error state, language-model states and multi-slot states.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDialogRuntime } from './runtime.js';
import { brief, counter, flowFrom, phraseClassifier, says, scriptedLlm } from './test-support.js';
import type { DialogLlm } from './llm.js';
import type { DialogOutput, IntentClassifier } from './types.js';

const WEBHOOK_FLOW = `
id: hooks
languages: [en]
start: ASK
error: OOPS
variables: { plan: gold, who: null }
intents:
  YES: { examples: { en: [yes] } }
  CHECK: { examples: { en: [check] } }
states:
  ASK:
    say: Shall I open a case?
    on:
      - intent: YES
        say: One moment.
        actions:
          - set: { asked: true }
          - webhook:
              url: "https://crm.example/cases/{plan}?who={who}"
              method: POST
              headers: { x-plan: "{plan}" }
              body: { plan: "{plan}", asked: "{asked}" }
              timeout_ms: 2000
              save_as: crm
              on_failure: { say: The system is down., goto: HUMAN }
          - set: { after: "{crm.case}" }
        goto: DONE
      - intent: CHECK
        actions:
          - webhook: { url: "https://crm.example/check" }
        goto: DONE
  DONE:
    say: "Case {crm.case} is open, status {crm.status}."
    on_enter:
      - save_record: { kind: ticket, data: { case: "{crm.case}", after: "{after}" } }
      - hangup: { reason: done }
  HUMAN:
    say: An advisor will help you.
    on_enter: [{ transfer: advisors }]
  OOPS:
    say: "Sorry, a technical problem: {error}"
    on_enter: [{ hangup: { reason: error } }]
`;

async function hooks(variables: Record<string, unknown> = {}) {
  const flow = await flowFrom(WEBHOOK_FLOW);
  Object.assign(flow.definition.variables!, variables);
  const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ yes: 'YES', check: 'CHECK' }), idGenerator: counter() });
  await runtime.start();
  return runtime;
}

function effectOf(outputs: DialogOutput[]) {
  const effect = outputs.find((o) => o.type === 'effect');
  if (!effect || effect.type !== 'effect') throw new Error('no effect');
  return effect;
}

describe('webhooks', () => {
  it('a webhook pauses the flow (no listen) until its result; success fills save_as and carries on to the goto', async () => {
    const runtime = await hooks({ who: 'a b&c' });
    const out = await runtime.handle({ type: 'utterance', text: 'yes' });
    expect(brief(out)).toEqual(['intent:YES', 'say:One moment.', 'effect:webhook']);
    expect(effectOf(out)).toEqual({
      type: 'effect',
      id: 'fx-1',
      effect: { type: 'webhook', url: 'https://crm.example/cases/gold?who=a%20b%26c', method: 'POST', headers: { 'x-plan': 'gold' }, body: { plan: 'gold', asked: true }, timeoutMs: 2000 },
    });
    // The caller speaking meanwhile changes nothing: the flow asked nothing yet.
    expect(await runtime.handle({ type: 'utterance', text: 'yes' })).toEqual([]);
    const done = await runtime.handle({ type: 'action-result', id: 'fx-1', ok: true, data: { case: 'C-42', status: 'new' } });
    expect(brief(done)).toEqual(['state:ASK>DONE', 'say:Case C-42 is open, status new.', 'effect:save_record', 'hangup:done']);
    expect(effectOf(done).effect).toEqual({ type: 'save_record', kind: 'ticket', data: { case: 'C-42', after: 'C-42' } });
    expect(runtime.snapshot().variables).toMatchObject({ crm: { case: 'C-42', status: 'new' }, asked: true, after: 'C-42' });
  });

  it('a failed webhook with on_failure takes that path', async () => {
    const runtime = await hooks();
    await runtime.handle({ type: 'utterance', text: 'yes' });
    const out = await runtime.handle({ type: 'action-result', id: 'fx-1', ok: false, error: 'timeout after 2000 ms' });
    expect(brief(out)).toEqual(['state:ASK>HUMAN', 'say:The system is down.', 'say:An advisor will help you.', 'transfer:advisors']);
    expect(runtime.snapshot().variables.error).toBe('timeout after 2000 ms');
  });

  it('a failed webhook without on_failure goes to the error state', async () => {
    const runtime = await hooks();
    const out = await runtime.handle({ type: 'utterance', text: 'check' });
    expect(brief(out)).toEqual(['intent:CHECK', 'effect:webhook']);
    expect(effectOf(out).effect).toMatchObject({ method: 'POST', timeoutMs: 5000 });
    const failed = await runtime.handle({ type: 'action-result', id: 'fx-1', ok: false, error: 'HTTP 500' });
    expect(brief(failed)).toEqual(['state:ASK>OOPS', 'say:Sorry, a technical problem: webhook POST https://crm.example/check failed: HTTP 500', 'hangup:error']);
  });

  it('an unknown effect id is ignored', async () => {
    const runtime = await hooks();
    expect(await runtime.handle({ type: 'action-result', id: 'nope', ok: true })).toEqual([]);
  });
});

describe('records, hangup and errors', () => {
  const FLOW = `
id: rec
languages: [en]
start: A
error: OOPS
intents: { SAVE: { examples: { en: [save] } } }
on_hangup:
  - save_record: { kind: partial, data: { where: "{state}", why: "{hangup_reason}" } }
states:
  A:
    say: Say save.
    on: [{ intent: SAVE, actions: [{ save_record: { kind: note, data: { n: 1 } } }], say: Saved. }]
  OOPS:
    say: "Problem: {error}."
    on_enter: [{ hangup: { reason: error } }]
`;

  it('a record saves without stopping the flow; its failure while the caller is there goes to the error state', async () => {
    const flow = await flowFrom(FLOW);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ save: 'SAVE' }), idGenerator: counter() });
    await runtime.start();
    const out = await runtime.handle({ type: 'utterance', text: 'save' });
    expect(brief(out)).toEqual(['intent:SAVE', 'say:Saved.', 'say:Say save.', 'effect:save_record', 'listen']);
    expect(await runtime.handle({ type: 'action-result', id: 'fx-1', ok: true })).toEqual([]);
    await runtime.handle({ type: 'utterance', text: 'save' });
    const failed = await runtime.handle({ type: 'action-result', id: 'fx-2', ok: false, error: 'disk full' });
    expect(brief(failed)).toEqual(['state:A>OOPS', 'say:Problem: could not save a record: disk full.', 'hangup:error']);
  });

  it('a caller hangup runs on_hangup (a partial record) and ends the dialog', async () => {
    const flow = await flowFrom(FLOW);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}), idGenerator: counter() });
    await runtime.start();
    const out = await runtime.handle({ type: 'hangup', reason: 'caller_hangup' });
    expect(out).toEqual([{ type: 'effect', id: 'fx-1', effect: { type: 'save_record', kind: 'partial', data: { where: 'A', why: 'caller_hangup' } } }]);
    expect(runtime.snapshot().ended).toBe(true);
    expect(await runtime.handle({ type: 'no-input' })).toEqual([]);
  });

  it('a classifier that fails sends the flow to its error state; a cancelled one rejects', async () => {
    const flow = await flowFrom(FLOW);
    const broken: IntentClassifier = {
      async classify(_text, { signal }) {
        if (signal?.aborted) throw signal.reason;
        throw new Error('LLM classifier unreachable');
      },
    };
    const runtime = createDialogRuntime(flow, { classifier: broken });
    await runtime.start();
    const controller = new AbortController();
    controller.abort(new Error('barge-in'));
    await expect(runtime.handle({ type: 'utterance', text: 'save' }, controller.signal)).rejects.toThrow(/cancelled/);
    const out = await runtime.handle({ type: 'utterance', text: 'save' });
    expect(says(out)).toEqual(['Problem: intent classification failed: LLM classifier unreachable.']);
  });

  it('a flow that loops through next without waiting is stopped, and hangs up without an error state', async () => {
    const flow = await flowFrom(`
id: cycle
languages: [en]
start: A
states:
  A: { say: a, next: B }
  B: { say: b, on_enter: [{ hangup: null }] }
`);
    // The loader refuses such loops; a definition changed after loading is still stopped.
    flow.definition.states.B = { say: 'b', next: 'A' };
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}) });
    const out = await runtime.start();
    expect(out[out.length - 1]).toEqual({ type: 'hangup', reason: 'error' });
    expect(String(runtime.snapshot().variables.error)).toMatch(/went through 64 states without waiting/);
  });
});

describe('several slots in one state', () => {
  it('asks for the missing one with its prompt, and moves on once both are there', async () => {
    const flow = await flowFrom(`
id: ident
languages: [en]
start: WHO
intents: { NAME_GIVEN: { examples: { en: [my name is] } } }
states:
  WHO:
    say: Your name and email?
    slots:
      - { name: name, type: person_name, prompt: What is your name? }
      - { name: email, type: email, prompt: And your email? }
    on:
      - slot_filled: [name, email]
        say: "Thanks {name}, {email}."
        goto: END
      - intent: NAME_GIVEN
        when: { name: null }
        say: I did not catch your name.
  END: { say: Bye., on_enter: [{ hangup: null }] }
`);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ 'my name is': 'NAME_GIVEN', 'my name is john smith': 'NAME_GIVEN' }) });
    await runtime.start();
    expect(says(await runtime.handle({ type: 'utterance', text: 'my name is' }))).toEqual(['I did not catch your name.', 'What is your name?']);
    const named = await runtime.handle({ type: 'utterance', text: 'my name is john smith' });
    expect(brief(named)).toEqual(['intent:NAME_GIVEN', 'slot:name="John Smith"', 'say:And your email?', 'listen']);
    const done = await runtime.handle({ type: 'utterance', text: 'john at example dot com' });
    expect(says(done)).toEqual(['Thanks John Smith, john@example.com.', 'Bye.']);
  });
});

describe('language-model states', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palabre-llm-flow-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'scenario.md'), 'Role-play a bakery. Learner level: {level}. Turns: {turns}.');
  const yaml = `
id: coach
languages: [en]
start: TALK
error: OOPS
variables: { level: B1 }
intents: { STOP: { examples: { en: [stop] } } }
counters: { turns: { max: 2, exceeded: { say: Time is up., goto: END } } }
states:
  TALK:
    llm: { prompt: scenario.md, system: You are a coach., counter: turns, history: 4 }
    on: [{ intent: STOP, goto: END }]
  END: { say: Thanks!, on_enter: [{ hangup: null }] }
  OOPS: { say: The coach is away., on_enter: [{ hangup: { reason: error } }] }
`;

  it('opens with the model, replies with the style it picks, and stops at the turn counter', async () => {
    const flow = await flowFrom(yaml, { baseDir: dir });
    const llm = scriptedLlm(['[enthousiasme_modere] Welcome to my bakery!', '[curiosite] What would you like?', 'Anything else?']);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ stop: 'STOP' }), llm });
    const opening = await runtime.start();
    expect(opening[1]).toMatchObject({ type: 'say', text: 'Welcome to my bakery!', style: 'enthousiasme_modere', cacheable: false });
    expect(llm.requests[0][0].role).toBe('system');
    expect(llm.requests[0][0].content).toContain('You are a coach.\n\nRole-play a bakery. Learner level: B1. Turns: 0.');
    expect(llm.requests[0][0].content).toMatch(/square brackets/);
    const reply = await runtime.handle({ type: 'utterance', text: 'a croissant please' });
    expect(brief(reply)).toEqual(['intent:null', 'say:What would you like?', 'listen']);
    expect(reply[1]).toMatchObject({ style: 'curiosite' });
    expect(llm.requests[1].slice(1)).toEqual([
      { role: 'user', content: '(The conversation starts now: open it.)' },
      { role: 'assistant', content: 'Welcome to my bakery!' },
      { role: 'user', content: 'a croissant please' },
    ]);
    // An untagged reply is said in the state's (default) style.
    const third = await runtime.handle({ type: 'utterance', text: 'and bread' });
    expect(third[1]).toMatchObject({ text: 'Anything else?' });
    expect(third[1]).not.toHaveProperty('style');
    expect(says(await runtime.handle({ type: 'utterance', text: 'that is all' }))).toEqual(['Time is up.', 'Thanks!']);
    expect(llm.requests).toHaveLength(3);
  });

  it('an intent of the state still wins over the model; a failing model leads to the error state', async () => {
    const flow = await flowFrom(yaml, { baseDir: dir });
    const llm = scriptedLlm(['[neutre] Hello.', new Error('model overloaded')]);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ stop: 'STOP' }), llm });
    await runtime.start();
    expect(says(await runtime.handle({ type: 'utterance', text: 'hello' }))).toEqual(['The coach is away.']);
    const again = createDialogRuntime(flow, { classifier: phraseClassifier({ stop: 'STOP' }), llm: scriptedLlm(['Hi.']) });
    await again.start();
    expect(says(await again.handle({ type: 'utterance', text: 'stop' }))).toEqual(['Thanks!']);
  });

  it('speaks a streamed reply sentence by sentence while the model is still writing', async () => {
    const flow = await flowFrom(yaml, { baseDir: dir });
    // A model whose next delta waits for the test: the reply is known to be unfinished when the first sentence goes out.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const llm: DialogLlm = {
      chat: () =>
        (async function* () {
          yield '[curiosite] Welcome to my bakery, ';
          yield 'dear customer. Today we ';
          await gate;
          yield 'have fresh croissants. What would you like?';
        })(),
    };
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}), llm });
    const early: DialogOutput[][] = [];
    let done = false;
    const opening = runtime.start((ready) => early.push(ready)).then((rest) => ((done = true), rest));
    for (let i = 0; i < 50 && early.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
    expect(done).toBe(false);
    expect(early.map(brief)).toEqual([['state:>TALK', 'say:Welcome to my bakery, dear customer.']]);
    expect(early[0][1]).toMatchObject({ style: 'curiosite', cacheable: false });
    release();
    const rest = await opening;
    // The rest, in order, and nothing already sent is repeated; each sentence keeps the style the model chose.
    expect(brief(early.flat().concat(rest))).toEqual(['state:>TALK', 'say:Welcome to my bakery, dear customer.', 'say:Today we have fresh croissants.', 'say:What would you like?', 'listen']);
    expect(early.flat().concat(rest).filter((o) => o.type === 'say').every((o) => o.type === 'say' && o.style === 'curiosite')).toBe(true);
    // "repeat" replays every sentence, also those sent early.
    expect(says(await runtime.handle({ type: 'repeat' }))).toEqual(['Welcome to my bakery, dear customer.', 'Today we have fresh croissants.', 'What would you like?']);
  });

  it('a flow with model states cannot run without a model', async () => {
    const flow = await flowFrom(yaml, { baseDir: dir });
    expect(() => createDialogRuntime(flow, { classifier: phraseClassifier({}) })).toThrow(/needs a language model \(states TALK\)/);
  });
});
