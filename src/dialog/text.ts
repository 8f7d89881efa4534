/**
 * Texts of a flow: choosing the variant and language to say, filling `{name}`
 * placeholders from slots and variables, and evaluating `when` conditions.
 */
import type { ConditionDefinition, SayDefinition, TextDefinition } from './schema.js';

/** `{name}` or `{name.field}`; other braces (JSON in a prompt file) are left alone. */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}/g;
const WHOLE_PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\}$/;

/** Resolves a dotted name (`zip_code`, `ticket.status`) to its value, undefined when absent. */
export type Lookup = (name: string) => unknown;

export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** Walks `a.b.c` into nested objects. */
export function resolvePath(root: unknown, rest: string[]): unknown {
  let node = root;
  for (const key of rest) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

const YES_NO: Record<string, [string, string]> = { fr: ['oui', 'non'], en: ['yes', 'no'] };

/** A value as words to speak or write into a text. */
export function formatValue(value: unknown, language: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return (YES_NO[language] ?? YES_NO.en)[value ? 0 : 1];
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => formatValue(v, language)).join(', ');
  const record = value as Record<string, unknown>;
  // Structured slot values (a date-time range, a name) carry the words the caller used.
  for (const key of ['text', 'label', 'value']) if (typeof record[key] === 'string') return record[key];
  return JSON.stringify(value);
}

export interface Interpolated {
  text: string;
  /** True when a placeholder was filled: such a text is not a fixed prompt and is not cached. */
  dynamic: boolean;
}

export function interpolate(template: string, lookup: Lookup, language: string): Interpolated {
  let dynamic = false;
  const text = template.replace(PLACEHOLDER, (_, name: string) => {
    dynamic = true;
    return formatValue(lookup(name), language);
  });
  return { text, dynamic };
}

/**
 * A template value of a record, a variable or a webhook body: a string that is exactly one
 * placeholder keeps the value's type (a boolean stays a boolean, a missing slot is null);
 * other strings are filled as text; objects and lists are walked.
 */
export function renderValue(value: unknown, lookup: Lookup, language: string): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE_PLACEHOLDER.exec(value);
    if (whole) return lookup(whole[1]) ?? null;
    return interpolate(value, lookup, language).text;
  }
  if (Array.isArray(value)) return value.map((v) => renderValue(v, lookup, language));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderValue(v, lookup, language)]));
  }
  return value;
}

/** Every placeholder name inside a template value (strings at any depth). */
export function valuePlaceholders(value: unknown): string[] {
  if (typeof value === 'string') return placeholders(value);
  if (Array.isArray(value)) return value.flatMap(valuePlaceholders);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(valuePlaceholders);
  return [];
}

export function conditionHolds(condition: ConditionDefinition | undefined, lookup: Lookup): boolean {
  if (!condition) return true;
  return Object.entries(condition).every(([name, expected]) => {
    const actual = lookup(name) ?? null;
    const options = Array.isArray(expected) ? expected : [expected];
    return options.some((o) => o === actual || (typeof o === 'string' && typeof actual !== 'object' && String(actual) === o));
  });
}

/** The text of `text` in `language` (a plain string is the flow's only language). */
export function textIn(text: TextDefinition, language: string): string | undefined {
  return typeof text === 'string' ? text : text[language as keyof typeof text];
}

/** The template to say: the first variant whose condition holds, in `language`; null when no variant applies. */
export function chooseSay(say: SayDefinition, language: string, lookup: Lookup): string | null {
  if (!Array.isArray(say)) return textIn(say as TextDefinition, language) ?? null;
  for (const variant of say) {
    if (conditionHolds(variant.when, lookup)) return textIn(variant.text, language) ?? null;
  }
  return null;
}
