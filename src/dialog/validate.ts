/**
 * Cross-reference checks of a flow that passed the schema: names used in one
 * place and defined in another. Each issue carries the path of the offending
 * value in the document, so that the loader can turn it into a line number.
 */
import { CONTEXT_VARIABLES } from './context.js';
import { BUILTIN_SLOT_TYPES, type ActionDefinition, type ConditionDefinition, type FlowDefinition, type HandlerDefinition, type RetryDefinition, type SayDefinition, type StateDefinition, type TextDefinition } from './schema.js';
import { didYouMean } from './suggest.js';
import { placeholders, valuePlaceholders } from './text.js';

export type IssuePath = Array<string | number>;

export interface ValidationIssue {
  path: IssuePath;
  message: string;
  /** Point at the key of the last path step rather than its value (a state's name, a language code). */
  atKey?: boolean;
  /** Warnings do not stop a flow from loading (a state nothing leads to, an unused intent). */
  severity: 'error' | 'warning';
}

/** Names every text may use besides slots and variables. */
export const BUILTIN_VARIABLES = ['flow', 'state', 'language', 'last_utterance', 'error', 'hangup_reason', ...CONTEXT_VARIABLES] as const;

const KEYPAD_SLOT_TYPES = new Set(['zip_code_fr', 'digits', 'number', 'phone']);

export function isKeypadSlotType(type: string): boolean {
  return KEYPAD_SLOT_TYPES.has(type);
}

function isEnding(action: ActionDefinition): boolean {
  return action.transfer !== undefined || 'hangup' in action;
}

/** Names a flow defines, gathered before any check so that order in the file does not matter. */
interface Names {
  languages: string[];
  states: Set<string>;
  intents: Set<string>;
  entities: Set<string>;
  flowCounters: Set<string>;
  /** Slot name → its type (first declaration wins; a different type elsewhere is an error). */
  slots: Map<string, string>;
  variables: Set<string>;
}

function collectVariables(actions: ActionDefinition[] | undefined, into: Set<string>): void {
  for (const action of actions ?? []) {
    for (const key of Object.keys(action.set ?? {})) into.add(key);
    if (action.webhook?.save_as) into.add(action.webhook.save_as);
    for (const target of [action.webhook?.on_success, action.webhook?.on_failure]) {
      if (target && typeof target === 'object') collectVariables(target.actions, into);
    }
  }
}

function collectHandlerVariables(handler: HandlerDefinition | string | undefined, into: Set<string>): void {
  if (handler && typeof handler === 'object') collectVariables(handler.actions, into);
}

function gatherNames(flow: FlowDefinition): Names {
  const variables = new Set<string>([...BUILTIN_VARIABLES, ...Object.keys(flow.variables ?? {})]);
  const slots = new Map<string, string>();
  collectVariables(flow.on_hangup, variables);
  for (const handler of Object.values(flow.global_intents ?? {})) collectHandlerVariables(handler, variables);
  for (const counter of Object.values(flow.counters ?? {})) collectHandlerVariables(counter.exceeded, variables);
  for (const retry of [flow.defaults?.unknown, flow.defaults?.no_input]) collectHandlerVariables(retry?.exceeded, variables);
  for (const state of Object.values(flow.states)) {
    for (const slot of state.slots ?? []) if (!slots.has(slot.name)) slots.set(slot.name, slot.type);
    collectVariables(state.on_enter, variables);
    for (const t of state.on ?? []) collectVariables(t.actions, variables);
    for (const counter of Object.values(state.counters ?? {})) collectHandlerVariables(counter.exceeded, variables);
    for (const retry of [state.unknown, state.no_input]) collectHandlerVariables(retry?.exceeded, variables);
  }
  // Counters can be read in texts and records ("{turns}").
  for (const name of Object.keys(flow.counters ?? {})) variables.add(name);
  for (const state of Object.values(flow.states)) for (const name of Object.keys(state.counters ?? {})) variables.add(name);
  return {
    languages: flow.languages,
    states: new Set(Object.keys(flow.states)),
    intents: new Set(Object.keys(flow.intents)),
    entities: new Set(Object.keys(flow.entities ?? {})),
    flowCounters: new Set(Object.keys(flow.counters ?? {})),
    slots,
    variables,
  };
}

class Checker {
  readonly issues: ValidationIssue[] = [];
  /** States some goto, next, start or error names: the others are never entered. */
  readonly entered = new Set<string>();
  readonly usedIntents = new Set<string>();

  constructor(
    private readonly flow: FlowDefinition,
    private readonly names: Names,
  ) {}

  error(path: IssuePath, message: string, atKey = false): void {
    this.issues.push({ path, message, severity: 'error', ...(atKey ? { atKey } : {}) });
  }

  warn(path: IssuePath, message: string, atKey = false): void {
    this.issues.push({ path, message, severity: 'warning', ...(atKey ? { atKey } : {}) });
  }

  stateRef(name: string, path: IssuePath): void {
    this.entered.add(name);
    if (!this.names.states.has(name)) this.error(path, `unknown state "${name}"${didYouMean(name, this.names.states)}`);
  }

  intentRef(name: string, path: IssuePath): void {
    this.usedIntents.add(name);
    if (!this.names.intents.has(name)) this.error(path, `unknown intent "${name}"${didYouMean(name, this.names.intents)}; define it under intents`);
  }

  template(template: string, path: IssuePath): void {
    const known = [...this.names.slots.keys(), ...this.names.variables];
    for (const name of placeholders(template)) {
      const root = name.split('.')[0];
      if (!this.names.slots.has(root) && !this.names.variables.has(root)) {
        this.error(path, `{${name}} is neither a slot nor a variable of the flow${didYouMean(root, known)}`);
      }
    }
  }

  value(value: unknown, path: IssuePath): void {
    for (const name of valuePlaceholders(value)) this.template(`{${name}}`, path);
  }

  /** A text must exist in every language the flow speaks, and only in those. */
  text(text: TextDefinition, path: IssuePath): void {
    const { languages } = this.names;
    if (typeof text === 'string') {
      if (languages.length > 1) this.error(path, `a plain text in a flow that speaks ${languages.join(' and ')}: give one per language ({${languages.map((l) => `${l}: …`).join(', ')}})`);
      this.template(text, path);
      return;
    }
    for (const language of languages) {
      if (text[language as keyof typeof text] === undefined) this.error(path, `no ${language} text (the flow speaks ${languages.join(', ')})`);
    }
    for (const [language, value] of Object.entries(text)) {
      if (!languages.includes(language)) this.error([...path, language], `the flow does not speak ${language} (languages: ${languages.join(', ')})`, true);
      else if (value !== undefined) this.template(value, [...path, language]);
    }
  }

  say(say: SayDefinition | undefined, path: IssuePath): void {
    if (say === undefined) return;
    if (!Array.isArray(say)) return this.text(say as TextDefinition, path);
    say.forEach((variant, i) => {
      this.condition(variant.when, [...path, i, 'when']);
      this.text(variant.text, [...path, i, 'text']);
    });
  }

  condition(condition: ConditionDefinition | undefined, path: IssuePath): void {
    const known = [...this.names.slots.keys(), ...this.names.variables];
    for (const name of Object.keys(condition ?? {})) {
      if (!this.names.slots.has(name) && !this.names.variables.has(name)) this.error([...path, name], `"${name}" is neither a slot nor a variable of the flow${didYouMean(name, known)}`);
    }
  }

  perLanguage(map: Partial<Record<string, unknown>> | undefined, path: IssuePath, what: string, required: boolean): void {
    if (!map) return;
    const { languages } = this.names;
    for (const language of Object.keys(map)) {
      if (!languages.includes(language)) this.error([...path, language], `the flow does not speak ${language} (languages: ${languages.join(', ')})`, true);
    }
    if (!required) return;
    for (const language of languages) if (map[language] === undefined) this.error(path, `no ${language} ${what} (the flow speaks ${languages.join(', ')})`);
  }

  counterRef(name: string, path: IssuePath, state: StateDefinition | undefined): void {
    if (state?.counters?.[name] !== undefined || this.names.flowCounters.has(name)) return;
    const candidates = [...Object.keys(state?.counters ?? {}), ...this.names.flowCounters];
    const where = state ? 'in this state\'s counters or the flow\'s counters' : 'in the flow\'s counters (global intents run in every state)';
    this.error(path, `unknown counter "${name}": define it ${where}${didYouMean(name, candidates)}`);
  }

  handler(handler: HandlerDefinition, path: IssuePath, state: StateDefinition | undefined): void {
    this.say(handler.say, [...path, 'say']);
    this.actions(handler.actions, [...path, 'actions'], state);
    if (handler.counter !== undefined) this.counterRef(handler.counter, [...path, 'counter'], state);
    if (handler.goto !== undefined) this.stateRef(handler.goto, [...path, 'goto']);
    if (handler.repeat && handler.goto !== undefined) this.error([...path, 'repeat'], 'repeat says the last prompt again in the same state: it cannot go with goto');
  }

  target(target: string | HandlerDefinition | undefined, path: IssuePath, state: StateDefinition | undefined): void {
    if (target === undefined) return;
    if (typeof target === 'string') return this.stateRef(target, path);
    if (target.counter !== undefined) this.error([...path, 'counter'], 'a counter\'s or retry\'s exceeded path cannot itself be counted');
    this.handler(target, path, state);
  }

  retry(retry: RetryDefinition | undefined, path: IssuePath, state: StateDefinition | undefined): void {
    if (!retry) return;
    this.say(retry.say, [...path, 'say']);
    this.target(retry.exceeded, [...path, 'exceeded'], state);
    if (retry.counter !== undefined) {
      this.counterRef(retry.counter, [...path, 'counter'], state);
      if (retry.max !== undefined || retry.exceeded !== undefined) this.error([...path, 'counter'], 'with a counter, its own max and exceeded apply: remove max and exceeded here');
    } else if (retry.max !== undefined && retry.exceeded === undefined) this.error([...path, 'max'], 'max needs exceeded: where to go after the last retry');
  }

  actions(actions: ActionDefinition[] | undefined, path: IssuePath, state: StateDefinition | undefined): void {
    (actions ?? []).forEach((action, i) => {
      const at = [...path, i];
      if (action.set) for (const [name, value] of Object.entries(action.set)) this.value(value, [...at, 'set', name]);
      if (action.save_record) this.value(action.save_record.data, [...at, 'save_record', 'data']);
      if (action.webhook) {
        const w = action.webhook;
        this.template(w.url, [...at, 'webhook', 'url']);
        this.value(w.body, [...at, 'webhook', 'body']);
        this.value(w.headers, [...at, 'webhook', 'headers']);
        this.target(w.on_success, [...at, 'webhook', 'on_success'], state);
        this.target(w.on_failure, [...at, 'webhook', 'on_failure'], state);
      }
      const later = (actions ?? []).slice(i + 1);
      if (isEnding(action) && later.some((a) => a.webhook !== undefined)) this.warn(at, 'a webhook after the call ends cannot change what the flow does');
    });
  }

  slots(state: StateDefinition, path: IssuePath): void {
    const seen = new Set<string>();
    const entityNames = [...BUILTIN_SLOT_TYPES, ...this.names.entities];
    (state.slots ?? []).forEach((slot, i) => {
      const at = [...path, 'slots', i];
      if (seen.has(slot.name)) this.error([...at, 'name'], `slot "${slot.name}" is declared twice in this state`);
      seen.add(slot.name);
      if (!(BUILTIN_SLOT_TYPES as readonly string[]).includes(slot.type) && !this.names.entities.has(slot.type)) {
        this.error([...at, 'type'], `unknown slot type "${slot.type}"${didYouMean(slot.type, entityNames)}: use ${BUILTIN_SLOT_TYPES.join(', ')} or an entity of the flow`);
      }
      const declared = this.names.slots.get(slot.name);
      if (declared !== undefined && declared !== slot.type) this.error([...at, 'type'], `slot "${slot.name}" is of type ${declared} elsewhere in the flow`);
      this.say(slot.prompt, [...at, 'prompt']);
      if (slot.dtmf && this.names.entities.has(slot.type)) this.error([...at, 'dtmf'], `an entity slot cannot be typed on the keypad`);
    });
  }

  state(name: string, state: StateDefinition): void {
    const path = ['states', name];
    this.say(state.say, [...path, 'say']);
    this.say(state.reprompt, [...path, 'reprompt']);
    if (state.llm) {
      if (typeof state.llm.prompt !== 'string') this.perLanguage(state.llm.prompt, [...path, 'llm', 'prompt'], 'prompt file', true);
      if (state.llm.system !== undefined) this.text(state.llm.system, [...path, 'llm', 'system']);
      if (state.llm.counter !== undefined) this.counterRef(state.llm.counter, [...path, 'llm', 'counter'], state);
    }
    if (state.listen?.hints && !Array.isArray(state.listen.hints)) this.perLanguage(state.listen.hints, [...path, 'listen', 'hints'], 'hints', false);
    this.slots(state, path);
    const slotNames = (state.slots ?? []).map((s) => s.name);
    (state.on ?? []).forEach((t, i) => {
      const at = [...path, 'on', i];
      if (t.intent !== undefined) this.intentRef(t.intent, [...at, 'intent']);
      const filled = t.slot_filled === undefined ? [] : Array.isArray(t.slot_filled) ? t.slot_filled : [t.slot_filled];
      filled.forEach((slot, j) => {
        const slotPath = Array.isArray(t.slot_filled) ? [...at, 'slot_filled', j] : [...at, 'slot_filled'];
        if (!slotNames.includes(slot)) this.error(slotPath, `"${slot}" is not a slot of this state${didYouMean(slot, slotNames)}`);
      });
      this.condition(t.when, [...at, 'when']);
      this.handler(t, at, state);
    });
    this.retry(state.unknown, [...path, 'unknown'], state);
    this.retry(state.no_input, [...path, 'no_input'], state);
    for (const [counter, def] of Object.entries(state.counters ?? {})) {
      if (this.names.flowCounters.has(counter)) this.error([...path, 'counters', counter], `counter "${counter}" is also a flow counter: give it another name`, true);
      this.target(def.exceeded, [...path, 'counters', counter, 'exceeded'], state);
    }
    this.actions(state.on_enter, [...path, 'on_enter'], state);
    if (state.next !== undefined) this.stateRef(state.next, [...path, 'next']);
    const ends = (state.on_enter ?? []).some(isEnding);
    if (!ends && state.next === undefined && !state.llm && !(state.on ?? []).length && !(state.slots ?? []).length) {
      this.error(path, 'this state waits for the caller but nothing leads out of it: add transitions (on), slots, next, or end the call with a hangup or transfer action', true);
    }
    if (state.next !== undefined && ((state.on ?? []).length || (state.slots ?? []).length)) {
      this.warn([...path, 'next'], 'a state with next does not listen: its transitions and slots are never used');
    }
  }

  /** States chained by `next` never wait for the caller: a loop of them would spin forever. */
  nextCycles(): void {
    const reported = new Set<string>();
    for (const start of Object.keys(this.flow.states)) {
      const chain: string[] = [];
      for (let name: string | undefined = start; name !== undefined && this.flow.states[name]; name = this.flow.states[name].next) {
        if (chain.includes(name)) {
          const loop = chain.slice(chain.indexOf(name));
          if (!loop.some((s) => reported.has(s))) {
            loop.forEach((s) => reported.add(s));
            this.error(['states', name, 'next'], `next goes round in a loop (${[...loop, name].join(' → ')}): the flow would never listen`);
          }
          break;
        }
        chain.push(name);
      }
    }
  }

  run(): void {
    const { flow, names } = this;
    if (flow.default_language !== undefined && !flow.languages.includes(flow.default_language)) {
      this.error(['default_language'], `${flow.default_language} is not one of the flow's languages (${flow.languages.join(', ')})`);
    }
    const seenLanguages = new Set<string>();
    flow.languages.forEach((l, i) => {
      if (seenLanguages.has(l)) this.error(['languages', i], `${l} is listed twice`);
      seenLanguages.add(l);
    });
    this.stateRef(flow.start, ['start']);
    if (flow.error !== undefined) this.stateRef(flow.error, ['error']);
    for (const [name, intent] of Object.entries(flow.intents)) {
      this.perLanguage(intent.examples, ['intents', name, 'examples'], 'examples', true);
      this.perLanguage(intent.keywords, ['intents', name, 'keywords'], 'keywords', false);
    }
    for (const [name, entity] of Object.entries(flow.entities ?? {})) {
      if ((BUILTIN_SLOT_TYPES as readonly string[]).includes(name)) this.error(['entities', name], `"${name}" is a built-in slot type: give the entity another name`, true);
      for (const [value, synonyms] of Object.entries(entity.values)) this.perLanguage(synonyms, ['entities', name, 'values', value], 'synonyms', true);
    }
    for (const [name, handler] of Object.entries(flow.global_intents ?? {})) {
      this.usedIntents.add(name);
      if (!this.names.intents.has(name)) this.error(['global_intents', name], `unknown intent "${name}"${didYouMean(name, this.names.intents)}; define it under intents`, true);
      this.handler(handler, ['global_intents', name], undefined);
    }
    for (const [name, counter] of Object.entries(flow.counters ?? {})) this.target(counter.exceeded, ['counters', name, 'exceeded'], undefined);
    this.retry(flow.defaults?.unknown, ['defaults', 'unknown'], undefined);
    this.retry(flow.defaults?.no_input, ['defaults', 'no_input'], undefined);
    const defaultHints = flow.defaults?.listen?.hints;
    if (defaultHints && !Array.isArray(defaultHints)) this.perLanguage(defaultHints, ['defaults', 'listen', 'hints'], 'hints', false);
    this.perLanguage(flow.defaults?.voices, ['defaults', 'voices'], 'voice', false);
    for (const [name, value] of Object.entries(flow.variables ?? {})) this.value(value, ['variables', name]);
    this.actions(flow.on_hangup, ['on_hangup'], undefined);
    for (const [name, state] of Object.entries(flow.states)) this.state(name, state);
    this.nextCycles();
    for (const name of names.states) if (!this.entered.has(name)) this.warn(['states', name], `state "${name}" is never entered: no goto, next, start or error names it`, true);
    for (const name of names.intents) if (!this.usedIntents.has(name)) this.warn(['intents', name], `intent "${name}" is defined but no state or global intent uses it`, true);
  }
}

/** Names a text of the flow may use: its slots, its variables and the built-in ones. */
export function knownNames(flow: FlowDefinition): Set<string> {
  const names = gatherNames(flow);
  return new Set([...names.slots.keys(), ...names.variables]);
}

/** Every cross-reference problem of `flow`, errors and warnings, in document order of discovery. */
export function validateFlow(flow: FlowDefinition): ValidationIssue[] {
  const checker = new Checker(flow, gatherNames(flow));
  checker.run();
  return checker.issues;
}
