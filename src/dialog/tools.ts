/**
 * A flow's tools: actions the model of an `llm` state may call. Each tool has
 * a JSON schema for its arguments (written in the flow, or derived from slot
 * definitions), compiled once at load with Ajv, the reference JSON Schema
 * validator (the same one Fastify validates requests with), so that a schema
 * the author mistyped is a load error with its line, and arguments the model
 * wrote are checked before anything runs.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { LlmTool } from '../engines/llm/types.js';
import type { FlowDefinition, SlotDefinition, ToolDefinition } from './schema.js';
import type { IssuePath } from './validate.js';
import { didYouMean } from './suggest.js';

/** A tool ready to offer to a model and to check its arguments. */
export interface CompiledTool {
  name: string;
  definition: ToolDefinition;
  /** What the model is sent. */
  spec: LlmTool;
  /** Null when the arguments satisfy the schema, else what is wrong with them, for the model to fix. */
  check(args: unknown): string | null;
  /** Slots the arguments fill (a tool declared with `slots`). */
  fills: string[];
}

export interface ToolIssue {
  path: IssuePath;
  message: string;
}

// ajv-formats is a CommonJS module whose default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function newAjv(): Ajv {
  // strict: a misspelt keyword ("proprties") is an error rather than a schema that accepts anything.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
  addFormats(ajv);
  return ajv;
}

/** The JSON schema of one slot type, as an argument. */
function slotSchema(slot: SlotDefinition, flow: FlowDefinition): Record<string, unknown> {
  const entity = flow.entities?.[slot.type];
  if (entity) return { type: 'string', enum: Object.keys(entity.values), description: entity.description ?? slot.name };
  switch (slot.type) {
    case 'number':
      return { type: 'number' };
    case 'yes_no':
      return { type: 'boolean' };
    case 'email':
      return { type: 'string', format: 'email' };
    case 'zip_code_fr':
      return { type: 'string', pattern: '^[0-9]{5}$', description: 'French postal code, 5 digits' };
    case 'digits':
      return { type: 'string', pattern: '^[0-9]+$' };
    case 'phone':
      return { type: 'string', description: 'phone number' };
    case 'date_time':
      return { type: 'string', description: 'date and time, ISO 8601 or as the caller said it' };
    default:
      return { type: 'string', minLength: 1, description: slot.type.replace(/_/g, ' ') };
  }
}

function flowSlots(flow: FlowDefinition): Map<string, SlotDefinition> {
  const slots = new Map<string, SlotDefinition>();
  for (const state of Object.values(flow.states)) for (const slot of state.slots ?? []) if (!slots.has(slot.name)) slots.set(slot.name, slot);
  return slots;
}

const NO_ARGUMENTS = { type: 'object', properties: {}, additionalProperties: false };

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const at = e.instancePath === '' ? 'arguments' : e.instancePath.slice(1).replace(/\//g, '.');
      if (e.keyword === 'additionalProperties') return `${at}: unexpected property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
      if (e.keyword === 'enum') return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      return `${at}: ${e.message ?? e.keyword}`;
    })
    .join('; ');
}

/**
 * Compiles every tool of `flow`; problems (a bad schema, an unknown slot, a
 * state naming an unknown tool) are returned with their path in the flow.
 */
export function compileTools(flow: FlowDefinition): { tools: Map<string, CompiledTool>; issues: ToolIssue[] } {
  const tools = new Map<string, CompiledTool>();
  const issues: ToolIssue[] = [];
  const ajv = newAjv();
  const slots = flowSlots(flow);
  for (const [name, def] of Object.entries(flow.tools ?? {})) {
    let parameters: Record<string, unknown>;
    const fills: string[] = [];
    if (def.slots) {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      def.slots.forEach((slotName, i) => {
        const slot = slots.get(slotName);
        if (!slot) {
          issues.push({ path: ['tools', name, 'slots', i], message: `unknown slot "${slotName}"${didYouMean(slotName, [...slots.keys()])}` });
          return;
        }
        properties[slotName] = slotSchema(slot, flow);
        fills.push(slotName);
        if (slot.required) required.push(slotName);
      });
      parameters = { type: 'object', properties, required, additionalProperties: false };
    } else parameters = def.parameters ?? NO_ARGUMENTS;
    if (parameters.type !== 'object') {
      issues.push({ path: ['tools', name, 'parameters'], message: 'the arguments\' schema must be an object schema (type: object)' });
      continue;
    }
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(parameters);
    } catch (err) {
      issues.push({ path: ['tools', name, def.slots ? 'slots' : 'parameters'], message: `invalid JSON schema: ${err instanceof Error ? err.message : String(err)}` });
      continue;
    }
    tools.set(name, {
      name,
      definition: def,
      spec: { name, description: def.description, parameters },
      fills,
      check(args) {
        return validate(args) ? null : describe(validate.errors);
      },
    });
  }
  for (const [stateName, state] of Object.entries(flow.states)) {
    (state.llm?.tools ?? []).forEach((tool, i) => {
      if (!(flow.tools ?? {})[tool]) issues.push({ path: ['states', stateName, 'llm', 'tools', i], message: `unknown tool "${tool}"${didYouMean(tool, Object.keys(flow.tools ?? {}))}; define it in the flow's tools section` });
    });
  }
  return { tools, issues };
}
