/**
 * The published JSON Schema says the same as the zod schema the loader uses:
 * an editor validating against it accepts the shipped flows and flags the
 * mistakes the loader flags. (ajv is the validator fastify already ships.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { isYamlPromptFile } from './prompt-file.js';
import { flowJsonSchema, flowSchema } from './schema.js';

const FLOWS_DIR = join(import.meta.dirname, '..', '..', 'flows');
// Prompt files (`*.prompt.yaml`) live next to the flows but are not flows.
const shipped = readdirSync(FLOWS_DIR).filter((f) => f.endsWith('.yaml') && !isYamlPromptFile(f));

let compiled: ReturnType<Ajv2020['compile']> | undefined;
function validator() {
  compiled ??= new Ajv2020({ allErrors: true, strict: false }).compile(flowJsonSchema());
  return compiled;
}

describe('flow JSON Schema', () => {
  it('is a draft 2020-12 schema with named definitions and descriptions', () => {
    const schema = flowJsonSchema() as { $schema: string; $defs: Record<string, { description?: string }>; title: string };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.title).toBe('palabre flow');
    expect(Object.keys(schema.$defs)).toEqual(expect.arrayContaining(['DialogState', 'Transition', 'Handler', 'Action', 'Say', 'Text', 'Listen', 'Retry', 'Counter', 'Slot', 'LlmReply', 'Intent']));
    expect(schema.$defs.Action.description).toMatch(/set, save_record, transfer, hangup or webhook/);
  });

  it.each(shipped)('accepts the shipped flow %s, as the zod schema does', (file) => {
    const data: unknown = YAML.parse(readFileSync(join(FLOWS_DIR, file), 'utf8'));
    const validate = validator();
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    expect(flowSchema.safeParse(data).success).toBe(true);
  });

  it('rejects what the zod schema rejects: unknown keys, bad enum values, two actions in one', () => {
    const base = { id: 'x', languages: ['en'], start: 'A', states: { A: { say: 'hi', on_enter: [{ hangup: null }] } } };
    const bad = [
      { ...base, states: { A: { ...base.states.A, sya: 'typo' } } },
      { ...base, languages: ['de'] },
      { ...base, states: { A: { say: 'hi', on_enter: [{ hangup: null, transfer: 'q' }] } } },
      { ...base, states: { A: { say: 'hi', listen: { endpointing: { mode: 'digits' } }, on_enter: [{ hangup: null }] } } },
    ];
    const validate = validator();
    expect(validate(base)).toBe(true);
    for (const flow of bad) {
      expect(validate(flow), JSON.stringify(flow)).toBe(false);
      expect(flowSchema.safeParse(flow).success).toBe(false);
    }
  });
});
