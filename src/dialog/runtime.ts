/**
 * The dialog runtime: a flow's state machine behind the DialogRuntime contract.
 * Events in (utterance, keypad, silence, repeat, effect results, hangup),
 * outputs out; no audio, no timers, no I/O of its own: the classifier and the
 * language model are handed in, effects are performed by the session.
 */
import { PalabreError, throwIfAborted } from '../errors.js';
import type { LoadedFlow } from './loader.js';
import type { CallContext } from './context.js';
import type { DialogLlm } from './llm.js';
import { Batch, FlowMachine } from './machine.js';
import { extractSlot } from './slots/index.js';
import type { DialogEvent, DialogOutput, DialogRuntime, DialogSnapshot, IntentClassifier } from './types.js';
import { candidateIntents, globalHandler, matchTransition, type SlotExtractor, SlotReader, type TurnFacts } from './understand.js';

export interface DialogRuntimeOptions {
  /** Language of the call; one of the flow's (default: its default language). */
  language?: string;
  /** Classifies utterances among the intents the current state allows. */
  classifier: IntentClassifier;
  /** Writes the replies of `llm` states; required when the flow has any. */
  llm?: DialogLlm;
  /** Clock for relative dates in slots ("demain après-midi"). */
  now?: () => Date;
  /** Ids of effects (default: random UUIDs). */
  idGenerator?: () => string;
  /** Slot extraction (default: the built-in extractors of `./slots`). */
  extractSlot?: SlotExtractor;
  /** The call (caller id, transport, id, start), readable in texts and prompts as `{caller_id}`, `{call_date}`… */
  context?: CallContext;
}

const DEFAULT_THRESHOLD = 0.5;

class Runtime implements DialogRuntime {
  private readonly machine: FlowMachine;
  private readonly reader: SlotReader;
  private started = false;
  private busy = false;

  constructor(
    private readonly flow: LoadedFlow,
    private readonly options: DialogRuntimeOptions & { language: string },
  ) {
    this.machine = new FlowMachine(flow, { language: options.language, llm: options.llm, idGenerator: options.idGenerator, context: options.context, startedAt: (options.now ?? (() => new Date()))() });
    const extractor = options.extractSlot ?? (extractSlot as unknown as SlotExtractor);
    this.reader = new SlotReader(flow.definition, options.language, extractor, options.now ?? (() => new Date()));
  }

  async start(early?: (outputs: DialogOutput[]) => void): Promise<DialogOutput[]> {
    if (this.started) throw new PalabreError('bad_request', `dialog of flow ${this.flow.id} was already started`);
    this.started = true;
    return this.exclusive(async (batch) => {
      this.machine.agenda = [{ k: 'enter', state: this.flow.definition.start }];
      await this.machine.run(batch);
    }, early);
  }

  async handle(event: DialogEvent, signal?: AbortSignal, early?: (outputs: DialogOutput[]) => void): Promise<DialogOutput[]> {
    if (!this.started) throw new PalabreError('bad_request', `dialog of flow ${this.flow.id} got a ${event.type} event before start()`);
    throwIfAborted(signal, `dialog event ${event.type}`);
    const m = this.machine;
    if (m.ended) return [];
    if (event.type === 'action-result') {
      return this.exclusive(async (batch) => {
        if (m.settle(event.id, event.ok, event.data, event.error)) await m.run(batch, signal);
      }, early);
    }
    if (event.type === 'hangup') {
      return this.exclusive(async (batch) => {
        m.ended = true;
        m.blockedOn = null;
        m.variables.hangup_reason = event.reason;
        m.agenda = [{ k: 'actions', list: this.flow.definition.on_hangup ?? [], i: 0 }];
        await m.run(batch, signal);
      });
    }
    // While a webhook is out, the flow has not asked anything yet: what the caller says waits for nothing.
    if (m.blockedOn !== null) return [];
    return this.exclusive(async (batch) => {
      switch (event.type) {
        case 'utterance':
          if (event.text.trim() === '') m.retry('no_input');
          else await this.utterance(event.text, batch, signal);
          break;
        case 'dtmf':
          this.dtmf(event.digits, batch);
          break;
        case 'no-input':
          m.retry('no_input');
          break;
        case 'repeat':
          m.agenda = [{ k: 'repeat' }, { k: 'listen' }];
          break;
        case 'error':
          m.fail(event.reason);
          break;
      }
      await m.run(batch, signal);
    }, early);
  }

  snapshot(): DialogSnapshot {
    return this.machine.snapshot();
  }

  /** One event at a time: a second call while the first awaits the classifier would interleave two turns. */
  private async exclusive(work: (batch: Batch) => Promise<void>, early?: (outputs: DialogOutput[]) => void): Promise<DialogOutput[]> {
    if (this.busy) throw new PalabreError('internal', `dialog of flow ${this.flow.id} got an event while still handling the previous one`);
    this.busy = true;
    try {
      const batch = new Batch(early);
      await work(batch);
      return batch.outputs();
    } finally {
      this.busy = false;
    }
  }

  private fill(name: string, value: unknown, confidence: number, fresh: Set<string>, batch: Batch): void {
    this.machine.slots[name] = value;
    fresh.add(name);
    batch.events.push({ type: 'slot', name, value, confidence });
  }

  private async utterance(text: string, batch: Batch, signal?: AbortSignal): Promise<void> {
    const m = this.machine;
    const def = this.flow.definition;
    const state = m.state;
    m.lastUtterance = text;
    const candidates = candidateIntents(def, state);
    let intent: string | null = null;
    let classifierSlots: Record<string, unknown> = {};
    let classifierConfidence = 0;
    if (candidates.length > 0) {
      let result;
      try {
        result = await this.options.classifier.classify(text, { language: m.language, candidates, signal });
      } catch (err) {
        if (signal?.aborted || (err instanceof PalabreError && err.code === 'aborted')) throw err;
        m.fail(`intent classification failed: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      const threshold = state.intent_threshold ?? def.defaults?.intent_threshold ?? DEFAULT_THRESHOLD;
      intent = result.intent !== null && result.confidence >= threshold && candidates.includes(result.intent) ? result.intent : null;
      classifierSlots = result.slots ?? {};
      classifierConfidence = result.confidence;
      batch.events.push({ type: 'intent', intent, confidence: result.confidence, source: result.source, text, ...(result.sentiment ? { sentiment: result.sentiment } : {}) });
    }
    const global = globalHandler(def, state, intent);
    const fresh = new Set<string>();
    for (const slot of state.slots ?? []) {
      // Free text would swallow "can you repeat?": a global intent keeps its meaning.
      if (slot.type === 'text' && global) continue;
      const read = this.reader.read(slot, text);
      if (read) this.fill(slot.name, read.value, read.confidence, fresh, batch);
      else if (classifierSlots[slot.name] !== undefined && classifierSlots[slot.name] !== null) {
        this.fill(slot.name, classifierSlots[slot.name], classifierConfidence, fresh, batch);
      }
    }
    this.decide({ intent, fresh, slots: m.slots, lookup: m.lookup }, text);
  }

  private dtmf(digits: string, batch: Batch): void {
    const m = this.machine;
    const fresh = new Set<string>();
    const state = m.state;
    // A transition on these very keys wins over reading them into a slot.
    if (!(state.on ?? []).some((t) => t.dtmf === digits)) {
      for (const slot of state.slots ?? []) {
        const read = this.reader.readKeypad(slot, digits);
        if (read) this.fill(slot.name, read.value, read.confidence, fresh, batch);
      }
    }
    this.decide({ intent: null, dtmf: digits, fresh, slots: m.slots, lookup: m.lookup }, null);
  }

  /** The state's transition, else a global intent, else ask for what is missing, else the model or the unknown path. */
  private decide(facts: TurnFacts, text: string | null): void {
    const m = this.machine;
    const state = m.state;
    const transition = matchTransition(state, facts);
    if (transition) return m.runHandler(transition, 'event');
    const global = globalHandler(this.flow.definition, state, facts.intent);
    if (global) return m.runHandler(global, 'event');
    if (facts.fresh.size > 0) {
      m.agenda.push({ k: 'reprompt' }, { k: 'listen' });
      return;
    }
    if (state.llm && text !== null) return m.llmTurn(text);
    m.retry('unknown');
  }
}

/** A dialog over `flow` for one call. */
export function createDialogRuntime(flow: LoadedFlow, options: DialogRuntimeOptions): DialogRuntime {
  const def = flow.definition;
  const language = options.language ?? def.default_language ?? def.languages[0];
  if (!(def.languages as string[]).includes(language)) {
    throw new PalabreError('bad_request', `flow ${def.id} does not speak ${language}; it speaks ${def.languages.join(', ')}`);
  }
  if (flow.needsLlm && !options.llm) {
    const states = Object.entries(def.states).filter(([, s]) => s.llm).map(([n]) => n);
    throw new PalabreError('engine_unavailable', `flow ${def.id} needs a language model (states ${states.join(', ')}) and none was given`);
  }
  return new Runtime(flow, { ...options, language });
}
