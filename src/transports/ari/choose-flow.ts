/**
 * Which flow an ARI call runs, from what the dialplan said: the Stasis
 * arguments first (`Stasis(palabre,flow=support-desk,language=en)`), then
 * the channel variables PALABRE_FLOW / PALABRE_LANGUAGE (`Set()` before
 * `Stasis()`), then the configured default. The choice is checked against
 * the loaded flows before the call is answered, so a typo in the dialplan
 * is refused with the known flows named instead of failing mid-call.
 */
import type { FlowRegistry } from '../../dialog/loader.js';
import { PalabreError } from '../../errors.js';

export interface AriFlowChoice {
  flow: string;
  language: string;
}

export const FLOW_VARIABLE = 'PALABRE_FLOW';
export const LANGUAGE_VARIABLE = 'PALABRE_LANGUAGE';

/** `flow=…` and `language=…` among the Stasis arguments (any order); anything else is returned as unknown. */
export function parseStasisArgs(args: readonly string[]): Partial<AriFlowChoice> & { unknown: string[] } {
  const out: Partial<AriFlowChoice> & { unknown: string[] } = { unknown: [] };
  for (const arg of args) {
    const m = /^\s*(flow|language)\s*=\s*(\S+)\s*$/i.exec(arg);
    if (m) out[m[1].toLowerCase() as 'flow' | 'language'] = m[2];
    else if (arg.trim() !== '') out.unknown.push(arg);
  }
  return out;
}

/**
 * The flow and language for a call. `readVariable` is asked only for what the
 * arguments did not say, and resolves undefined when the variable is unset.
 */
export async function chooseAriFlow(args: readonly string[], readVariable: (name: string) => Promise<string | undefined>, defaults: AriFlowChoice): Promise<AriFlowChoice & { unknownArgs: string[] }> {
  const fromArgs = parseStasisArgs(args);
  const flow = fromArgs.flow ?? (await readVariable(FLOW_VARIABLE)) ?? defaults.flow;
  const language = fromArgs.language ?? (await readVariable(LANGUAGE_VARIABLE)) ?? defaults.language;
  return { flow, language, unknownArgs: fromArgs.unknown };
}

/** Throws, naming the problem, when the registry has no such flow or the flow does not speak the language. */
export function checkFlowChoice(registry: FlowRegistry, choice: AriFlowChoice): void {
  const flow = registry.get(choice.flow);
  const languages: readonly string[] = flow.definition.languages;
  if (!languages.includes(choice.language)) throw new PalabreError('bad_request', `flow "${choice.flow}" speaks ${languages.join(', ')}, not "${choice.language}"`);
}
