/**
 * The dialog runtime as a state machine: events in, outputs out, no audio.
 * Turns are classified with an exact phrase table (test-support.ts) and slots
 * are read by the real extractors.
 */
import { describe, expect, it } from 'vitest';
import { createDialogRuntime } from './runtime.js';
import { brief, counter, flowFrom, phraseClassifier, says } from './test-support.js';
import type { DialogOutput, ListenSpec } from './types.js';

const ZIP_FLOW = `
id: zip
languages: [fr, en]
start: ASK_ZIP
error: OOPS
defaults:
  voices: { fr: fr-voice, en: en-voice }
  style: neutre
  listen:
    endpointing: { mode: silence, silence_ms: 900 }
    no_input_ms: 5000
    barge_in: { allowed: false }
  unknown:
    say: { fr: Pardon ?, en: Sorry? }
    max: 2
    exceeded: HUMAN
  no_input:
    say: { fr: Allô ?, en: Hello? }
    max: 1
    exceeded: { say: { fr: Tant pis., en: Never mind. }, goto: BYE }
intents:
  WHY: { examples: { fr: [pourquoi], en: [why] } }
  YES: { examples: { fr: [oui], en: [yes] } }
  HELP: { examples: { fr: [aide], en: [help] } }
  REPEAT: { examples: { fr: [répétez], en: [repeat] } }
  AGENT: { examples: { fr: [conseiller], en: [agent] } }
global_intents:
  REPEAT: { repeat: true }
  HELP: { say: { fr: Je suis là pour vous aider., en: I am here to help. } }
  AGENT: { goto: HUMAN }
states:
  ASK_ZIP:
    say: { fr: Votre code postal ?, en: Your zip code? }
    listen:
      endpointing: { mode: digits, count: 5 }
      hints: { fr: [code postal] }
    slots:
      - name: zip
        type: zip_code_fr
        prompt: { fr: Chiffre par chiffre ?, en: Digit by digit? }
    counters:
      why: { max: 1, exceeded: { say: { fr: Passons., en: Let us move on. }, goto: CONFIRM } }
    on:
      - dtmf: "0"
        goto: HUMAN
      - slot_filled: zip
        say: { fr: "Noté : {zip}.", en: "Got it: {zip}." }
        goto: CONFIRM
      - intent: WHY
        counter: why
        say: { fr: Pour connaître votre zone., en: To know your area. }
  CONFIRM:
    style: empathie
    say:
      - when: { zip: null }
        text: { fr: On continue sans code ?, en: Carry on without a zip code? }
      - text: { fr: "Je confirme {zip} ?", en: "Shall I confirm {zip}?" }
    on:
      - intent: YES
        goto: BYE
  HUMAN:
    say: { fr: Je vous passe un conseiller., en: Transferring you. }
    on_enter: [{ transfer: { target: queue-1, reason: asked } }]
  BYE:
    say: { fr: Au revoir., en: Goodbye. }
    on_enter:
      - save_record: { kind: lead, data: { zip: "{zip}", label: "code {zip}", state: "{state}", nested: { list: ["{zip}", 3] } } }
      - hangup: {}
  OOPS:
    say: { fr: "Erreur.", en: "Error." }
    on_enter: [{ hangup: { reason: error } }]
`;

const TABLE = { pourquoi: 'WHY', why: 'WHY', oui: 'YES', yes: 'YES', aide: 'HELP', help: 'HELP', répétez: 'REPEAT', repeat: 'REPEAT', conseiller: 'AGENT', agent: 'AGENT', 'peut-être': ['YES', 0.3] as [string, number] };

async function zipRuntime(language = 'fr') {
  const flow = await flowFrom(ZIP_FLOW);
  const classifier = phraseClassifier(TABLE);
  const runtime = createDialogRuntime(flow, { language, classifier, idGenerator: counter() });
  return { runtime, classifier, first: await runtime.start() };
}

function listenOf(outputs: DialogOutput[]): ListenSpec {
  const last = outputs[outputs.length - 1];
  if (last?.type !== 'listen') throw new Error(`expected listen last, got ${JSON.stringify(last)}`);
  return last.spec;
}

describe('start and listening', () => {
  it('enters the start state, says its prompt with the flow voice and style, then listens with merged settings', async () => {
    const { first } = await zipRuntime();
    expect(brief(first)).toEqual(['state:>ASK_ZIP', 'say:Votre code postal ?', 'listen']);
    expect(first[1]).toEqual({ type: 'say', text: 'Votre code postal ?', language: 'fr', style: 'neutre', voice: 'fr-voice', cacheable: true });
    expect(listenOf(first)).toEqual({
      endpointing: { mode: 'digits', count: 5, interDigitMs: 3000 },
      minSpeechMs: 250,
      maxUtteranceMs: 20_000,
      noInputMs: 5000,
      bargeIn: { allowed: false, minSpeechMs: 400, minWords: 1 },
      hints: ['code postal'],
      dtmf: true,
    });
  });

  it('speaks the language it was created with, and refuses one the flow does not speak', async () => {
    const { first } = await zipRuntime('en');
    expect(says(first)).toEqual(['Your zip code?']);
    expect(listenOf(first).hints).toBeUndefined();
    const flow = await flowFrom(ZIP_FLOW);
    expect(() => createDialogRuntime(flow, { language: 'de', classifier: phraseClassifier({}) })).toThrow(/does not speak de; it speaks fr, en/);
  });

  it('refuses events before start() and a second start()', async () => {
    const flow = await flowFrom(ZIP_FLOW);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({}) });
    await expect(runtime.handle({ type: 'no-input' })).rejects.toThrow(/before start/);
    await runtime.start();
    await expect(runtime.start()).rejects.toThrow(/already started/);
  });
});

describe('transitions, slots and interpolation', () => {
  it('a slot filled from words takes its transition: intent, slot, state, then says, then listen', async () => {
    const { runtime } = await zipRuntime();
    const out = await runtime.handle({ type: 'utterance', text: 'c’est le 75011' });
    expect(brief(out)).toEqual(['intent:null', 'slot:zip="75011"', 'state:ASK_ZIP>CONFIRM', 'say:Noté : 75011.', 'say:Je confirme 75011 ?', 'listen']);
    // Filled texts are not fixed prompts: the phrase cache must not keep them as such.
    expect(out.filter((o) => o.type === 'say').map((o) => (o as { cacheable: boolean }).cacheable)).toEqual([false, false]);
    expect(out.find((o) => o.type === 'say' && o.text.startsWith('Je confirme'))).toMatchObject({ style: 'empathie' });
    // Back to the flow's default listening settings: CONFIRM overrides nothing.
    expect(listenOf(out).endpointing).toEqual({ mode: 'silence', silenceMs: 900 });
    expect(listenOf(out).dtmf).toBe(false);
  });

  it('keypad digits fill the zip code slot', async () => {
    const { runtime } = await zipRuntime();
    const out = await runtime.handle({ type: 'dtmf', digits: '69003' });
    expect(brief(out)).toEqual(['slot:zip="69003"', 'state:ASK_ZIP>CONFIRM', 'say:Noté : 69003.', 'say:Je confirme 69003 ?', 'listen']);
    expect(out[0]).toEqual({ type: 'slot', name: 'zip', value: '69003', confidence: 1 });
  });

  it('a dtmf transition on those keys wins over reading them into a slot', async () => {
    const { runtime } = await zipRuntime();
    const out = await runtime.handle({ type: 'dtmf', digits: '0' });
    expect(brief(out)).toEqual(['state:ASK_ZIP>HUMAN', 'say:Je vous passe un conseiller.', 'transfer:queue-1']);
    expect(out[2]).toEqual({ type: 'transfer', target: 'queue-1', reason: 'asked' });
    expect(runtime.snapshot().ended).toBe(true);
    expect(await runtime.handle({ type: 'utterance', text: 'oui' })).toEqual([]);
  });

  it('picks the say variant whose condition holds (a missing slot equals null)', async () => {
    const { runtime } = await zipRuntime();
    await runtime.handle({ type: 'utterance', text: 'pourquoi' });
    const out = await runtime.handle({ type: 'utterance', text: 'pourquoi' });
    expect(says(out)).toEqual(['Passons.', 'On continue sans code ?']);
  });

  it('records keep value types for whole placeholders and fill mixed strings and nested values', async () => {
    const { runtime } = await zipRuntime();
    await runtime.handle({ type: 'dtmf', digits: '75001' });
    const out = await runtime.handle({ type: 'utterance', text: 'oui' });
    expect(brief(out)).toEqual(['intent:YES', 'state:CONFIRM>BYE', 'say:Au revoir.', 'effect:save_record', 'hangup:completed']);
    expect(out[3]).toEqual({ type: 'effect', id: 'fx-1', effect: { type: 'save_record', kind: 'lead', data: { zip: '75001', label: 'code 75001', state: 'BYE', nested: { list: ['75001', 3] } } } });
    expect(runtime.snapshot()).toMatchObject({ state: 'BYE', ended: true, slots: { zip: '75001' }, records: [{ kind: 'lead', data: { zip: '75001' } }] });
  });
});

describe('counters, unknown and no-input paths', () => {
  it('a counter allows its max, then runs its exceeded path instead', async () => {
    const { runtime } = await zipRuntime();
    const once = await runtime.handle({ type: 'utterance', text: 'pourquoi' });
    // Stays: explanation, then asks for the missing slot with its own prompt.
    expect(brief(once)).toEqual(['intent:WHY', 'say:Pour connaître votre zone.', 'say:Chiffre par chiffre ?', 'listen']);
    expect(runtime.snapshot().counters.why).toBe(1);
    const twice = await runtime.handle({ type: 'utterance', text: 'pourquoi' });
    expect(brief(twice)).toEqual(['intent:WHY', 'state:ASK_ZIP>CONFIRM', 'say:Passons.', 'say:On continue sans code ?', 'listen']);
    expect(runtime.snapshot().counters.why).toBe(2);
  });

  it('unknown: says sorry and asks again up to max, then goes where exceeded says', async () => {
    const { runtime } = await zipRuntime();
    for (let i = 1; i <= 2; i++) {
      const out = await runtime.handle({ type: 'utterance', text: 'bla bla' });
      expect(brief(out)).toEqual(['intent:null', 'say:Pardon ?', 'say:Chiffre par chiffre ?', 'listen']);
      expect(runtime.snapshot().counters['ASK_ZIP.unknown']).toBe(i);
    }
    const out = await runtime.handle({ type: 'utterance', text: 'bla bla' });
    expect(brief(out)).toEqual(['intent:null', 'state:ASK_ZIP>HUMAN', 'say:Je vous passe un conseiller.', 'transfer:queue-1']);
  });

  it('a classification below the threshold is unknown', async () => {
    const { runtime } = await zipRuntime();
    await runtime.handle({ type: 'dtmf', digits: '75001' });
    const out = await runtime.handle({ type: 'utterance', text: 'peut-être' });
    expect(out[0]).toEqual({ type: 'intent', intent: null, confidence: 0.3, source: 'table', text: 'peut-être' });
    expect(says(out)).toEqual(['Pardon ?', 'Je confirme 75001 ?']);
  });

  it('no-input: reprompts with a counter, then takes its path; an empty transcript counts as no input', async () => {
    const { runtime } = await zipRuntime();
    const first = await runtime.handle({ type: 'no-input' });
    expect(brief(first)).toEqual(['say:Allô ?', 'say:Chiffre par chiffre ?', 'listen']);
    const second = await runtime.handle({ type: 'utterance', text: '   ' });
    expect(brief(second)).toEqual(['state:ASK_ZIP>BYE', 'say:Tant pis.', 'say:Au revoir.', 'effect:save_record', 'hangup:completed']);
    expect(runtime.snapshot().records[0].data).toEqual({ zip: null, label: 'code ', state: 'BYE', nested: { list: [null, 3] } });
  });

  it('retry counts start afresh on each visit of a state', async () => {
    const flow = await flowFrom(`
id: loop
languages: [en]
start: A
defaults: { unknown: { max: 1, exceeded: B } }
intents: { GO: { examples: { en: [go] } } }
states:
  A: { say: In A., on: [{ intent: GO, goto: B }] }
  B: { say: In B., on: [{ intent: GO, goto: A }] }
`);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ go: 'GO' }) });
    await runtime.start();
    expect(says(await runtime.handle({ type: 'utterance', text: 'what' }))).toEqual(['In A.']);
    await runtime.handle({ type: 'utterance', text: 'go' });
    await runtime.handle({ type: 'utterance', text: 'go' });
    expect(runtime.snapshot().counters['A.unknown']).toBeUndefined();
    // One more unknown in A is again the first of this visit: asked again, not sent to B.
    expect(brief(await runtime.handle({ type: 'utterance', text: 'what' }))).toEqual(['intent:null', 'say:In A.', 'listen']);
  });
});

describe('repeat and global intents', () => {
  it('a repeat event says the last prompt again and listens', async () => {
    const { runtime } = await zipRuntime();
    await runtime.handle({ type: 'utterance', text: 'pourquoi' });
    const out = await runtime.handle({ type: 'repeat' });
    expect(brief(out)).toEqual(['say:Pour connaître votre zone.', 'say:Chiffre par chiffre ?', 'listen']);
  });

  it('the global repeat intent does the same; a global FAQ answers then asks again; a global goto leaves', async () => {
    const { runtime, classifier } = await zipRuntime();
    expect(brief(await runtime.handle({ type: 'utterance', text: 'répétez' }))).toEqual(['intent:REPEAT', 'say:Votre code postal ?', 'listen']);
    expect(brief(await runtime.handle({ type: 'utterance', text: 'aide' }))).toEqual(['intent:HELP', 'say:Je suis là pour vous aider.', 'say:Chiffre par chiffre ?', 'listen']);
    expect(brief(await runtime.handle({ type: 'utterance', text: 'conseiller' }))).toEqual(['intent:AGENT', 'state:ASK_ZIP>HUMAN', 'say:Je vous passe un conseiller.', 'transfer:queue-1']);
    // The classifier was only offered the state's intents and the global ones.
    expect([...classifier.calls[0].candidates].sort()).toEqual(['AGENT', 'HELP', 'REPEAT', 'WHY']);
  });

  it('a state transition on a global intent overrides the global behaviour', async () => {
    const flow = await flowFrom(`
id: override
languages: [en]
start: A
intents: { HELP: { examples: { en: [help] } } }
global_intents: { HELP: { say: Global help. } }
states:
  A: { say: In A., on: [{ intent: HELP, say: Local help., goto: B }] }
  B: { say: Bye., on_enter: [{ hangup: null }] }
`);
    const runtime = createDialogRuntime(flow, { classifier: phraseClassifier({ help: 'HELP' }) });
    await runtime.start();
    expect(says(await runtime.handle({ type: 'utterance', text: 'help' }))).toEqual(['Local help.', 'Bye.']);
  });
});
