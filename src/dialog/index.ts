/** Declarative flows: the format, the loader and the runtime. */
import type { LoadedFlow } from './loader.js';
import type { IntentDefinition } from './types.js';

export { flowJsonSchema, flowSchema, FLOW_LANGUAGES, BUILTIN_SLOT_TYPES } from './schema.js';
export type { FlowDefinition, FlowLanguage, StateDefinition } from './schema.js';
export { parseFlow, loadFlowFile, loadFlowsDir, formatIssue } from './loader.js';
export type { FlowIssue, FlowRegistry, FlowSummary, LoadedFlow, LoadFlowOptions, ParseFlowOptions } from './loader.js';
export { createDialogRuntime } from './runtime.js';
export type { DialogRuntimeOptions } from './runtime.js';
export type { ChatMessage, ChatOptions, DialogLlm } from './llm.js';
export type { SlotExtractor, ExtractedSlot } from './understand.js';
export { DEFAULT_LISTEN, listenSpec } from './listen-spec.js';

/** The flow's intents in the shape the intent classifiers take. */
export function intentDefinitions(flow: LoadedFlow): IntentDefinition[] {
  return Object.entries(flow.definition.intents).map(([name, def]) => ({
    name,
    examples: def.examples as Record<string, string[]>,
    ...(def.keywords ? { keywords: def.keywords as Record<string, string[]> } : {}),
    ...(def.description ? { description: def.description } : {}),
  }));
}
