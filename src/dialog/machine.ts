/**
 * The flow state machine. Work is a queue of steps (enter a state, say, run
 * actions, ask again, listen); an event puts steps on the queue and the queue
 * runs until the flow waits for the caller, for an effect's result, or ends.
 * A webhook pauses the queue: its `action-result` resumes it where it stopped.
 */
import { randomUUID } from 'node:crypto';
import type { SpeakingStyle } from '../engines/tts/types.js';
import { PalabreError, throwIfAborted } from '../errors.js';
import type { LoadedFlow } from './loader.js';
import { type ChatMessage, type DialogLlm, parseStyledReply, replyInstructions } from './llm.js';
import { SentenceSplitter } from './sentences.js';
import { listenSpec } from './listen-spec.js';
import type { ActionDefinition, CounterDefinition, FlowDefinition, HandlerDefinition, RetryDefinition, SayDefinition, StateDefinition } from './schema.js';
import { chooseSay, interpolate, type Lookup, renderValue, resolvePath, textIn } from './text.js';
import type { DialogOutput, DialogSnapshot } from './types.js';
import { missingSlots } from './understand.js';

export type SayOutput = Extract<DialogOutput, { type: 'say' }>;
type Ending = Extract<DialogOutput, { type: 'hangup' | 'transfer' }>;

export type Step =
  | { k: 'enter'; state: string }
  | { k: 'say'; say: SayDefinition; style?: SpeakingStyle }
  | { k: 'actions'; list: ActionDefinition[]; i: number }
  | { k: 'prompt' }
  | { k: 'reprompt' }
  | { k: 'repeat' }
  | { k: 'llm'; user: string | null }
  | { k: 'listen' };

/**
 * Outputs of one event, gathered by kind and returned in the contract's order.
 * With an `early` sink, what is ready before the event is done (the first
 * sentences of a streamed model reply, and the events and says before them)
 * is sent ahead and left out of the result.
 */
export class Batch {
  readonly events: DialogOutput[] = [];
  readonly says: SayOutput[] = [];
  readonly effects: DialogOutput[] = [];
  final: DialogOutput | null = null;
  /** Every say of this event, sent early or not: what "repeat" replays. */
  readonly allSays: SayOutput[] = [];

  constructor(private readonly early?: (outputs: DialogOutput[]) => void) {}

  say(output: SayOutput): void {
    this.says.push(output);
    this.allSays.push(output);
  }

  /** Sends the events and says gathered so far ahead of the result (no-op without a sink). */
  flush(): void {
    if (!this.early) return;
    const ready = [...this.events, ...this.says];
    this.events.length = 0;
    this.says.length = 0;
    if (ready.length > 0) this.early(ready);
  }

  outputs(): DialogOutput[] {
    return [...this.events, ...this.says, ...this.effects, ...(this.final ? [this.final] : [])];
  }
}

interface PendingEffect {
  kind: 'record' | 'webhook';
  webhook?: NonNullable<ActionDefinition['webhook']>;
}

/** A flow that never waits is looping through `next` or gotos. */
const MAX_ENTRIES_PER_EVENT = 64;
const OPENING_TURN = '(The conversation starts now: open it.)';

export interface MachineOptions {
  language: string;
  llm?: DialogLlm;
  idGenerator?: () => string;
}

export class FlowMachine {
  readonly def: FlowDefinition;
  readonly language: string;
  current: string | null = null;
  slots: Record<string, unknown> = {};
  variables: Record<string, unknown>;
  counters: Record<string, number> = {};
  records: Array<{ kind: string; data: Record<string, unknown> }> = [];
  ended = false;
  ending: Ending | null = null;
  /** Effect id the queue waits for. */
  blockedOn: string | null = null;
  agenda: Step[] = [];
  lastPrompt: SayOutput[] = [];
  lastUtterance = '';
  private readonly pending = new Map<string, PendingEffect>();
  private readonly history: ChatMessage[] = [];
  private lastReply: SayOutput | null = null;
  private entries = 0;
  private readonly newId: () => string;

  constructor(
    readonly flow: LoadedFlow,
    private readonly options: MachineOptions,
  ) {
    this.def = flow.definition;
    this.language = options.language;
    this.variables = structuredClone(this.def.variables ?? {});
    // Named counters start at 0 so that texts and records can show them before they first count.
    for (const name of Object.keys(this.def.counters ?? {})) this.counters[name] = 0;
    for (const state of Object.values(this.def.states)) for (const name of Object.keys(state.counters ?? {})) this.counters[name] = 0;
    this.newId = options.idGenerator ?? randomUUID;
  }

  get state(): StateDefinition {
    return this.def.states[this.current ?? this.def.start];
  }

  readonly lookup: Lookup = (name) => {
    const [root, ...rest] = name.split('.');
    let base: unknown;
    if (this.slots[root] !== undefined) base = this.slots[root];
    else if (this.variables[root] !== undefined) base = this.variables[root];
    else if (this.counters[root] !== undefined) base = this.counters[root];
    else if (root === 'flow') base = this.def.id;
    else if (root === 'state') base = this.current;
    else if (root === 'language') base = this.language;
    else if (root === 'last_utterance') base = this.lastUtterance;
    return resolvePath(base, rest);
  };

  /** Runs the queue until the flow waits; `fail` turns an unexpected error into the error path. */
  async run(batch: Batch, signal?: AbortSignal): Promise<void> {
    this.entries = 0;
    try {
      while (this.agenda.length > 0 && this.blockedOn === null) {
        const step = this.agenda.shift()!;
        await this.step(step, batch, signal);
      }
    } catch (err) {
      this.agenda = [];
      if ((err instanceof PalabreError && err.code === 'aborted') || signal?.aborted) throw err;
      this.fail(err instanceof Error ? err.message : String(err));
      await this.run(batch, signal);
      return;
    }
    if (this.blockedOn === null && this.ending && !this.ended) {
      batch.final = this.ending;
      this.ended = true;
    }
  }

  /** Something went wrong: the flow's error state, or hang up when there is none (or it is failing itself). */
  fail(reason: string): void {
    this.variables.error = reason;
    this.blockedOn = null;
    const errorState = this.def.error;
    if (errorState && this.current !== errorState && !this.ending) this.agenda = [{ k: 'enter', state: errorState }];
    else {
      this.agenda = [];
      this.ending ??= { type: 'hangup', reason: 'error' };
    }
  }

  private async step(step: Step, batch: Batch, signal?: AbortSignal): Promise<void> {
    switch (step.k) {
      case 'enter':
        return this.enter(step.state, batch);
      case 'say':
        return this.say(step.say, step.style ?? this.state.style, batch);
      case 'actions':
        return this.actions(step.list, step.i, batch);
      case 'prompt':
        if (this.state.say) return this.say(this.state.say, this.state.style, batch);
        if (this.state.llm && !this.ending) return this.llmReply(null, batch, signal);
        return;
      case 'reprompt':
        return this.reprompt(batch);
      case 'repeat':
        for (const say of this.lastPrompt) batch.say({ ...say });
        return;
      case 'llm':
        if (!this.ending) await this.llmReply(step.user, batch, signal);
        return;
      case 'listen':
        if (this.ending || this.ended) return;
        if (batch.allSays.length > 0) this.lastPrompt = batch.allSays.map((s) => ({ ...s }));
        batch.final = { type: 'listen', spec: listenSpec(this.def, this.state, this.language) };
        this.agenda = [];
        return;
    }
  }

  private enter(name: string, batch: Batch): void {
    if (++this.entries > MAX_ENTRIES_PER_EVENT) {
      throw new PalabreError('internal', `flow ${this.def.id} went through ${MAX_ENTRIES_PER_EVENT} states without waiting for the caller (last: ${name}); check its next and goto cycles`);
    }
    batch.events.push({ type: 'state', from: this.current, to: name });
    this.current = name;
    // Retries count per visit: coming back to a state later starts afresh.
    delete this.counters[`${name}.unknown`];
    delete this.counters[`${name}.no_input`];
    const state = this.def.states[name];
    this.agenda = [
      { k: 'actions', list: state.on_enter ?? [], i: 0 },
      { k: 'prompt' },
      state.next !== undefined ? { k: 'enter', state: state.next } : { k: 'listen' },
    ];
  }

  private voice(): string | undefined {
    return this.def.defaults?.voices?.[this.language as keyof NonNullable<NonNullable<FlowDefinition['defaults']>['voices']>];
  }

  sayText(text: string, dynamic: boolean, style: SpeakingStyle | undefined, batch: Batch): void {
    if (text.trim() === '') return;
    const chosen = style ?? this.def.defaults?.style;
    const voice = this.voice();
    batch.say({ type: 'say', text, language: this.language, ...(chosen ? { style: chosen } : {}), ...(voice ? { voice } : {}), cacheable: !dynamic });
  }

  private say(say: SayDefinition, style: SpeakingStyle | undefined, batch: Batch): void {
    const template = chooseSay(say, this.language, this.lookup);
    if (template === null) return;
    const { text, dynamic } = interpolate(template, this.lookup, this.language);
    this.sayText(text, dynamic, style, batch);
  }

  /** Asks again: the first missing slot's own question, else the state's reprompt, say, or last model reply. */
  private reprompt(batch: Batch): void {
    const state = this.state;
    const missing = missingSlots(state, this.slots).find((s) => s.prompt !== undefined);
    if (missing?.prompt) return this.say(missing.prompt, state.style, batch);
    const again = state.reprompt ?? state.say;
    if (again) return this.say(again, state.style, batch);
    if (this.lastReply) batch.say({ ...this.lastReply });
  }

  private effect(id: string, effect: Extract<DialogOutput, { type: 'effect' }>['effect'], batch: Batch): void {
    batch.effects.push({ type: 'effect', id, effect });
  }

  private actions(list: ActionDefinition[], from: number, batch: Batch): void {
    for (let i = from; i < list.length; i++) {
      const action = list[i];
      if (action.set) {
        for (const [name, value] of Object.entries(action.set)) this.variables[name] = renderValue(value, this.lookup, this.language);
      } else if (action.save_record) {
        const data = renderValue(action.save_record.data, this.lookup, this.language) as Record<string, unknown>;
        const id = this.newId();
        this.records.push({ kind: action.save_record.kind, data });
        this.pending.set(id, { kind: 'record' });
        this.effect(id, { type: 'save_record', kind: action.save_record.kind, data: structuredClone(data) }, batch);
      } else if (action.transfer !== undefined) {
        const t = typeof action.transfer === 'string' ? { target: action.transfer } : action.transfer;
        this.ending ??= { type: 'transfer', ...(t.target ? { target: t.target } : {}), reason: t.reason ?? 'requested' };
      } else if ('hangup' in action) {
        this.ending ??= { type: 'hangup', reason: action.hangup?.reason ?? 'completed' };
      } else if (action.webhook) {
        const w = action.webhook;
        const id = this.newId();
        const url = w.url.replace(/\{([A-Za-z_][A-Za-z0-9_.]*)\}/g, (_, name: string) => encodeURIComponent(interpolate(`{${name}}`, this.lookup, this.language).text));
        const body = w.body === undefined ? undefined : (renderValue(w.body, this.lookup, this.language) as Record<string, unknown>);
        const headers = w.headers === undefined ? undefined : (renderValue(w.headers, this.lookup, this.language) as Record<string, string>);
        this.pending.set(id, { kind: 'webhook', webhook: w });
        this.effect(id, { type: 'webhook', url, method: w.method, ...(body ? { body } : {}), ...(headers ? { headers } : {}), timeoutMs: w.timeout_ms }, batch);
        // Once the call is ending nothing can follow from the answer: do not wait for it.
        if (!this.ending && !this.ended) {
          this.blockedOn = id;
          this.agenda.unshift({ k: 'actions', list, i: i + 1 });
          return;
        }
      }
    }
  }

  private counterDef(name: string): CounterDefinition | undefined {
    return this.state.counters?.[name] ?? this.def.counters?.[name];
  }

  /**
   * Queues what a handler does. In reply to a caller's event (`event`), staying in the state
   * asks again and listens; inside a paused queue (`inline`, a webhook's answer), the queue goes on.
   */
  runHandler(handler: HandlerDefinition, mode: 'event' | 'inline'): void {
    if (handler.counter !== undefined) {
      const count = (this.counters[handler.counter] ?? 0) + 1;
      this.counters[handler.counter] = count;
      const def = this.counterDef(handler.counter);
      if (def && count > def.max) return this.runTarget(def.exceeded, mode);
    }
    const steps: Step[] = [];
    if (handler.repeat) steps.push({ k: 'repeat' });
    if (handler.say !== undefined) steps.push({ k: 'say', say: handler.say, ...(handler.style ? { style: handler.style } : {}) });
    if (handler.actions?.length) steps.push({ k: 'actions', list: handler.actions, i: 0 });
    if (handler.goto !== undefined) steps.push({ k: 'enter', state: handler.goto });
    else if (mode === 'event') {
      if (!handler.repeat && handler.reprompt !== false) steps.push({ k: 'reprompt' });
      steps.push({ k: 'listen' });
    }
    this.agenda.unshift(...steps);
  }

  runTarget(target: string | HandlerDefinition, mode: 'event' | 'inline'): void {
    this.runHandler(typeof target === 'string' ? { goto: target } : target, mode);
  }

  /** The unknown or no-input path: say, count, ask again; past the max, go where the flow says. */
  retry(kind: 'unknown' | 'no_input'): void {
    const own = this.state[kind];
    const policy: RetryDefinition = { ...this.def.defaults?.[kind], ...own };
    // A state's own max/exceeded replaces a counter inherited from the defaults.
    if (own && own.counter === undefined && (own.max !== undefined || own.exceeded !== undefined)) delete policy.counter;
    const named = policy.counter === undefined ? undefined : this.counterDef(policy.counter);
    const key = policy.counter ?? `${this.current}.${kind}`;
    const count = (this.counters[key] ?? 0) + 1;
    this.counters[key] = count;
    const max = named ? named.max : policy.max;
    const exceeded = named ? named.exceeded : policy.exceeded;
    if (max !== undefined && count > max && exceeded !== undefined) return this.runTarget(exceeded, 'event');
    if (policy.say !== undefined) this.agenda.push({ k: 'say', say: policy.say });
    if (policy.reprompt !== false) this.agenda.push({ k: 'reprompt' });
    this.agenda.push({ k: 'listen' });
  }

  /** A model's reply in an `llm` state; counted when the state says so. */
  llmTurn(user: string): void {
    const counter = this.state.llm?.counter;
    if (counter !== undefined) {
      const count = (this.counters[counter] ?? 0) + 1;
      this.counters[counter] = count;
      const def = this.counterDef(counter);
      if (def && count > def.max) return this.runTarget(def.exceeded, 'event');
    }
    this.agenda.push({ k: 'llm', user }, { k: 'listen' });
  }

  private async llmReply(user: string | null, batch: Batch, signal?: AbortSignal): Promise<void> {
    const def = this.state.llm;
    const llm = this.options.llm;
    if (!def || !llm) throw new PalabreError('engine_unavailable', `state ${this.current} needs a language model and the dialog has none`);
    const template = this.flow.prompts[this.current!]?.[this.language as 'fr' | 'en'] ?? '';
    const system = [
      def.system === undefined ? undefined : interpolate(textIn(def.system, this.language) ?? '', this.lookup, this.language).text,
      interpolate(template, this.lookup, this.language).text,
      replyInstructions(this.language, def.style === 'auto'),
    ].filter((s): s is string => !!s && s.trim() !== '');
    if (user !== null) this.history.push({ role: 'user', content: user });
    const recent = this.history.slice(-Math.max(1, def.history));
    if (recent[0]?.role === 'assistant' || recent.length === 0) recent.unshift({ role: 'user', content: OPENING_TURN });
    const messages: ChatMessage[] = [{ role: 'system', content: system.join('\n\n') }, ...recent];
    // Each sentence is spoken as soon as it is complete: the caller hears the start of the answer while the model writes the rest.
    const splitter = new SentenceSplitter();
    const spoken: string[] = [];
    let style: SpeakingStyle | undefined;
    const speak = (sentence: string): void => {
      if (spoken.length === 0) style ??= def.style !== 'auto' ? def.style : this.state.style;
      sentence = parseStyledReply(sentence).text;
      if (sentence === '') return;
      spoken.push(sentence);
      this.sayText(sentence, true, style, batch);
      batch.flush();
    };
    // The "[style]" tag comes off before splitting, so that it neither counts towards a sentence's length nor is spoken.
    let head: string | null = '';
    const feed = (text: string): void => {
      for (const sentence of splitter.push(text)) speak(sentence);
    };
    for await (const delta of llm.chat(messages, { signal, maxTokens: def.max_tokens, temperature: def.temperature })) {
      // A model that does not watch the signal must not keep a barged-in turn alive.
      throwIfAborted(signal, 'language model reply');
      if (head === null) {
        feed(delta);
        continue;
      }
      head += delta;
      const start = head.trimStart();
      if (start === '' || (start.startsWith('[') && !start.includes(']') && start.length < 40)) continue;
      const tagged = parseStyledReply(start.startsWith('[') ? start.slice(0, start.indexOf(']') + 1) : '');
      if (tagged.style) style = tagged.style;
      feed(start.startsWith('[') && start.includes(']') ? start.slice(start.indexOf(']') + 1).trimStart() : start);
      head = null;
    }
    if (head !== null) feed(head);
    const rest = splitter.end();
    if (rest) speak(rest);
    if (spoken.length === 0) throw new PalabreError('engine_failed', `the language model returned an empty reply in state ${this.current}`);
    const text = spoken.join(' ');
    this.history.push({ role: 'assistant', content: text });
    const voice = this.voice();
    this.lastReply = { type: 'say', text, language: this.language, ...(style ? { style } : {}), ...(voice ? { voice } : {}), cacheable: false };
  }

  /** The answer to an effect: a webhook's resumes the paused queue. Returns false for an unknown id. */
  settle(id: string, ok: boolean, data: Record<string, unknown> | undefined, error: string | undefined): boolean {
    const pending = this.pending.get(id);
    if (!pending) return false;
    this.pending.delete(id);
    if (pending.kind === 'record') {
      // A record that could not be saved while the caller is still here: the error path tells them.
      if (!ok && !this.ended && this.blockedOn === null) this.fail(`could not save a record: ${error ?? 'unknown error'}`);
      return true;
    }
    if (this.blockedOn !== id) return true;
    this.blockedOn = null;
    const webhook = pending.webhook!;
    if (ok) {
      if (webhook.save_as) this.variables[webhook.save_as] = data ?? {};
      if (webhook.on_success !== undefined) this.runTarget(webhook.on_success, 'inline');
    } else {
      this.variables.error = error ?? 'webhook failed';
      if (webhook.on_failure !== undefined) this.runTarget(webhook.on_failure, 'inline');
      else this.fail(`webhook ${webhook.method} ${webhook.url} failed: ${error ?? 'no detail'}`);
    }
    return true;
  }

  snapshot(): DialogSnapshot {
    return {
      flow: this.def.id,
      state: this.current ?? this.def.start,
      language: this.language,
      slots: structuredClone(this.slots),
      variables: structuredClone(this.variables),
      counters: { ...this.counters },
      ended: this.ended,
      records: structuredClone(this.records),
    };
  }
}
