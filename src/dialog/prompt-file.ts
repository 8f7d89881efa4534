/**
 * Prompt files in YAML (`*.prompt.yaml`, next to the flow): the system prompt,
 * the template and few-shot examples of an `llm` state, each a text or one per
 * language, with `{name}` placeholders from slots, variables and the call's
 * context. Checked like flows: every problem has its file and line.
 */
import { z } from 'zod';
import { FLOW_LANGUAGES, type FlowLanguage } from './schema.js';
import { schemaIssues } from './schema-issues.js';
import type { IssuePath } from './validate.js';
import { formatPath, parseYamlSource } from './yaml-source.js';

const Language = z.enum(FLOW_LANGUAGES);
const Text = z.union([z.string().min(1), z.partialRecord(Language, z.string().min(1))]);
const Example = z.strictObject({
  user: z.string().min(1).describe('What the caller says.'),
  assistant: z.string().min(1).describe('What the model should answer.'),
});
const Examples = z.union([z.array(Example).min(1), z.partialRecord(Language, z.array(Example).min(1))]);

export const promptFileSchema = z.strictObject({
  system: Text.optional().describe('System prompt, before the template.'),
  template: Text.describe('The prompt of the state (the scenario, the persona, the task).'),
  examples: Examples.optional().describe('Few-shot examples: user/assistant pairs (a list, or one list per language).'),
});

export interface PromptExample {
  user: string;
  assistant: string;
}

/** A prompt in one language. */
export interface PromptParts {
  template: string;
  system?: string;
  examples: PromptExample[];
}

export interface PromptFileIssue {
  line: number;
  col: number;
  path: string;
  message: string;
}

/** File names that hold YAML prompts rather than flows (the flows directory skips them). */
export function isYamlPromptFile(name: string): boolean {
  return /\.prompt\.ya?ml$/i.test(name);
}

export function isYamlFile(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}

/** Where each text of a prompt file sits, for placeholder checks. */
export interface PromptText {
  path: IssuePath;
  text: string;
}

export interface ParsedPromptFile {
  /** The prompt per language, for `languages`. */
  parts: Partial<Record<FlowLanguage, PromptParts>>;
  /** Every text of the file with its path (placeholders are checked by the loader). */
  texts: PromptText[];
  /** Locates a path of the file. */
  locate(path: IssuePath): { line: number; col: number };
}

function inLanguage<T>(value: T | Partial<Record<FlowLanguage, T>>, language: FlowLanguage, isPlain: (v: unknown) => boolean): T | undefined {
  return isPlain(value) ? (value as T) : (value as Partial<Record<FlowLanguage, T>>)[language];
}

/** Parses a YAML prompt file; throws the list of its problems (syntax, unknown keys, missing languages) with their lines. */
export function parsePromptFile(text: string, languages: readonly FlowLanguage[]): ParsedPromptFile | PromptFileIssue[] {
  const source = parseYamlSource(text);
  if (source.syntaxErrors.length > 0) return source.syntaxErrors.map((e) => ({ ...e.position, path: '', message: e.message }));
  const raw: unknown = source.doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return [{ line: 1, col: 1, path: '', message: 'a prompt file is a mapping (system:, template:, examples:)' }];
  const parsed = promptFileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    return schemaIssues(parsed.error).map((i) => ({ ...source.locate(i.path, { key: i.atKey }), path: formatPath(i.path), message: i.message }));
  }
  const file = parsed.data;
  const issues: PromptFileIssue[] = [];
  const parts: ParsedPromptFile['parts'] = {};
  const texts: PromptText[] = [];
  const isString = (v: unknown) => typeof v === 'string';
  for (const language of languages) {
    const template = inLanguage(file.template, language, isString);
    if (template === undefined) {
      issues.push({ ...source.locate(['template']), path: 'template', message: `no template in ${language}, which the flow speaks` });
      continue;
    }
    const system = file.system === undefined ? undefined : inLanguage(file.system, language, isString);
    const examples = file.examples === undefined ? [] : (inLanguage(file.examples, language, Array.isArray) ?? []);
    parts[language] = { template, ...(system === undefined ? {} : { system }), examples };
  }
  if (issues.length > 0) return issues;
  const walk = (value: unknown, path: IssuePath): void => {
    if (typeof value === 'string') texts.push({ path, text: value });
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
  };
  walk(file, []);
  return { parts, texts, locate: (path) => source.locate(path) };
}
