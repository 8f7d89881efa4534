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
import type { LlmItem, LlmMessage, LlmToolCall, StreamOptions } from '../engines/llm/types.js';
import { type CallContext, contextValue } from './context.js';
import { type ChatMessage, type DialogLlm, parseStyledReply, replyInstructions } from './llm.js';
import { ReplyStream } from './reply-stream.js';
import type { CompiledTool } from './tools.js';
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
  /** Goes on with a model's turn paused on a tool's webhook. */
  | { k: 'llm-tools' }
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

  /**
   * Sends the events and says gathered so far ahead of the result (no-op without a sink);
   * with `effects`, the effects too: a record a tool saved must not be lost if the rest of the turn is cut.
   */
  flush(effects = false): void {
    if (!this.early) return;
    const ready = [...this.events, ...this.says, ...(effects ? this.effects : [])];
    this.events.length = 0;
    this.says.length = 0;
    if (effects) this.effects.length = 0;
    if (ready.length > 0) this.early(ready);
  }

  outputs(): DialogOutput[] {
    return [...this.events, ...this.says, ...this.effects, ...(this.final ? [this.final] : [])];
  }
}

interface PendingEffect {
  kind: 'record' | 'webhook' | 'tool';
  webhook?: NonNullable<ActionDefinition['webhook']>;
  /** The model's tool call a webhook answers. */
  toolCallId?: string;
}

/** A model that can call tools (the LLM engines; the dialog's own contract only needs `chat`). */
export interface ToolLlm extends DialogLlm {
  stream(messages: LlmMessage[], options?: StreamOptions): AsyncIterable<LlmItem>;
}

export function canCallTools(llm: DialogLlm | undefined): llm is ToolLlm {
  return typeof (llm as Partial<ToolLlm> | undefined)?.stream === 'function';
}

/** A model's reply that uses tools: the conversation of this turn, kept across a webhook's pause. */
interface ToolTurn {
  messages: LlmMessage[];
  tools: CompiledTool[];
  /** Requests made to the model in this turn. */
  requests: number;
  /** Calls of the model's last answer not performed yet. */
  queue: LlmToolCall[];
  spoken: string[];
  style?: SpeakingStyle;
}

/** Longest tool result (a webhook's answer) sent back to the model. */
const MAX_TOOL_RESULT_CHARS = 8000;

/** A flow that never waits is looping through `next` or gotos. */
const MAX_ENTRIES_PER_EVENT = 64;
const OPENING_TURN = '(The conversation starts now: open it.)';

export interface MachineOptions {
  language: string;
  llm?: DialogLlm;
  idGenerator?: () => string;
  /** The call itself (caller id, transport…), readable in texts and prompts. */
  context?: CallContext;
  /** When the call started, for `{call_date}` / `{call_time}`. */
  startedAt?: Date;
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
  private toolTurn: ToolTurn | null = null;
  private readonly startedAt: Date;
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
    this.startedAt = options.context?.startedAt ?? options.startedAt ?? new Date();
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
    else base = contextValue(root, this.options.context ?? {}, this.language, this.startedAt);
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
      case 'llm-tools':
        if (this.toolTurn) await this.toolLoop(this.toolTurn, batch, signal);
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

  /** The system prompt, few-shot examples and recent conversation of an `llm` state. */
  private llmMessages(user: string | null): ChatMessage[] {
    const def = this.state.llm!;
    const language = this.language as 'fr' | 'en';
    const template = this.flow.prompts[this.current!]?.[language] ?? '';
    const parts = this.flow.promptParts?.[this.current!]?.[language];
    const fill = (text: string | undefined) => (text === undefined ? undefined : interpolate(text, this.lookup, this.language).text);
    const system = [
      def.system === undefined ? undefined : fill(textIn(def.system, this.language) ?? ''),
      fill(parts?.system),
      fill(template),
      replyInstructions(this.language, def.style === 'auto'),
    ].filter((s): s is string => !!s && s.trim() !== '');
    if (user !== null) this.history.push({ role: 'user', content: user });
    const recent = this.history.slice(-Math.max(1, def.history));
    if (recent[0]?.role === 'assistant' || recent.length === 0) recent.unshift({ role: 'user', content: OPENING_TURN });
    const examples = (parts?.examples ?? []).flatMap((e): ChatMessage[] => [
      { role: 'user', content: fill(e.user)! },
      { role: 'assistant', content: fill(e.assistant)! },
    ]);
    return [{ role: 'system', content: system.join('\n\n') }, ...examples, ...recent];
  }

  /** Speaks one complete sentence of a model's reply, as soon as it is complete. */
  private speaker(reply: { spoken: string[]; style?: SpeakingStyle }, batch: Batch): ReplyStream {
    const def = this.state.llm!;
    return new ReplyStream(
      (sentence) => {
        if (reply.spoken.length === 0) reply.style ??= def.style !== 'auto' ? def.style : this.state.style;
        const text = parseStyledReply(sentence).text;
        if (text === '') return;
        reply.spoken.push(text);
        this.sayText(text, true, reply.style, batch);
        batch.flush();
      },
      (style) => {
        reply.style = style;
      },
    );
  }

  private async llmReply(user: string | null, batch: Batch, signal?: AbortSignal): Promise<void> {
    const def = this.state.llm;
    const llm = this.options.llm;
    if (!def || !llm) throw new PalabreError('engine_unavailable', `state ${this.current} needs a language model and the dialog has none`);
    const messages = this.llmMessages(user);
    const tools = (def.tools ?? []).map((name) => this.flow.tools?.get(name)).filter((t): t is CompiledTool => t !== undefined);
    this.toolTurn = null;
    if (tools.length > 0 && canCallTools(llm)) {
      this.toolTurn = { messages, tools, requests: 0, queue: [], spoken: [] };
      return this.toolLoop(this.toolTurn, batch, signal);
    }
    // Each sentence is spoken as soon as it is complete: the caller hears the start of the answer while the model writes the rest.
    const reply: { spoken: string[]; style?: SpeakingStyle } = { spoken: [] };
    const stream = this.speaker(reply, batch);
    for await (const delta of llm.chat(messages, { signal, maxTokens: def.max_tokens, temperature: def.temperature })) {
      // A model that does not watch the signal must not keep a barged-in turn alive.
      throwIfAborted(signal, 'language model reply');
      stream.push(delta);
    }
    stream.end();
    this.replied(reply);
  }

  /** The reply is complete: it joins the conversation, and is what asking again repeats. */
  private replied(reply: { spoken: string[]; style?: SpeakingStyle }): void {
    if (reply.spoken.length === 0) {
      // A model that only called a tool ending the call has nothing more to say.
      if (this.ending) return;
      throw new PalabreError('engine_failed', `the language model returned an empty reply in state ${this.current}`);
    }
    const text = reply.spoken.join(' ');
    this.history.push({ role: 'assistant', content: text });
    const voice = this.voice();
    const style = reply.style;
    this.lastReply = { type: 'say', text, language: this.language, ...(style ? { style } : {}), ...(voice ? { voice } : {}), cacheable: false };
  }

  /**
   * A model's turn with tools: the model writes (spoken sentence by sentence)
   * and may call tools; each call's arguments are checked against the tool's
   * schema, the tool runs, its result goes back to the model, which goes on.
   * Bounded by the state's `max_tool_rounds`: the last request allows no tool.
   * A webhook tool pauses the turn until its answer (`llm-tools` resumes it).
   */
  private async toolLoop(turn: ToolTurn, batch: Batch, signal?: AbortSignal): Promise<void> {
    const def = this.state.llm!;
    const llm = this.options.llm as ToolLlm;
    const maxRequests = def.max_tool_rounds + 1;
    for (;;) {
      while (turn.queue.length > 0) {
        const call = turn.queue.shift()!;
        const result = this.callTool(turn, call, batch);
        if (result === null) return; // paused on a webhook
        turn.messages.push({ role: 'tool', toolCallId: call.id, content: result });
      }
      if (this.ending || turn.requests >= maxRequests) break;
      const last = turn.requests === maxRequests - 1;
      turn.requests++;
      const stream = this.speaker(turn, batch);
      const calls: LlmToolCall[] = [];
      let text = '';
      const options: StreamOptions = { signal, maxTokens: def.max_tokens, temperature: def.temperature, tools: turn.tools.map((t) => t.spec), toolChoice: last ? 'none' : 'auto' };
      for await (const item of llm.stream(turn.messages, options)) {
        throwIfAborted(signal, 'language model reply');
        if (item.type === 'text') {
          text += item.text;
          stream.push(item.text);
        } else if (item.type === 'tool_call') calls.push({ id: item.id, name: item.name, arguments: item.arguments });
      }
      // What the model said before calling a tool is spoken before the tool runs.
      stream.end();
      if (calls.length === 0 || last) break;
      turn.messages.push({ role: 'assistant', content: text === '' ? null : text, toolCalls: calls });
      turn.queue.push(...calls);
    }
    this.toolTurn = null;
    this.replied(turn);
  }

  /**
   * Runs one tool call; returns what goes back to the model, or null when the
   * turn waits for a webhook's answer. Arguments that do not match the schema
   * run nothing: the model is told what is wrong and may try again.
   */
  private callTool(turn: ToolTurn, call: LlmToolCall, batch: Batch): string | null {
    const tool = turn.tools.find((t) => t.name === call.name);
    if (!tool) return JSON.stringify({ ok: false, error: `there is no tool "${call.name}" here; the tools are ${turn.tools.map((t) => t.name).join(', ')}` });
    const problem = tool.check(call.arguments);
    if (problem !== null) return JSON.stringify({ ok: false, error: `invalid arguments for ${tool.name}, nothing was done: ${problem}. Call it again with corrected arguments if you can.` });
    const args = (call.arguments ?? {}) as Record<string, unknown>;
    for (const name of tool.fills) {
      if (args[name] === undefined) continue;
      this.slots[name] = args[name];
      batch.events.push({ type: 'slot', name, value: args[name], confidence: 1 });
    }
    const def = tool.definition;
    if (def.save_record) {
      const id = this.newId();
      const data = structuredClone(args);
      this.records.push({ kind: def.save_record.kind, data });
      this.pending.set(id, { kind: 'record' });
      this.effect(id, { type: 'save_record', kind: def.save_record.kind, data: structuredClone(data) }, batch);
      // Performed now: a barge-in cutting the model's next words must not lose the record it was told is saved.
      batch.flush(true);
      return JSON.stringify({ ok: true, saved: def.save_record.kind });
    }
    if (def.transfer !== undefined) {
      const t = typeof def.transfer === 'string' ? { target: def.transfer } : def.transfer;
      this.ending ??= { type: 'transfer', ...(t.target ? { target: t.target } : {}), reason: t.reason ?? `tool ${tool.name}` };
      return JSON.stringify({ ok: true, done: 'the caller is transferred once your words have played' });
    }
    if ('hangup' in def) {
      this.ending ??= { type: 'hangup', reason: def.hangup?.reason ?? `tool ${tool.name}` };
      return JSON.stringify({ ok: true, done: 'the call ends once your words have played' });
    }
    const w = def.webhook!;
    const lookup: Lookup = (name) => (name in args ? args[name] : this.lookup(name));
    const used = new Set<string>();
    let url = w.url.replace(/\{([A-Za-z_][A-Za-z0-9_.]*)\}/g, (_, name: string) => {
      used.add(name);
      return encodeURIComponent(interpolate(`{${name}}`, lookup, this.language).text);
    });
    let body: Record<string, unknown> | undefined;
    if (w.method === 'GET') {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(args)) if (!used.has(k) && v !== undefined && v !== null) query.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
      const q = query.toString();
      if (q) url += (url.includes('?') ? '&' : '?') + q;
    } else body = args;
    const id = this.newId();
    this.pending.set(id, { kind: 'tool', toolCallId: call.id });
    this.effect(id, { type: 'webhook', url, method: w.method, ...(body ? { body } : {}), ...(w.headers ? { headers: w.headers } : {}), timeoutMs: w.timeout_ms }, batch);
    this.blockedOn = id;
    this.agenda.unshift({ k: 'llm-tools' });
    return null;
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
    if (pending.kind === 'tool') {
      // The model reads the answer (or the failure) and goes on with its turn.
      const answer = JSON.stringify(ok ? { ok: true, ...data } : { ok: false, error: error ?? 'the webhook failed', ...(data ? { data } : {}) });
      const content = answer.length > MAX_TOOL_RESULT_CHARS ? `${answer.slice(0, MAX_TOOL_RESULT_CHARS)}… (cut)` : answer;
      this.toolTurn?.messages.push({ role: 'tool', toolCallId: pending.toolCallId!, content });
      return true;
    }
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
