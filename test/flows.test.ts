/**
 * The shipped flows, driven turn by turn with text the way a caller answers,
 * through the real local intent classifier (in the intent chain, as a session
 * wires it) and the real slot extractors: main paths, every counter's limit,
 * the unknown and no-input paths, in each language a flow speaks, checking the
 * record each call leaves. Plus the `palabre flows` command.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowsCommand } from '../src/cli/flows.js';
import { intentDefinitions, type LoadedFlow, loadFlowFile } from '../src/dialog/index.js';
import { createIntentChain, createLocalClassifier } from '../src/dialog/intents/index.js';
import { createDialogRuntime } from '../src/dialog/runtime.js';
import { scriptedLlm } from '../src/dialog/test-support.js';
import type { DialogEvent, DialogOutput, DialogRuntime, DialogSnapshot, ListenSpec } from '../src/dialog/types.js';

const FLOWS = join(import.meta.dirname, '..', 'flows');
const NOW = new Date('2025-03-10T10:00:00'); // a Monday
const flows: Record<string, LoadedFlow> = {};

beforeAll(async () => {
  for (const id of ['heating-leads', 'support-desk', 'speaking-coach']) flows[id] = await loadFlowFile(join(FLOWS, `${id}.yaml`), { llmAvailable: true });
});

/** What a turn can be in a script: words, `#digits` on the keypad, or `…` for silence. */
type Turn = string;

function event(turn: Turn): DialogEvent {
  if (turn === '…') return { type: 'no-input' };
  if (turn.startsWith('#')) return { type: 'dtmf', digits: turn.slice(1) };
  return { type: 'utterance', text: turn };
}

interface Call {
  runtime: DialogRuntime;
  /** States entered, in order, the start state first. */
  states: string[];
  says: string[];
  outputs: DialogOutput[][];
  last: DialogOutput | undefined;
  snapshot: DialogSnapshot;
  listens: ListenSpec[];
}

function classifierFor(flow: LoadedFlow) {
  const threshold = flow.definition.defaults?.intent_threshold ?? 0.5;
  return createIntentChain([{ name: 'local', classifier: createLocalClassifier(intentDefinitions(flow)), timeoutMs: 2000 }], { threshold });
}

async function call(id: string, language: string, turns: Turn[], options: { llm?: ReturnType<typeof scriptedLlm> } = {}): Promise<Call> {
  const flow = flows[id];
  const runtime = createDialogRuntime(flow, { language, classifier: classifierFor(flow), llm: options.llm, now: () => NOW });
  const outputs = [await runtime.start()];
  for (const turn of turns) {
    if (runtime.snapshot().ended) throw new Error(`the call ended before "${turn}"`);
    outputs.push(await runtime.handle(event(turn)));
  }
  const all = outputs.flat();
  return {
    runtime,
    states: all.flatMap((o) => (o.type === 'state' ? [o.to] : [])),
    says: all.flatMap((o) => (o.type === 'say' ? [o.text] : [])),
    outputs,
    last: all[all.length - 1],
    snapshot: runtime.snapshot(),
    listens: all.flatMap((o) => (o.type === 'listen' ? [o.spec] : [])),
  };
}

function onlyRecord(c: Call): Record<string, unknown> {
  expect(c.snapshot.records).toHaveLength(1);
  return c.snapshot.records[0].data;
}

describe('loading', () => {
  it('every shipped flow loads without warnings; the offline ones load without an LLM, the coach does not', async () => {
    for (const flow of Object.values(flows)) expect(flow.warnings, flow.id).toEqual([]);
    await expect(loadFlowFile(join(FLOWS, 'heating-leads.yaml'), { llmAvailable: false })).resolves.toMatchObject({ needsLlm: false });
    await expect(loadFlowFile(join(FLOWS, 'support-desk.yaml'), { llmAvailable: false })).resolves.toMatchObject({ needsLlm: false });
    await expect(loadFlowFile(join(FLOWS, 'speaking-coach.yaml'), { llmAvailable: false })).rejects.toThrow(
      /speaking-coach\.yaml:\d+:5: states\.CONVERSATION\.llm: state CONVERSATION has its replies written by a language model, and no LLM is configured/,
    );
  });
});

describe('heating-leads (French)', () => {
  const MAIN = ['oui', "c'est soixante-quinze zéro zéro un", 'oui je suis propriétaire', 'je me chauffe au fioul', "oui d'accord", 'demain après-midi'];

  it('qualifies a lead on the main path and saves it with every collected slot', async () => {
    const c = await call('heating-leads', 'fr', MAIN);
    expect(c.states).toEqual(['init', 'ask_zip_code', 'ask_owner_house', 'ask_which_heating', 'ask_be_called_back', 'ask_slot_call_back', 'bye']);
    expect(onlyRecord(c)).toEqual({
      zip_code: '75001',
      owner: true,
      heating_type: 'fioul',
      callback_slot: { date: '2025-03-11', from: '14:00', to: '18:00', text: 'demain après-midi' },
      outcome: 'qualified',
    });
    expect(c.says[c.says.length - 1]).toBe("Parfait, c'est noté : un conseiller vous rappellera demain après-midi. Merci pour votre temps, et bonne journée !");
    expect(c.last).toEqual({ type: 'hangup', reason: 'completed' });
  });

  it('takes the zip code typed on the keypad', async () => {
    const c = await call('heating-leads', 'fr', ['oui', '#69003', 'oui', 'au gaz', 'oui', 'jeudi matin']);
    expect(onlyRecord(c)).toMatchObject({ zip_code: '69003', heating_type: 'gaz', callback_slot: { date: '2025-03-13', from: '09:00', to: '12:00' } });
  });

  it('explains once why it needs the zip code, then moves on without it', async () => {
    const c = await call('heating-leads', 'fr', ['oui', 'pourquoi vous voulez mon code postal', 'à quoi ça sert', 'oui', 'électrique', 'non', 'non merci']);
    expect(c.states.slice(0, 3)).toEqual(['init', 'ask_zip_code', 'ask_owner_house']);
    expect(c.says).toContain('Très bien, nous le verrons avec le conseiller. Passons à la suite.');
    expect(c.snapshot.counters.zip_code_why).toBe(2);
    expect(onlyRecord(c)).toMatchObject({ zip_code: null, owner: true, heating_type: 'electrique', outcome: 'no_callback' });
  });

  it('argues once against a refused call-back, then accepts the refusal', async () => {
    const once = await call('heating-leads', 'fr', ['oui', '75011', 'oui', 'au bois', 'non', 'bon ok rappelez-moi', 'samedi matin']);
    expect(once.states.filter((s) => s === 'ask_be_called_back')).toHaveLength(1);
    expect(onlyRecord(once)).toMatchObject({ zip_code: '75011', heating_type: 'bois', outcome: 'qualified', callback_slot: { date: '2025-03-15' } });
    const twice = await call('heating-leads', 'fr', ['oui', '75011', 'oui', 'au bois', 'non', 'non merci']);
    expect(twice.snapshot.counters.not_call_back).toBe(2);
    expect(onlyRecord(twice)).toMatchObject({ outcome: 'no_callback', callback_slot: null });
  });

  it('explains once when no call-back time is understood, then saves the lead without one', async () => {
    const c = await call('heating-leads', 'fr', ['oui', '13001', 'oui', 'pompe à chaleur', 'oui', 'je ne sais pas trop', 'quand vous voulez']);
    expect(c.says).toContain('Nos conseillers appellent du lundi au vendredi, de 9 heures à 19 heures, et le samedi matin.');
    expect(c.snapshot.counters.slot_call_back).toBe(2);
    expect(onlyRecord(c)).toMatchObject({ zip_code: '13001', heating_type: 'pompe_a_chaleur', callback_slot: null, outcome: 'qualified_no_slot' });
  });

  it('argues once with a caller who is not interested, and lets them go the second time', async () => {
    const convinced = await call('heating-leads', 'fr', ["non ça ne m'intéresse pas", "bon d'accord allez-y"]);
    expect(convinced.states).toEqual(['init', 'ask_zip_code']);
    const gone = await call('heating-leads', 'fr', ["non ça ne m'intéresse pas", 'non merci']);
    expect(gone.states).toEqual(['init', 'bye']);
    expect(gone.says[gone.says.length - 1]).toBe('Je comprends tout à fait, je ne vous dérange pas davantage. Bonne journée.');
    expect(onlyRecord(gone)).toMatchObject({ outcome: 'not_interested' });
  });

  it('asks a busy caller for one minute once, then lets them go (a global intent with a counter)', async () => {
    const c = await call('heating-leads', 'fr', ['oui', 'je suis occupé là', "je n'ai vraiment pas le temps"]);
    expect(c.says).toContain("Je comprends, je serai très rapide, cela ne prend qu'une minute.");
    expect(c.states).toEqual(['init', 'ask_zip_code', 'bye']);
    expect(onlyRecord(c)).toMatchObject({ outcome: 'busy' });
  });

  it('ends politely with tenants and callers outside France', async () => {
    const tenant = await call('heating-leads', 'fr', ['oui', '75011', 'non je suis locataire']);
    expect(onlyRecord(tenant)).toMatchObject({ zip_code: '75011', owner: false, outcome: 'not_eligible' });
    const abroad = await call('heating-leads', 'fr', ['oui', "j'habite en Belgique"]);
    expect(abroad.states).toEqual(['init', 'ask_zip_code', 'bye']);
    expect(onlyRecord(abroad)).toMatchObject({ outcome: 'not_eligible' });
  });

  it('answers FAQs anywhere and asks its question again', async () => {
    const c = await call('heating-leads', 'fr', ['oui', "c'est gratuit ?", 'comment avez-vous eu mon numéro', 'vous pouvez répéter']);
    expect(c.states).toEqual(['init', 'ask_zip_code']);
    const turns = c.outputs.map((o) => o.flatMap((x) => (x.type === 'say' ? [x.text] : [])));
    expect(turns[2]).toEqual(['La vérification de votre éligibilité est entièrement gratuite et sans engagement.', 'Pouvez-vous me donner votre code postal, chiffre par chiffre ? Vous pouvez aussi le taper sur votre clavier.']);
    expect(turns[3][0]).toMatch(/^Votre numéro figure dans un fichier/);
    expect(turns[4]).toEqual(turns[3]);
  });

  it('unknown answers: asks again twice, then ends; silence: asks twice, then ends', async () => {
    const unknown = await call('heating-leads', 'fr', ['bla bla', 'hmm peut-être', 'le ciel est bleu']);
    expect(unknown.says.filter((s) => s === "Pardon, je n'ai pas bien compris.")).toHaveLength(2);
    expect(onlyRecord(unknown)).toMatchObject({ outcome: 'not_understood' });
    const silent = await call('heating-leads', 'fr', ['oui', '…', '…', '…']);
    expect(silent.says.filter((s) => s === "Allô ? Vous m'entendez ?")).toHaveLength(2);
    expect(silent.states).toEqual(['init', 'ask_zip_code', 'bye']);
    expect(onlyRecord(silent)).toMatchObject({ outcome: 'no_answer' });
  });

  it('a caller who hangs up half-way leaves a partial lead', async () => {
    const c = await call('heating-leads', 'fr', ['oui', '75011', 'oui']);
    const out = await c.runtime.handle({ type: 'hangup', reason: 'caller_hangup' });
    expect(out).toEqual([expect.objectContaining({ type: 'effect', effect: { type: 'save_record', kind: 'lead', data: { zip_code: '75011', owner: true, heating_type: null, callback_slot: null, outcome: 'hung_up', last_state: 'ask_which_heating' } } })]);
  });
});

describe('support-desk (English and French)', () => {
  const EN = ['yes', 'one two three four five six', 'my name is john smith', 'my email is john at example dot com', 'my internet is not working', 'yes', 'yes'];
  const FR = ['oui', 'un deux trois quatre cinq six', "je m'appelle Marie Martin", 'marie point martin arobase gmail point com', 'je n’ai plus de réseau sur mon portable', "c'est fait", 'oui'];

  it.each([
    ['en', EN, { name: 'John Smith', email: 'john@example.com', problem: 'internet' }],
    ['fr', FR, { name: 'Marie Martin', email: 'marie.martin@gmail.com', problem: 'mobile' }],
  ] as const)('solves a problem on the main path in %s and saves the ticket', async (language, turns, who) => {
    const c = await call('support-desk', language, [...turns]);
    expect(c.states).toEqual(['WELCOME', 'TICKET_VERIFICATION', 'IDENTIFICATION', 'DIAGNOSTIC', 'SOLUTION', 'VERIFICATION', 'GOODBYE']);
    expect(onlyRecord(c)).toEqual({ ticket_number: '123456', ...who, solved: true, sentiment: 'positive', language });
    expect(c.last).toEqual({ type: 'hangup', reason: 'completed' });
  });

  it('listens 500 ms after yes/no questions and 1200 ms after open ones', async () => {
    const c = await call('support-desk', 'en', EN.slice(0, 6));
    const silence = c.listens.map((l) => (l.endpointing.mode === 'silence' ? l.endpointing.silenceMs : l.endpointing.mode));
    // WELCOME, TICKET_VERIFICATION, IDENTIFICATION (name), IDENTIFICATION (email), DIAGNOSTIC, SOLUTION, VERIFICATION
    expect(silence).toEqual([500, 1200, 1200, 1200, 1200, 500, 500]);
    expect(c.listens[1].dtmf).toBe(true);
    expect(c.listens[0].hints).toEqual(['yes', 'no']);
  });

  it('transfers an unsolved problem with a negative sentiment', async () => {
    const c = await call('support-desk', 'en', ['no', 'my name is john smith', 'john at example dot com', 'my internet is not working', 'done', 'no']);
    expect(c.states.slice(-2)).toEqual(['VERIFICATION', 'TRANSFER']);
    expect(onlyRecord(c)).toMatchObject({ ticket_number: null, name: 'John Smith', problem: 'internet', solved: false, sentiment: 'negative' });
    expect(c.last).toEqual({ type: 'transfer', target: 'support-queue', reason: 'advisor' });
  });

  it('transfers a caller who asks for a person, from any state', async () => {
    const c = await call('support-desk', 'en', ['no', 'i want to speak to an agent']);
    expect(c.states).toEqual(['WELCOME', 'IDENTIFICATION', 'TRANSFER']);
    expect(onlyRecord(c)).toMatchObject({ sentiment: 'negative', solved: null });
  });

  it('sends contract changes to an advisor', async () => {
    const c = await call('support-desk', 'fr', ['non', 'Paul Durand', 'paul arobase exemple point fr', 'je voudrais modifier mon contrat']);
    expect(c.states.slice(-2)).toEqual(['DIAGNOSTIC', 'TRANSFER']);
    expect(onlyRecord(c)).toMatchObject({ name: 'Paul Durand', email: 'paul@exemple.fr', problem: 'modification', language: 'fr' });
  });

  it('takes the ticket number on the keypad', async () => {
    const c = await call('support-desk', 'en', ['yes', '#4711']);
    expect(c.states).toEqual(['WELCOME', 'TICKET_VERIFICATION', 'IDENTIFICATION']);
    expect(c.snapshot.slots.ticket_number).toBe('4711');
  });

  it('unknown answers twice are asked again, the third goes to an advisor; silence ends the call', async () => {
    const unknown = await call('support-desk', 'en', ['purple', 'banana', 'elephant']);
    expect(unknown.says.filter((s) => s === 'Sorry, I did not understand.')).toHaveLength(2);
    expect(unknown.states).toEqual(['WELCOME', 'TRANSFER']);
    expect(onlyRecord(unknown)).toMatchObject({ problem: null, sentiment: 'neutral' });
    const silent = await call('support-desk', 'fr', ['…', '…', '…']);
    expect(silent.says.filter((s) => s === 'Êtes-vous toujours là ?')).toHaveLength(2);
    expect(silent.states).toEqual(['WELCOME', 'GOODBYE']);
    expect(silent.last).toEqual({ type: 'hangup', reason: 'completed' });
  });

  it('moves on without a ticket number after one more try', async () => {
    const c = await call('support-desk', 'en', ['yes', 'i do not remember', 'sorry no idea']);
    expect(c.says).toContain('Could you give me your ticket number again, digit by digit?');
    expect(c.states).toEqual(['WELCOME', 'TICKET_VERIFICATION', 'IDENTIFICATION']);
  });
});

describe('speaking-coach (French and English, with a scripted model)', () => {
  it.each([
    ['fr', ['[curiosite] Bonjour, je suis Claire. Pouvez-vous vous présenter ?', '[encouragement] Très intéressant ! Et pourquoi ce poste ?'], ['Je m’appelle Léa, je suis commerciale depuis cinq ans.', 'stop', 'quatre']],
    ['en', ['[curiosite] Hello, I am Claire. Could you tell me about yourself?', '[encouragement] Great! Why this job?'], ['I am Leo and I have worked in sales for five years.', 'stop', 'four']],
  ] as const)('in %s: the model leads, the learner stops, rates, and a feedback request is saved', async (language, replies, turns) => {
    const llm = scriptedLlm([...replies]);
    const c = await call('speaking-coach', language, [...turns], { llm });
    expect(c.states).toEqual(['WELCOME', 'CONVERSATION', 'FEEDBACK', 'GOODBYE']);
    expect(c.outputs[0].find((o) => o.type === 'say' && o.style === 'curiosite')).toBeTruthy();
    expect(c.outputs[1].find((o) => o.type === 'say' && o.style === 'encouragement')).toBeTruthy();
    expect(llm.requests[0][0].content).toContain(language === 'fr' ? 'entretien d\'embauche' : 'job interview');
    expect(onlyRecord(c)).toEqual({ scenario: 'job_interview', language, turns: 1, self_rating: 4 });
  });

  it('stops after eight replies and asks for the learner\'s rating', async () => {
    const llm = scriptedLlm(Array.from({ length: 9 }, (_, i) => `[neutre] Question ${i + 1}?`));
    const c = await call('speaking-coach', 'en', Array.from({ length: 9 }, (_, i) => `answer number ${i + 1} about my work`), { llm });
    expect(llm.requests).toHaveLength(9);
    expect(c.states).toEqual(['WELCOME', 'CONVERSATION', 'FEEDBACK']);
    expect(c.says.slice(-2)).toEqual(['Very good, let\'s stop here.', 'Thank you, that is all for today! Before we finish: from one to five, how comfortable did you feel during this conversation?']);
    expect(c.snapshot.counters.turns).toBe(9);
  });
});

describe('palabre flows', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'palabre-flows-cli-'));
    writeFileSync(join(dir, 'bad.yaml'), 'id: bad\nlanguages: [en]\nstart: A\nstates:\n  A:\n    say: Hi.\n    next: B\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[]): Promise<{ out: string; code: number | undefined }> {
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (chunks.push(String(chunk)), true)) as typeof process.stdout.write;
    const before = process.exitCode;
    process.exitCode = undefined;
    try {
      await flowsCommand().exitOverride().parseAsync(args, { from: 'user' });
      return { out: chunks.join(''), code: process.exitCode as number | undefined };
    } finally {
      process.stdout.write = write;
      process.exitCode = before;
    }
  }

  it('schema prints the JSON Schema', async () => {
    const { out } = await run(['schema']);
    expect(JSON.parse(out)).toMatchObject({ title: 'palabre flow', type: 'object', required: expect.arrayContaining(['id', 'languages', 'start', 'states']) });
  });

  it('check prints ok, or each error with its line, and fails', async () => {
    const good = await run(['check', join(FLOWS, 'support-desk.yaml'), join(FLOWS, 'heating-leads.yaml')]);
    expect(good).toEqual({ out: `${join(FLOWS, 'support-desk.yaml')}: ok\n${join(FLOWS, 'heating-leads.yaml')}: ok\n`, code: undefined });
    const bad = await run(['check', join(dir, 'bad.yaml'), join(dir, 'missing.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.out).toBe(`${join(dir, 'bad.yaml')}:7:11: states.A.next: unknown state "B"\n${join(dir, 'missing.yaml')}: flow file ${join(dir, 'missing.yaml')} does not exist\n`);
    const noLlm = await run(['check', '--no-llm', join(FLOWS, 'speaking-coach.yaml')]);
    expect(noLlm.code).toBe(1);
    expect(noLlm.out).toMatch(/states\.CONVERSATION\.llm: state CONVERSATION has its replies written by a language model, and no LLM is configured/);
  });

  it('list shows each flow and whether it can run', async () => {
    const { out } = await run(['list', '--dir', FLOWS, '--no-llm']);
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^id\s+languages\s+states\s+llm\s+file\s+status$/);
    expect(lines[1]).toMatch(/^heating-leads\s+fr\s+8\s+no\s+\S+heating-leads\.yaml\s+ok$/);
    expect(lines[2]).toMatch(/^realtime-concierge\s+en,fr\s+2\s+yes\s+\S+realtime-concierge\.yaml\s+error: .*OpenAI Realtime API, which is not configured/);
    expect(lines[3]).toMatch(/^speaking-coach\s+fr,en\s+5\s+yes\s+\S+speaking-coach\.yaml\s+error: .*no LLM is configured/);
    expect(lines[4]).toMatch(/^support-desk\s+fr,en\s+9\s+no\s+\S+support-desk\.yaml\s+ok$/);
    const json = JSON.parse((await run(['list', '--dir', FLOWS, '--json'])).out) as Array<{ id: string; error?: string }>;
    expect(json.map((f) => [f.id, f.error ?? 'ok'])).toEqual([['heating-leads', 'ok'], ['realtime-concierge', 'ok'], ['speaking-coach', 'ok'], ['support-desk', 'ok']]);
  });
});
