/** How the session listens in a state: built-in defaults, then the flow's defaults, then the state's own. */
import type { Endpointing, ListenSpec } from './types.js';
import type { FlowDefinition, ListenDefinition, StateDefinition } from './schema.js';
import { isKeypadSlotType } from './validate.js';

/** Used where neither the flow nor the state says otherwise. */
export const DEFAULT_LISTEN: ListenSpec = {
  endpointing: { mode: 'silence', silenceMs: 800 },
  minSpeechMs: 250,
  maxUtteranceMs: 20_000,
  noInputMs: 6000,
  bargeIn: { allowed: true, minSpeechMs: 400, minWords: 1 },
  dtmf: false,
};

function endpointing(def: NonNullable<ListenDefinition['endpointing']>): Endpointing {
  if (def.mode === 'silence') return { mode: 'silence', silenceMs: def.silence_ms };
  return { mode: 'digits', count: def.count, interDigitMs: def.inter_digit_ms, ...(def.terminator ? { terminator: def.terminator } : {}) };
}

function hintsFor(hints: ListenDefinition['hints'], language: string): string[] | undefined {
  if (!hints) return undefined;
  return Array.isArray(hints) ? hints : hints[language as keyof typeof hints];
}

function apply(base: ListenSpec, def: ListenDefinition | undefined, language: string): ListenSpec {
  if (!def) return base;
  const hints = hintsFor(def.hints, language);
  return {
    endpointing: def.endpointing ? endpointing(def.endpointing) : base.endpointing,
    minSpeechMs: def.min_speech_ms ?? base.minSpeechMs,
    maxUtteranceMs: def.max_utterance_ms ?? base.maxUtteranceMs,
    noInputMs: def.no_input_ms ?? base.noInputMs,
    bargeIn: {
      allowed: def.barge_in?.allowed ?? base.bargeIn.allowed,
      minSpeechMs: def.barge_in?.min_speech_ms ?? base.bargeIn.minSpeechMs,
      minWords: def.barge_in?.min_words ?? base.bargeIn.minWords,
    },
    ...(hints ?? base.hints ? { hints: hints ?? base.hints } : {}),
    dtmf: def.dtmf ?? base.dtmf,
  };
}

/** The keypad is useful in a state with dtmf transitions or slots one can type. */
export function acceptsKeypad(state: StateDefinition): boolean {
  return (state.on ?? []).some((t) => t.dtmf !== undefined) || (state.slots ?? []).some((s) => s.dtmf ?? isKeypadSlotType(s.type));
}

export function listenSpec(flow: FlowDefinition, state: StateDefinition, language: string): ListenSpec {
  const flowLevel = apply({ ...DEFAULT_LISTEN }, flow.defaults?.listen, language);
  const spec = apply(flowLevel, state.listen, language);
  if (state.listen?.dtmf === undefined) spec.dtmf = flow.defaults?.listen?.dtmf === true || acceptsKeypad(state);
  return spec;
}
