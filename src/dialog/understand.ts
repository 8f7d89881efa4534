/**
 * Understanding one caller turn in one state: which intents may match (the
 * state's and the global ones), which slots the words fill, and which
 * transition that leads to. Pure decisions; the machine carries them out.
 */
import { createEntityMatcher, type EntityMatcher } from './entities.js';
import type { FlowDefinition, HandlerDefinition, SlotDefinition, StateDefinition, TransitionDefinition } from './schema.js';
import { conditionHolds, type Lookup } from './text.js';
import { isKeypadSlotType } from './validate.js';

export interface ExtractedSlot {
  value: unknown;
  confidence: number;
  /** The caller's words the value came from. */
  text: string;
}

/** Reads one slot type from text (the built-in extractors, or a stand-in in tests). */
export type SlotExtractor = (type: string, text: string, options: { language: string; now?: Date }) => ExtractedSlot | null;

/** Intents the classifier may answer with in `state`: its transitions' and the global ones. */
export function candidateIntents(flow: FlowDefinition, state: StateDefinition): string[] {
  const names = new Set<string>();
  for (const t of state.on ?? []) if (t.intent !== undefined) names.add(t.intent);
  for (const name of Object.keys(flow.global_intents ?? {})) names.add(name);
  return [...names];
}

/** A global intent the state does not handle itself. */
export function globalHandler(flow: FlowDefinition, state: StateDefinition, intent: string | null): HandlerDefinition | undefined {
  if (intent === null) return undefined;
  if ((state.on ?? []).some((t) => t.intent === intent)) return undefined;
  return flow.global_intents?.[intent];
}

export class SlotReader {
  private readonly matchers = new Map<string, EntityMatcher>();

  constructor(
    private readonly flow: FlowDefinition,
    private readonly language: string,
    private readonly extract: SlotExtractor,
    private readonly now: () => Date,
  ) {}

  private entity(type: string): EntityMatcher | undefined {
    const def = this.flow.entities?.[type];
    if (!def) return undefined;
    let matcher = this.matchers.get(type);
    if (!matcher) {
      matcher = createEntityMatcher(def, this.language);
      this.matchers.set(type, matcher);
    }
    return matcher;
  }

  read(slot: SlotDefinition, text: string): ExtractedSlot | null {
    const entity = this.entity(slot.type);
    if (entity) return entity.match(text);
    return this.extract(slot.type, text, { language: this.language, now: this.now() });
  }

  /** Keypad digits fill the slots one can type; a flow's entities cannot be typed. */
  readKeypad(slot: SlotDefinition, digits: string): ExtractedSlot | null {
    if (this.flow.entities?.[slot.type] || !(slot.dtmf ?? isKeypadSlotType(slot.type))) return null;
    const result = this.extract(slot.type, digits, { language: this.language, now: this.now() });
    // Typed digits are exactly what the caller meant.
    return result ? { ...result, confidence: 1 } : null;
  }
}

/** Required slots of `state` that have no value yet, in declaration order. */
export function missingSlots(state: StateDefinition, slots: Record<string, unknown>): SlotDefinition[] {
  return (state.slots ?? []).filter((s) => s.required && (slots[s.name] === undefined || slots[s.name] === null));
}

export interface TurnFacts {
  intent: string | null;
  dtmf?: string;
  /** Slots filled by this turn. */
  fresh: ReadonlySet<string>;
  slots: Record<string, unknown>;
  lookup: Lookup;
}

function slotTransitionHolds(t: TransitionDefinition, facts: TurnFacts): boolean {
  if (t.slot_filled === undefined) return false;
  const names = Array.isArray(t.slot_filled) ? t.slot_filled : [t.slot_filled];
  const filled = names.every((n) => facts.slots[n] !== undefined && facts.slots[n] !== null);
  return filled && names.some((n) => facts.fresh.has(n));
}

/** The first transition of the state, in the author's order, that this turn triggers. */
export function matchTransition(state: StateDefinition, facts: TurnFacts): TransitionDefinition | undefined {
  return (state.on ?? []).find((t) => {
    const triggered =
      (t.intent !== undefined && t.intent === facts.intent) ||
      (t.dtmf !== undefined && t.dtmf === facts.dtmf) ||
      slotTransitionHolds(t, facts);
    return triggered && conditionHolds(t.when, facts.lookup);
  });
}
