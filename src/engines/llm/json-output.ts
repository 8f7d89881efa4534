/**
 * Structured answers: the `response_format` a server is sent for a schema
 * (json_schema where the preset takes it, strict only when the schema allows
 * it, else json_object with the schema spelt out in the prompt), and the
 * checks the answer then goes through whatever the server promised.
 */
import { z } from 'zod';
import { PalabreError } from '../../errors.js';
import { matchesModel, type ChatQuirks } from '../openai/presets.js';
import type { JsonOptions } from './types.js';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The JSON schema of `options`, without the `$schema` marker some servers refuse. */
export function wireSchema<T>(options: JsonOptions<T>): Record<string, unknown> {
  const schema = options.jsonSchema ?? (z.toJSONSchema(options.schema) as Record<string, unknown>);
  const { $schema: _drop, ...rest } = schema;
  return rest;
}

/**
 * OpenAI's strict mode needs every object closed (`additionalProperties: false`)
 * with all its properties required; a schema that is not gets strict false
 * rather than a 400.
 */
export function isStrictCompatible(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.every(isStrictCompatible);
  if (typeof schema !== 'object' || schema === null) return true;
  const s = schema as Record<string, unknown>;
  if (s.type === 'object' || s.properties !== undefined) {
    if (s.additionalProperties !== false) return false;
    const keys = Object.keys((s.properties as Record<string, unknown> | undefined) ?? {});
    const required = Array.isArray(s.required) ? s.required : [];
    if (!keys.every((k) => required.includes(k))) return false;
  }
  return Object.entries(s).every(([k, v]) => k === 'enum' || k === 'const' || isStrictCompatible(v));
}

export interface ResponseFormatPlan {
  responseFormat: Record<string, unknown>;
  /** A system message to add: json_object mode sees no schema, and OpenAI requires the word JSON in the messages. */
  instruction?: string;
}

export function responseFormatFor<T>(options: JsonOptions<T>, quirks: ChatQuirks, model: string): ResponseFormatPlan {
  if (!NAME.test(options.name)) throw new PalabreError('bad_request', `JSON answer name "${options.name}" must be 1 to 64 letters, digits, _ or -`);
  const schema = wireSchema(options);
  if (matchesModel(quirks.jsonSchema, model)) {
    const strict = matchesModel(quirks.strictSchema, model) && isStrictCompatible(schema);
    const jsonSchema: Record<string, unknown> = { name: options.name, schema, strict };
    if (options.description) jsonSchema.description = options.description;
    return { responseFormat: { type: 'json_schema', json_schema: jsonSchema } };
  }
  const about = options.description ? ` (${options.description})` : '';
  return {
    responseFormat: { type: 'json_object' },
    instruction: `Answer with one JSON object only${about}, with no other text, matching this JSON schema:\n${JSON.stringify(schema)}`,
  };
}

/** The answer's text parsed and validated; every way it can fail names the server and what was wrong. */
export function parseJsonAnswer<T>(what: string, options: JsonOptions<T>, answer: { content?: string | null; refusal?: string | null; finishReason?: string | null }): T {
  if (answer.refusal) throw new PalabreError('engine_failed', `${what} refused to answer "${options.name}": ${answer.refusal.slice(0, 200)}`);
  const content = answer.content ?? '';
  if (answer.finishReason === 'length') throw new PalabreError('engine_failed', `${what} was cut off at its token limit while writing "${options.name}": ${JSON.stringify(content.slice(-80))}`);
  let raw: unknown;
  try {
    // Models without constrained decoding sometimes wrap JSON in a markdown fence.
    raw = JSON.parse(content.trim().replace(/^```(?:json)?\s*([\s\S]*?)\s*```$/, '$1'));
  } catch (err) {
    throw new PalabreError('engine_failed', `${what} answered malformed JSON for "${options.name}": ${JSON.stringify(content.slice(0, 120))}`, { cause: err });
  }
  const parsed = options.schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PalabreError('engine_failed', `${what} answered JSON that does not match the schema "${options.name}": ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}
