/**
 * The realtime part of a flow (`mode: realtime`): its checks and its
 * instructions per language, read from the flow or from a prompt file next
 * to it. Used by the flow loader, which reports the problems at their lines.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { FlowDefinition, FlowLanguage } from '../../dialog/schema.js';

export interface RealtimeFlowProblem {
  path: Array<string | number>;
  message: string;
  /** The problem is about the key (not its value). */
  atKey?: boolean;
}

/** The instructions of a `mode: realtime` flow per language (undefined for other flows), and what is wrong. */
export async function realtimeInstructions(flow: FlowDefinition, baseDir: string): Promise<{ instructions?: Partial<Record<FlowLanguage, string>>; problems: RealtimeFlowProblem[] }> {
  const rt = flow.realtime;
  const problems: RealtimeFlowProblem[] = [];
  if (flow.mode !== 'realtime') {
    if (rt) problems.push({ path: ['realtime'], message: 'realtime settings are used only with `mode: realtime`', atKey: true });
    return { problems };
  }
  if (!rt || (rt.instructions === undefined) === (rt.prompt === undefined)) {
    problems.push({ path: rt ? ['realtime'] : ['mode'], message: 'a realtime flow needs `realtime:` with either `instructions` or `prompt` (a file), not both', atKey: true });
    return { problems };
  }
  const out: Partial<Record<FlowLanguage, string>> = {};
  if (rt.instructions !== undefined) {
    for (const language of flow.languages) {
      const text = typeof rt.instructions === 'string' ? rt.instructions : rt.instructions[language];
      if (text) out[language] = text;
      else problems.push({ path: ['realtime', 'instructions'], message: `no instructions in ${language}, a language of the flow` });
    }
    return { instructions: out, problems };
  }
  const prompt = rt.prompt as string | Partial<Record<FlowLanguage, string>>;
  const files: Array<[FlowLanguage[], string, Array<string | number>]> =
    typeof prompt === 'string' ? [[flow.languages, prompt, ['realtime', 'prompt']]] : Object.entries(prompt).map(([lang, f]) => [[lang as FlowLanguage], f as string, ['realtime', 'prompt', lang]]);
  for (const [languages, file, path] of files) {
    const full = resolve(baseDir, file);
    try {
      const text = (await readFile(full, 'utf8')).trim();
      if (!text) problems.push({ path, message: `prompt file ${file} is empty` });
      for (const language of languages) out[language] = text;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push({ path, message: `cannot read prompt file ${file} (looked for ${full}): ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message}` });
    }
  }
  for (const language of flow.languages) if (out[language] === undefined) problems.push({ path: ['realtime', 'prompt'], message: `no instructions file for ${language}, a language of the flow` });
  return { instructions: out, problems };
}
