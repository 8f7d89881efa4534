/** `palabre chat` as a real subprocess fed from a pipe: the flow's main path, then bad commands. */
import { describe, expect, it } from 'vitest';
import { chat } from './support/cli.js';


describe('palabre chat', () => {
  it('runs heating-leads in French from piped lines, showing states, intents, slots and the saved lead', async () => {
    const run = await chat(['--flow', 'heating-leads', '--lang', 'fr'], ['oui', "c'est soixante-quinze zéro zéro un", 'oui je suis propriétaire', 'je me chauffe au fioul', "oui d'accord", 'demain après-midi']);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/\[state\] \(start\) → init/);
    expect(run.out).toMatch(/\[intent\] \w+ \(confidence 0\.\d\d|1\.00, local\)/);
    expect(run.out).toMatch(/\[slot\] zip_code = "75001"/);
    expect(run.out).toMatch(/\[state\] ask_slot_call_back → bye/);
    expect(run.out).toMatch(/\[hangup\]/);
    expect(run.out).toMatch(/1 record\(s\) saved/);
    expect(run.out).toMatch(/lead \{.*"zip_code":"75001".*"heating_type":"fioul"/);
  });

  it('takes keypad digits and no-input commands, and names unknown flows', async () => {
    const run = await chat(['--flow', 'heating-leads'], ['oui', '/dtmf 69003', '/silence', '/nonsense', '/quit']);
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/\[slot\] zip_code = "69003"/);
    expect(run.out).toMatch(/commands: \/dtmf/);
    const missing = await chat(['--flow', 'nope'], []);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/no flow "nope".*heating-leads/);
  });
});
