/**
 * Loading flows: YAML text → schema → cross-reference checks → prompt files,
 * with every problem reported as `file:line:col: path: message`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { PalabreError } from '../errors.js';
import { type FlowDefinition, type FlowLanguage, flowSchema } from './schema.js';
import { schemaIssues } from './schema-issues.js';
import { placeholders } from './text.js';
import { type IssuePath, knownNames, validateFlow } from './validate.js';
import { formatPath, parseYamlSource, type YamlSource } from './yaml-source.js';
import { didYouMean } from './suggest.js';
import { realtimeInstructions } from '../engines/realtime/flow.js';
import { isYamlFile, isYamlPromptFile, parsePromptFile, type PromptParts } from './prompt-file.js';
import { compileTools, type CompiledTool } from './tools.js';

export interface FlowIssue {
  file: string;
  line: number;
  col: number;
  /** Dotted path of the value (`states.DIAGNOSTIC.on[1].goto`); empty for a syntax error. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatIssue(issue: FlowIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  const tag = issue.severity === 'warning' ? 'warning: ' : '';
  return issue.path ? `${where}: ${tag}${issue.path}: ${issue.message}` : `${where}: ${tag}${issue.message}`;
}

/** A flow ready to run. */
export interface LoadedFlow {
  id: string;
  definition: FlowDefinition;
  /** Where it came from (as given to the loader), for messages. */
  file: string;
  /** Prompt templates of the `llm` states: state → language → template text. */
  prompts: Record<string, Partial<Record<FlowLanguage, string>>>;
  /** What YAML prompt files add to the template: their system prompt and few-shot examples (state → language). */
  promptParts: Record<string, Partial<Record<FlowLanguage, PromptParts>>>;
  /** The flow's tools, their argument schemas compiled. */
  tools: Map<string, CompiledTool>;
  /** Some state's replies are written by a language model. */
  needsLlm: boolean;
  /** `mode: realtime`: the model's instructions per language (from `realtime.instructions` or its prompt file). */
  realtimeInstructions?: Partial<Record<FlowLanguage, string>>;
  warnings: FlowIssue[];
}

export interface LoadFlowOptions {
  /** Is a language model configured? A flow with `llm` states fails to load without one. */
  llmAvailable: boolean;
  /** Is the OpenAI Realtime API configured (engines.realtime.apiKey)? A `mode: realtime` flow fails to load without it. */
  realtimeAvailable?: boolean;
}

export interface ParseFlowOptions extends LoadFlowOptions {
  /** Name used in messages (default `flow.yaml`). */
  file?: string;
  /** Directory prompt files are relative to (default: the file's, else the working directory). */
  baseDir?: string;
}

function flowError(issues: FlowIssue[], needsLlmOnly: boolean): PalabreError {
  const errors = issues.filter((i) => i.severity === 'error');
  const head = errors.length === 1 ? 'invalid flow' : `invalid flow (${errors.length} errors)`;
  const message = errors.length === 1 ? formatIssue(errors[0]) : `${head}:\n${errors.map(formatIssue).join('\n')}`;
  // A flow that is only missing its language model is fine as written: the server lacks an engine.
  return new PalabreError(needsLlmOnly ? 'engine_unavailable' : 'config_invalid', message, { details: { issues } });
}

function position(file: string, source: YamlSource, path: IssuePath, message: string, severity: 'error' | 'warning', atKey = false): FlowIssue {
  const { line, col } = source.locate(path, { key: atKey });
  return { file, line, col, path: formatPath(path), message, severity };
}

/** Placeholders of a prompt template must name slots or variables, like every other text. */
function templateProblems(known: Set<string>, template: string): string[] {
  return placeholders(template)
    .map((name) => name.split('.')[0])
    .filter((root) => !known.has(root))
    .map((root) => `{${root}} is neither a slot nor a variable of the flow${didYouMean(root, known)}`);
}

/** A YAML prompt file: its parts per language, its problems (placeholders included) reported at its own lines. */
function yamlPrompt(
  text: string,
  languages: FlowLanguage[],
  known: Set<string>,
  shown: string,
  issues: FlowIssue[],
): Partial<Record<FlowLanguage, PromptParts>> {
  const parsed = parsePromptFile(text, languages);
  if (Array.isArray(parsed)) {
    for (const i of parsed) issues.push({ file: shown, line: i.line, col: i.col, path: i.path, message: i.message, severity: 'error' });
    return {};
  }
  for (const t of parsed.texts) {
    for (const problem of templateProblems(known, t.text)) issues.push({ file: shown, ...parsed.locate(t.path), path: formatPath(t.path), message: problem, severity: 'error' });
  }
  return parsed.parts;
}

async function loadPrompts(
  flow: FlowDefinition,
  source: YamlSource,
  file: string,
  baseDir: string,
  issues: FlowIssue[],
  options: { file?: string },
): Promise<Pick<LoadedFlow, 'prompts' | 'promptParts'>> {
  const prompts: LoadedFlow['prompts'] = {};
  const promptParts: LoadedFlow['promptParts'] = {};
  const known = knownNames(flow);
  for (const [name, state] of Object.entries(flow.states)) {
    if (!state.llm) continue;
    const files: Array<[FlowLanguage[], string, IssuePath]> =
      typeof state.llm.prompt === 'string'
        ? [[flow.languages, state.llm.prompt, ['states', name, 'llm', 'prompt']]]
        : Object.entries(state.llm.prompt).map(([lang, f]) => [[lang as FlowLanguage], f as string, ['states', name, 'llm', 'prompt', lang]]);
    const perLanguage: Partial<Record<FlowLanguage, string>> = {};
    const parts: Partial<Record<FlowLanguage, PromptParts>> = {};
    for (const [languages, promptFile, path] of files) {
      const full = resolve(baseDir, promptFile);
      if (isYamlFile(promptFile) && !isYamlPromptFile(promptFile)) {
        issues.push(position(file, source, path, `YAML prompt file ${promptFile} must be named *.prompt.yaml, so that the flows directory does not read it as a flow`, 'error'));
        continue;
      }
      try {
        const text = await readFile(full, 'utf8');
        if (isYamlPromptFile(promptFile)) {
          const shown = options.file ? join(dirname(file), promptFile) : promptFile;
          for (const [language, p] of Object.entries(yamlPrompt(text, languages, known, shown, issues)) as Array<[FlowLanguage, PromptParts]>) {
            perLanguage[language] = p.template;
            parts[language] = p;
          }
          continue;
        }
        for (const problem of templateProblems(known, text)) issues.push(position(file, source, path, `${promptFile}: ${problem}`, 'error'));
        for (const language of languages) perLanguage[language] = text;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
        issues.push(position(file, source, path, `cannot read prompt file ${promptFile} (looked for ${full}): ${why}`, 'error'));
      }
    }
    prompts[name] = perLanguage;
    if (Object.keys(parts).length > 0) promptParts[name] = parts;
  }
  return { prompts, promptParts };
}

/** Parses and checks a flow's YAML text; throws a PalabreError listing every problem with its line. */
export async function parseFlow(text: string, options: ParseFlowOptions): Promise<LoadedFlow> {
  const file = options.file ?? 'flow.yaml';
  const baseDir = options.baseDir ?? (options.file ? dirname(resolve(options.file)) : process.cwd());
  const source = parseYamlSource(text);
  if (source.syntaxErrors.length > 0) {
    const issues = source.syntaxErrors.map((e) => ({ file, ...e.position, path: '', message: e.message, severity: 'error' as const }));
    throw flowError(issues, false);
  }
  const raw: unknown = source.doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw flowError([{ file, line: 1, col: 1, path: '', message: 'a flow is a mapping (id:, languages:, start:, states: …)', severity: 'error' }], false);
  }
  const parsed = flowSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    throw flowError(schemaIssues(parsed.error).map((i) => position(file, source, i.path, i.message, 'error', i.atKey)), false);
  }
  const flow = parsed.data;
  const issues = validateFlow(flow).map((i) => position(file, source, i.path, i.message, i.severity, i.atKey));
  const { prompts, promptParts } = await loadPrompts(flow, source, file, baseDir, issues, { file: options.file });
  const { tools, issues: toolIssues } = compileTools(flow);
  for (const i of toolIssues) issues.push(position(file, source, i.path, i.message, 'error'));
  const realtime = await realtimeInstructions(flow, baseDir);
  for (const p of realtime.problems) issues.push(position(file, source, p.path, p.message, 'error', p.atKey));
  const llmStates = Object.entries(flow.states).filter(([, s]) => s.llm).map(([name]) => name);
  const errorsBeforeLlm = issues.filter((i) => i.severity === 'error').length;
  if (!options.llmAvailable) {
    for (const name of llmStates) {
      issues.push(position(file, source, ['states', name, 'llm'], `state ${name} has its replies written by a language model, and no LLM is configured: configure one, or use a flow that runs offline`, 'error', true));
    }
  }
  if (flow.mode === 'realtime' && !options.realtimeAvailable) {
    issues.push(position(file, source, ['mode'], 'this flow talks with the caller through the OpenAI Realtime API, which is not configured: set engines.realtime.apiKey (PALABRE_ENGINES_REALTIME_API_KEY), or use a flow that runs offline', 'error', true));
  }
  if (issues.some((i) => i.severity === 'error')) throw flowError(issues, errorsBeforeLlm === 0);
  return { id: flow.id, definition: flow, file, prompts, promptParts, tools, needsLlm: llmStates.length > 0, warnings: issues, ...(realtime.instructions ? { realtimeInstructions: realtime.instructions } : {}) };
}

export async function loadFlowFile(path: string, options: LoadFlowOptions): Promise<LoadedFlow> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PalabreError('not_found', `flow file ${path} does not exist`);
    throw new PalabreError('config_invalid', `cannot read flow file ${path}: ${code === 'EISDIR' ? 'it is a directory' : (err as Error).message}`);
  }
  return parseFlow(text, { ...options, file: path, baseDir: dirname(resolve(path)) });
}

export interface FlowSummary {
  /** The flow's id, or the file name when the file could not be read as a flow. */
  id: string;
  file: string;
  description?: string;
  languages: string[];
  states: number;
  needsLlm: boolean;
  /** Why the flow cannot run (invalid, or needs an LLM that is not configured). */
  error?: string;
}

export interface FlowRegistry {
  /** The flow `id`; not_found naming the known ids, or the reason it failed to load. */
  get(id: string): LoadedFlow;
  has(id: string): boolean;
  /** Every flow file found, loaded or not, sorted by id. */
  list(): FlowSummary[];
}

const FLOW_EXTENSIONS = new Set(['.yaml', '.yml']);

/**
 * Loads every `*.yaml` / `*.yml` of `dir`. A broken flow does not stop the others: it is
 * listed with its error and `get` throws that error. Without `llmAvailable`, flows that
 * need a language model are listed as unavailable.
 */
export async function loadFlowsDir(dir: string, options: LoadFlowOptions = { llmAvailable: false }): Promise<FlowRegistry> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => FLOW_EXTENSIONS.has(extname(n)) && !isYamlPromptFile(n)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PalabreError(code === 'ENOENT' ? 'not_found' : 'config_invalid', `cannot read the flows directory ${dir}: ${code === 'ENOENT' ? 'no such directory' : (err as Error).message}`);
  }
  const loaded = new Map<string, LoadedFlow>();
  const failed = new Map<string, PalabreError>();
  const summaries: FlowSummary[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const flow = await loadFlowFile(file, options);
      const def = flow.definition;
      const other = loaded.get(flow.id);
      if (other) throw new PalabreError('config_invalid', `${file}: flow id "${flow.id}" is already used by ${other.file}`);
      loaded.set(flow.id, flow);
      summaries.push({ id: flow.id, file, description: def.description, languages: def.languages, states: Object.keys(def.states).length, needsLlm: flow.needsLlm });
    } catch (err) {
      const error = err instanceof PalabreError ? err : new PalabreError('internal', `${file}: ${(err as Error).message}`, { cause: err });
      const seen = await peek(file);
      const id = seen.id ?? basename(name, extname(name));
      if (!loaded.has(id)) failed.set(id, error);
      summaries.push({ id, file, description: seen.description, languages: seen.languages, states: seen.states, needsLlm: error.code === 'engine_unavailable', error: error.message });
    }
  }
  summaries.sort((a, b) => a.id.localeCompare(b.id));
  return {
    get(id) {
      const flow = loaded.get(id);
      if (flow) return flow;
      const error = failed.get(id);
      if (error) throw error;
      const known = [...loaded.keys()];
      throw new PalabreError('not_found', `no flow "${id}"${didYouMean(id, known)}; known flows: ${known.join(', ') || 'none'}`);
    },
    has: (id) => loaded.has(id),
    list: () => summaries.map((s) => ({ ...s })),
  };
}

/** What a flow that failed to load says about itself, as far as it can be read. */
async function peek(file: string): Promise<{ id?: string; description?: string; languages: string[]; states: number }> {
  try {
    const raw = parseYamlSource(await readFile(file, 'utf8')).doc.toJS() as Record<string, unknown> | null;
    const languages = Array.isArray(raw?.languages) ? raw.languages.filter((l): l is string => typeof l === 'string') : [];
    const states = raw?.states && typeof raw.states === 'object' ? Object.keys(raw.states).length : 0;
    return {
      id: typeof raw?.id === 'string' ? raw.id : undefined,
      description: typeof raw?.description === 'string' ? raw.description : undefined,
      languages,
      states,
    };
  } catch {
    return { languages: [], states: 0 };
  }
}
