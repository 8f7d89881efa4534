/**
 * Loading flows: each kind of mistake an author makes is reported with the
 * line and column to fix, and the loader never lets a broken flow run.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPalabreError, type PalabreError } from '../errors.js';
import { type FlowIssue, loadFlowFile, loadFlowsDir, parseFlow } from './loader.js';

const GOOD = `id: good
languages: [fr, en]
start: ASK
intents:
  YES:
    examples: { fr: [oui], en: [yes] }
states:
  ASK:
    say: { fr: "Oui ?", en: "Yes?" }
    on:
      - intent: YES
        goto: END
  END:
    say: { fr: Fin., en: End. }
    on_enter: [{ hangup: null }]
`;

/** The problems of a flow text, as `line:col path: message` lines (the file name stripped). */
async function problems(yaml: string, options: { llmAvailable?: boolean; baseDir?: string } = {}): Promise<string[]> {
  try {
    await parseFlow(yaml, { file: 'f.yaml', llmAvailable: options.llmAvailable ?? true, baseDir: options.baseDir });
  } catch (err) {
    if (!isPalabreError(err)) throw err;
    const issues = (err.details?.issues ?? []) as FlowIssue[];
    return issues.filter((i) => i.severity === 'error').map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
  }
  return [];
}

/** GOOD with one line replaced. */
function edit(find: string, replace: string): string {
  if (!GOOD.includes(find)) throw new Error(`not in GOOD: ${find}`);
  return GOOD.replace(find, replace);
}

describe('a valid flow', () => {
  it('loads with its definition, defaults applied, and no warnings', async () => {
    const flow = await parseFlow(GOOD, { file: 'good.yaml', llmAvailable: false });
    expect(flow.id).toBe('good');
    expect(flow.needsLlm).toBe(false);
    expect(flow.warnings).toEqual([]);
    expect(Object.keys(flow.definition.states)).toEqual(['ASK', 'END']);
  });

  it('warns about a state nothing leads to and an intent nothing uses, without failing', async () => {
    const flow = await parseFlow(`${GOOD}  LOST:\n    say: { fr: x, en: y }\n    next: END\n`.replace('intents:\n', 'intents:\n  UNUSED: { examples: { fr: [a], en: [b] } }\n'), { file: 'w.yaml', llmAvailable: true });
    expect(flow.warnings.map((w) => `${w.line} ${w.message}`)).toEqual([
      '17 state "LOST" is never entered: no goto, next, start or error names it',
      '5 intent "UNUSED" is defined but no state or global intent uses it',
    ]);
  });
});

describe('errors carry the line and column of the mistake', () => {
  it('YAML syntax', async () => {
    expect((await problems('id: x\nstates:\n  A: { say: [unclosed\n'))[0]).toBe('4:1 : Flow sequence in block collection must be sufficiently indented and end with a ]');
    expect(await problems('id: a\nid: b\n')).toEqual(['2:1 : Map keys must be unique']);
    expect(await problems('- just\n- a list\n')).toEqual(['1:1 : a flow is a mapping (id:, languages:, start:, states: …)']);
  });

  it('a misspelt key, with a suggestion', async () => {
    expect(await problems(edit('        goto: END', '        got: END'))).toEqual(['12:9 states.ASK.on[0].got: unknown key "got" (did you mean goto?)']);
  });

  it('a missing required key points at its parent', async () => {
    expect(await problems(edit('start: ASK\n', ''))).toEqual(['1:1 start: required, but missing']);
  });

  it('a value of the wrong type or outside its choices', async () => {
    expect(await problems(edit('languages: [fr, en]', 'languages: fr'))).toEqual(['2:12 languages: expected a list, found the string "fr"']);
    expect(await problems(edit('languages: [fr, en]', 'languages: [fr, de]'))).toEqual(['2:17 languages[1]: expected one of fr, en, found "de"']);
    expect(await problems(edit('    on:\n', '    listen: { endpointing: { mode: silense, silence_ms: 500 } }\n    on:\n'))).toEqual([
      '10:36 states.ASK.listen.endpointing.mode: expected one of silence, digits, found "silense" (did you mean silence?)',
    ]);
    expect(await problems(edit('    on:\n', '    listen: { no_input_ms: soon }\n    on:\n'))).toEqual(['10:28 states.ASK.listen.no_input_ms: expected a number, found the string "soon"']);
  });

  it('an action doing two things, or a transition with no trigger', async () => {
    expect(await problems(edit('on_enter: [{ hangup: null }]', 'on_enter: [{ hangup: null, transfer: q }]'))).toEqual([
      '15:16 states.END.on_enter[0]: an action does one thing; this one has transfer and hangup (write them as separate list items)',
    ]);
    expect(await problems(edit('      - intent: YES\n', '      - say: { fr: a, en: b }\n'))).toEqual(['11:9 states.ASK.on[0]: a transition needs one of intent, slot_filled or dtmf']);
  });

  it('a goto naming no state, with a suggestion', async () => {
    expect(await problems(edit('goto: END', 'goto: ENDD'))).toEqual(['12:15 states.ASK.on[0].goto: unknown state "ENDD" (did you mean END?)']);
    expect(await problems(edit('start: ASK', 'start: BEGIN'))).toEqual(['3:8 start: unknown state "BEGIN"']);
  });

  it('an intent used but not defined', async () => {
    expect(await problems(edit('- intent: YES', '- intent: YESS'))).toEqual(['11:17 states.ASK.on[0].intent: unknown intent "YESS" (did you mean YES?); define it under intents']);
  });

  it('a text missing a language, a plain text in a two-language flow, a language the flow does not speak', async () => {
    expect(await problems(edit('say: { fr: "Oui ?", en: "Yes?" }', 'say: { fr: "Oui ?" }'))).toEqual(['9:10 states.ASK.say: no en text (the flow speaks fr, en)']);
    expect(await problems(edit('say: { fr: "Oui ?", en: "Yes?" }', 'say: "Oui ?"'))).toEqual([
      '9:10 states.ASK.say: a plain text in a flow that speaks fr and en: give one per language ({fr: …, en: …})',
    ]);
    expect(await problems(edit('languages: [fr, en]', 'languages: [fr]'))).toEqual([
      '6:28 intents.YES.examples.en: the flow does not speak en (languages: fr)',
      '9:25 states.ASK.say.en: the flow does not speak en (languages: fr)',
      '14:22 states.END.say.en: the flow does not speak en (languages: fr)',
    ]);
    expect(await problems(edit('examples: { fr: [oui], en: [yes] }', 'examples: { fr: [oui] }'))).toEqual(['6:15 intents.YES.examples: no en examples (the flow speaks fr, en)']);
  });

  it('a placeholder that is neither a slot nor a variable', async () => {
    expect(await problems(edit('en: "Yes?"', 'en: "Yes {nmae}?"').replace('states:', 'variables: { name: null }\nstates:'))).toEqual([
      '10:29 states.ASK.say.en: {nmae} is neither a slot nor a variable of the flow (did you mean name?)',
    ]);
  });

  it('counters, slots and retries that do not hold together', async () => {
    expect(await problems(edit('        goto: END', '        counter: tries\n        goto: END'))).toEqual([
      "12:18 states.ASK.on[0].counter: unknown counter \"tries\": define it in this state's counters or the flow's counters",
    ]);
    expect(await problems(edit('    on:\n', '    slots: [{ name: zip, type: zipcode }]\n    on:\n'))).toEqual([
      '10:32 states.ASK.slots[0].type: unknown slot type "zipcode": use zip_code_fr, phone, email, person_name, company_name, yes_no, number, date_time, digits, text or an entity of the flow',
    ]);
    expect(await problems(edit('      - intent: YES\n', '      - slot_filled: zip\n'))).toEqual(['11:22 states.ASK.on[0].slot_filled: "zip" is not a slot of this state']);
    expect(await problems(edit('    on:\n', '    unknown: { max: 2 }\n    on:\n'))).toEqual(['10:21 states.ASK.unknown.max: max needs exceeded: where to go after the last retry']);
  });

  it('a state nothing leads out of', async () => {
    expect(await problems(edit("    on_enter: [{ hangup: null }]\n", ''))).toEqual([
      '13:3 states.END: this state waits for the caller but nothing leads out of it: add transitions (on), slots, next, or end the call with a hangup or transfer action',
    ]);
  });

  it('states chained by next in a loop', async () => {
    expect(await problems(edit('    on_enter: [{ hangup: null }]', '    next: LOOP\n  LOOP:\n    say: { fr: a, en: b }\n    next: END'))).toEqual([
      '15:11 states.END.next: next goes round in a loop (END → LOOP → END): the flow would never listen',
    ]);
  });

  it('every problem of a file is reported at once', async () => {
    const all = await problems(edit('goto: END', 'goto: NOWHERE').replace('- intent: YES', '- intent: MAYBE'));
    expect(all).toHaveLength(2);
  });
});

describe('language-model states and prompt files', () => {
  let dir: string;
  const coach = (prompt: string) => `id: coach
languages: [en]
start: TALK
states:
  TALK:
    llm:
      prompt: ${prompt}
      system: Be kind.
`;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'palabre-flows-'));
    mkdirSync(join(dir, 'prompts'));
    writeFileSync(join(dir, 'prompts', 'scenario.md'), 'Play a baker. Say {flow}.');
    writeFileSync(join(dir, 'prompts', 'bad.md'), 'Level {levle}.');
    writeFileSync(join(dir, 'coach.yaml'), coach('prompts/scenario.md'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the prompt file relative to the flow file, wherever the process runs', async () => {
    const flow = await loadFlowFile(join(dir, 'coach.yaml'), { llmAvailable: true });
    expect(flow.needsLlm).toBe(true);
    expect(flow.prompts).toEqual({ TALK: { en: 'Play a baker. Say {flow}.' } });
  });

  it('without a language model, fails at load naming the state that needs one', async () => {
    const err = await loadFlowFile(join(dir, 'coach.yaml'), { llmAvailable: false }).catch((e: PalabreError) => e);
    expect(isPalabreError(err) && err.code).toBe('engine_unavailable');
    expect((err as Error).message).toBe(`${join(dir, 'coach.yaml')}:6:5: states.TALK.llm: state TALK has its replies written by a language model, and no LLM is configured: configure one, or use a flow that runs offline`);
  });

  it('a missing prompt file or an unknown placeholder in it is an error at the prompt line', async () => {
    expect(await problems(coach('prompts/nope.md'), { baseDir: dir })).toEqual([`7:15 states.TALK.llm.prompt: cannot read prompt file prompts/nope.md (looked for ${join(dir, 'prompts', 'nope.md')}): no such file`]);
    expect(await problems(coach('prompts/bad.md'), { baseDir: dir })).toEqual(['7:15 states.TALK.llm.prompt: prompts/bad.md: {levle} is neither a slot nor a variable of the flow']);
  });
});

describe('a directory of flows', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'palabre-flowdir-'));
    writeFileSync(join(dir, 'good.yaml'), GOOD);
    writeFileSync(join(dir, 'broken.yml'), GOOD.replace('id: good', 'id: broken').replace('goto: END', 'goto: NOWHERE'));
    writeFileSync(join(dir, 'twin.yaml'), GOOD);
    writeFileSync(join(dir, 'notes.txt'), 'not a flow');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the good flows by id, lists the broken ones with their error, and names known ids for an unknown one', async () => {
    const registry = await loadFlowsDir(dir, { llmAvailable: false });
    expect(registry.has('good')).toBe(true);
    expect(registry.get('good').file).toBe(join(dir, 'good.yaml'));
    expect(registry.has('broken')).toBe(false);
    expect(() => registry.get('broken')).toThrow(/broken\.yml:12:15: states\.ASK\.on\[0\]\.goto: unknown state "NOWHERE"/);
    expect(() => registry.get('godo')).toThrow(/no flow "godo" \(did you mean good\?\); known flows: good/);
    const list = registry.list();
    expect(list.map((f) => [f.id, f.file.slice(dir.length + 1), f.error ? 'error' : 'ok'])).toEqual([
      ['broken', 'broken.yml', 'error'],
      ['good', 'good.yaml', 'ok'],
      ['good', 'twin.yaml', 'error'],
    ]);
    expect(list[2].error).toMatch(/flow id "good" is already used by .*good\.yaml/);
  });

  it('a missing directory or file is not_found', async () => {
    await expect(loadFlowsDir(join(dir, 'nope'), { llmAvailable: true })).rejects.toMatchObject({ code: 'not_found' });
    await expect(loadFlowFile(join(dir, 'nope.yaml'), { llmAvailable: true })).rejects.toMatchObject({ code: 'not_found' });
  });
});
