/**
 * zod's issues rewritten for a person editing YAML: one message per problem,
 * with the path of the value and, for a misspelt key or value, a suggestion.
 */
import type { z } from 'zod';
import { flowJsonSchema } from './schema.js';
import { didYouMean } from './suggest.js';
import type { IssuePath } from './validate.js';

export interface SchemaIssue {
  path: IssuePath;
  message: string;
  /** Point at the key rather than the value (an unknown key). */
  atKey: boolean;
}

type Issue = z.core.$ZodIssue;

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  record: 'a mapping',
  object: 'a mapping',
  map: 'a mapping',
  array: 'a list',
  null: 'nothing',
  literal: 'a fixed value',
};

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'an empty value';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return `the string "${input.length > 40 ? input.slice(0, 40) + '…' : input}"`;
  return `${typeof input === 'boolean' ? '' : 'the number '}${String(input)}`;
}

let knownKeys: Set<string> | undefined;

/** Every property name the schema knows, for "did you mean" on unknown keys. */
function allKeys(): Set<string> {
  if (knownKeys) return knownKeys;
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.properties && typeof record.properties === 'object') for (const k of Object.keys(record.properties)) keys.add(k);
    Object.values(record).forEach(walk);
  };
  walk(flowJsonSchema());
  knownKeys = keys;
  return keys;
}

/** A union branch that failed on the type of the value itself was not the one the author meant. */
function isRootTypeMismatch(branch: Issue[]): boolean {
  return branch.length === 1 && branch[0].code === 'invalid_type' && branch[0].path.length === 0;
}

function unionIssues(issue: Extract<Issue, { code: 'invalid_union' }>, base: IssuePath): SchemaIssue[] {
  const meant = issue.errors.filter((b) => !isRootTypeMismatch(b));
  if (meant.length > 0) {
    // The branch that got deepest into the value is the one its author was writing.
    const depth = (b: Issue[]) => Math.max(...b.map((i) => i.path.length));
    const best = meant.reduce((a, b) => (depth(b) > depth(a) || (depth(b) === depth(a) && b.length < a.length) ? b : a));
    return best.flatMap((i) => convert(i, base));
  }
  const expected = [...new Set(issue.errors.flatMap((b) => b.map((i) => (i.code === 'invalid_type' ? (TYPE_WORDS[i.expected] ?? i.expected) : undefined)).filter((e): e is string => !!e)))];
  return [{ path: base, message: `expected ${expected.join(' or ')}, found ${describeInput(issue.input)}`, atKey: false }];
}

function convert(issue: Issue, prefix: IssuePath): SchemaIssue[] {
  const path: IssuePath = [...prefix, ...(issue.path as IssuePath)];
  switch (issue.code) {
    case 'invalid_type': {
      const message = issue.input === undefined ? 'required, but missing' : `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, found ${describeInput(issue.input)}`;
      return [{ path, message, atKey: false }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: `unknown key "${key}"${didYouMean(key, allKeys())}`, atKey: true }));
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (Array.isArray(options) && options.length > 0) {
        // A discriminated union reports the whole object as input; the author wrote the discriminator.
        const discriminator = (issue as { discriminator?: string }).discriminator;
        const input = discriminator && issue.input && typeof issue.input === 'object' ? (issue.input as Record<string, unknown>)[discriminator] : issue.input;
        const given = typeof input === 'string' ? input : undefined;
        const list = options.map(String);
        const found = given === undefined ? (input === undefined ? 'nothing' : describeInput(input)) : `"${given}"`;
        return [{ path, message: `expected one of ${list.join(', ')}, found ${found}${given === undefined ? '' : didYouMean(given, list)}`, atKey: false }];
      }
      return unionIssues(issue, path);
    }
    case 'invalid_value': {
      const list = issue.values.map(String);
      const given = typeof issue.input === 'string' ? issue.input : undefined;
      const found = given === undefined ? describeInput(issue.input) : `"${given}"`;
      return [{ path, message: `expected ${list.length === 1 ? list[0] : `one of ${list.join(', ')}`}, found ${found}${given === undefined ? '' : didYouMean(given, list)}`, atKey: false }];
    }
    case 'invalid_key':
      return issue.issues.map((inner) => ({ path, message: `invalid name "${String(issue.input ?? path[path.length - 1])}": ${inner.message.replace(/^Invalid string: must match pattern .*$/, 'use letters, digits and _')}`, atKey: true }));
    case 'invalid_format': {
      // The schema's own messages name what is expected ("an http:// or https:// URL"); zod's generic ones do not.
      const expected = /^Invalid/.test(issue.message) ? `a value matching ${issue.format === 'regex' ? String((issue as { pattern?: string }).pattern) : issue.format}` : issue.message;
      return [{ path, message: `expected ${expected}, found ${describeInput(issue.input)}`, atKey: false }];
    }
    case 'too_small':
    case 'too_big':
    case 'custom':
    default:
      return [{ path, message: issue.message.replace(/^Invalid input: /, ''), atKey: false }];
  }
}

export function schemaIssues(error: z.ZodError): SchemaIssue[] {
  return error.issues.flatMap((issue) => convert(issue as Issue, []));
}
