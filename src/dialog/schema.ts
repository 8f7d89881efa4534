/**
 * The flow format: what a flow author writes in YAML, as a zod schema that is
 * also published as JSON Schema (`palabre flows schema`) for editors.
 *
 * Keys are snake_case as in most YAML dialects of the field. The schema checks
 * shapes only; cross-references (every goto names a state, every intent used is
 * defined, every text exists in every language…) are checked in validate.ts,
 * because zod cannot see one part of the document from another with a path.
 */
import { z } from 'zod';
import { SPEAKING_STYLES } from '../engines/tts/types.js';

export const FLOW_LANGUAGES = ['fr', 'en'] as const;
export type FlowLanguage = (typeof FLOW_LANGUAGES)[number];

/** Slot types the slot extractors know; a flow may add its own as `entities`. */
export const BUILTIN_SLOT_TYPES = ['zip_code_fr', 'phone', 'email', 'person_name', 'company_name', 'yes_no', 'number', 'date_time', 'digits', 'text'] as const;

const Language = z.enum(FLOW_LANGUAGES);
const Name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a name made of letters, digits and _ (not starting with a digit)');
const Style = z.enum(SPEAKING_STYLES);
const Ms = z.number().int().min(0);
const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A text in one language (a flow that speaks one language) or per language. Holds `{slot}` / `{variable}` placeholders. */
const Text = z.union([
  z.string().min(1),
  z.partialRecord(Language, z.string().min(1)),
]).meta({ id: 'Text', description: 'Text to speak: a string when the flow has one language, else one string per language ({fr: …, en: …}). `{name}` is replaced by a slot or variable value.' });

const Condition = z
  .record(Name, z.union([Scalar, z.array(Scalar)]))
  .meta({ id: 'Condition', description: 'Holds when every named slot or variable equals the value given (or one of the values of a list). A missing slot equals null.' });

const SayVariant = z.strictObject({
  when: Condition.optional(),
  text: Text,
});

const Say = z
  .union([Text, z.array(SayVariant).min(1)])
  .meta({ id: 'Say', description: 'What to say: a text, or a list of variants `{when, text}` of which the first whose condition holds is said.' });

const Endpointing = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('silence'),
    silence_ms: Ms.describe('The turn ends after this much silence following speech (500 for yes/no, 1200 for open answers).'),
  }),
  z.strictObject({
    mode: z.literal('digits'),
    count: z.number().int().min(1).max(64).describe('The turn ends once this many digits are collected (keypad or spoken).'),
    inter_digit_ms: Ms.default(3000).describe('…or after this long without a new digit.'),
    terminator: z.string().regex(/^[#*]$/).optional().describe('…or on this key.'),
  }),
]);

const BargeIn = z.strictObject({
  allowed: z.boolean().optional().describe('May the caller interrupt the bot?'),
  min_speech_ms: Ms.optional().describe('Caller speech must last this long before the bot stops.'),
  min_words: z.number().int().min(0).optional().describe('Words the transcript must hold for an interruption to count.'),
});

const Hints = z.union([z.array(z.string().min(1)), z.partialRecord(Language, z.array(z.string().min(1)))]);

const Listen = z.strictObject({
  endpointing: Endpointing.optional(),
  min_speech_ms: Ms.optional().describe('Speech shorter than this is ignored (a click, a breath).'),
  max_utterance_ms: Ms.optional().describe('A turn is cut at this length.'),
  no_input_ms: Ms.optional().describe('With no caller speech for this long after the bot finished, the `no_input` path runs.'),
  barge_in: BargeIn.optional(),
  hints: Hints.optional().describe('Phrases likely in the answer (a list, or one per language); engines that can bias towards them do.'),
  dtmf: z.boolean().optional().describe('Accept keypad input (default: when the state has dtmf transitions or keypad-friendly slots).'),
}).meta({ id: 'Listen', description: 'How to listen for the caller\'s answer.' });

/** Forward declaration: handlers hold actions whose webhooks hold handlers. */
type HandlerShape = {
  say?: z.infer<typeof Say>;
  style?: z.infer<typeof Style>;
  actions?: ActionShape[];
  counter?: string;
  goto?: string;
  reprompt?: boolean;
  repeat?: boolean;
};
type ActionShape = {
  set?: Record<string, unknown>;
  save_record?: { kind: string; data: Record<string, unknown> };
  transfer?: string | { target?: string; reason?: string };
  hangup?: null | { reason?: string };
  webhook?: {
    url: string;
    method: 'GET' | 'POST' | 'PUT';
    headers?: Record<string, string>;
    body?: Record<string, unknown>;
    timeout_ms: number;
    save_as?: string;
    on_success?: string | HandlerShape;
    on_failure?: string | HandlerShape;
  };
};

const ACTION_KINDS = ['set', 'save_record', 'transfer', 'hangup', 'webhook'] as const;

const Action: z.ZodType<ActionShape> = z.lazy(() =>
  z
    .strictObject({
      set: z.record(Name, z.unknown()).optional().describe('Sets variables; string values are templates (`"{zip_code}"` keeps the slot value as is).'),
      save_record: z
        .strictObject({
          kind: Name.describe('Record kind: ticket, lead, callback…'),
          data: z.record(z.string(), z.unknown()).describe('Fields; string values are templates.'),
        })
        .optional(),
      transfer: z
        .union([z.string().min(1), z.strictObject({ target: z.string().min(1).optional(), reason: z.string().optional() })])
        .optional()
        .describe('Hands the caller to a human once what was said has played (a target such as a queue or extension, or {target, reason}).'),
      hangup: z.strictObject({ reason: z.string().optional() }).nullable().optional().describe('Ends the call once what was said has played.'),
      webhook: z
        .strictObject({
          url: z.string().regex(/^https?:\/\/\S+$/, 'an http:// or https:// URL').describe('May hold `{name}` placeholders.'),
          method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
          headers: z.record(z.string(), z.string()).optional(),
          body: z.record(z.string(), z.unknown()).optional().describe('JSON body; string values are templates.'),
          timeout_ms: z.number().int().min(1).max(60_000).default(5000),
          save_as: Name.optional().describe('Variable that receives the response data (`{save_as.field}` in texts).'),
          on_success: Exceeded.optional().describe('What to do when it succeeds (default: carry on).'),
          on_failure: Exceeded.optional().describe('What to do when it fails or times out (default: the flow\'s error state).'),
        })
        .optional()
        .describe('Calls an HTTP endpoint; the flow waits for the answer before it goes on.'),
    })
    .superRefine((action, ctx) => {
      const kinds = ACTION_KINDS.filter((k) => k in action);
      // An unknown key is reported on its own ("did you mean"); counting actions then only adds noise.
      const unknown = Object.keys(action).some((k) => !(ACTION_KINDS as readonly string[]).includes(k));
      if (kinds.length !== 1 && !unknown) {
        ctx.addIssue({
          code: 'custom',
          message: kinds.length === 0 ? `an action needs one of ${ACTION_KINDS.join(', ')}` : `an action does one thing; this one has ${kinds.join(' and ')} (write them as separate list items)`,
        });
      }
    })
    .meta({ id: 'Action', minProperties: 1, maxProperties: 1, description: 'One action: set, save_record, transfer, hangup or webhook.' }),
);

const Handler: z.ZodType<HandlerShape> = z.lazy(() =>
  z.strictObject({
    say: Say.optional(),
    style: Style.optional(),
    actions: z.array(Action).optional(),
    counter: Name.optional().describe('Counts this path; past the counter\'s max, the counter\'s `exceeded` runs instead.'),
    goto: Name.optional().describe('Next state; without it the flow stays and asks the state\'s question again.'),
    reprompt: z.boolean().optional().describe('When staying: ask the state\'s question again after `say` (default true).'),
    repeat: z.boolean().optional().describe('Say the last prompt again.'),
  }).meta({ id: 'Handler', description: 'What to do: say something, run actions, count, then go to a state or stay.' }),
);

/** Where to go: a state name, or a full handler. */
const Exceeded: z.ZodType<string | HandlerShape> = z
  .lazy(() => z.union([Name, Handler]))
  .meta({ id: 'Target', description: 'A state to go to, or a handler ({say, actions, goto…}).' });

const Transition = z
  .strictObject({
    intent: Name.optional().describe('Taken when the caller\'s utterance is classified as this intent.'),
    slot_filled: z.union([Name, z.array(Name).min(1)]).optional().describe('Taken when these slots all have values, one of them filled by this turn.'),
    dtmf: z.string().regex(/^[0-9*#A-D]+$/, 'keypad digits (0-9, *, #, A-D)').optional().describe('Taken when the caller types these keys.'),
    when: Condition.optional(),
    say: Say.optional(),
    style: Style.optional(),
    actions: z.array(Action).optional(),
    counter: Name.optional(),
    goto: Name.optional(),
    reprompt: z.boolean().optional(),
    repeat: z.boolean().optional(),
  })
  .superRefine((t, ctx) => {
    const triggers = (['intent', 'slot_filled', 'dtmf'] as const).filter((k) => t[k] !== undefined);
    if (triggers.length !== 1) {
      ctx.addIssue({ code: 'custom', message: triggers.length === 0 ? 'a transition needs one of intent, slot_filled or dtmf' : `a transition has one trigger; this one has ${triggers.join(' and ')}` });
    }
  })
  .meta({ id: 'Transition', description: 'A way out of a state: a trigger (intent, slot_filled or dtmf) and what to do.' });

const Retry = z.strictObject({
  say: Say.optional().describe('Said before asking again.'),
  max: z.number().int().min(0).optional().describe('Retries allowed in one visit of the state; the next one runs `exceeded`. Unlimited when absent.'),
  exceeded: Exceeded.optional(),
  counter: Name.optional().describe('Count in this named counter instead (its max and exceeded apply, across visits).'),
  reprompt: z.boolean().optional().describe('Ask the state\'s question again after `say` (default true).'),
}).meta({ id: 'Retry', description: 'Retries with a counter, then where to go.' });

const Counter = z.strictObject({
  max: z.number().int().min(0).describe('Times the counted path may run; one more runs `exceeded` instead.'),
  exceeded: Exceeded,
}).meta({ id: 'Counter' });

const Slot = z.strictObject({
  name: Name,
  type: Name.describe(`One of ${BUILTIN_SLOT_TYPES.join(', ')}, or an entity of the flow.`),
  required: z.boolean().default(true).describe('A missing required slot is asked for again with `prompt`.'),
  prompt: Say.optional().describe('Asks for this slot when it is still missing.'),
  dtmf: z.boolean().optional().describe('Fill from keypad digits (default: for zip_code_fr, digits, number and phone).'),
}).meta({ id: 'Slot' });

const Llm = z.strictObject({
  prompt: z
    .union([z.string().min(1), z.partialRecord(Language, z.string().min(1))])
    .describe('Prompt template file (or one per language), relative to the flow file; `{name}` placeholders are filled.'),
  system: Text.optional().describe('System prompt, placed before the template.'),
  style: z.union([Style, z.literal('auto')]).default('auto').describe('auto: the model picks a speaking style for each reply.'),
  max_tokens: z.number().int().min(1).max(4096).default(200),
  temperature: z.number().min(0).max(2).default(0.7),
  history: z.number().int().min(0).max(200).default(20).describe('Conversation messages kept in the model\'s context.'),
  counter: Name.optional().describe('Counts the model\'s replies; past its max the counter\'s `exceeded` runs.'),
  tools: z.array(Name).optional().describe('Tools of the flow (its `tools` section) the model may call in this state.'),
  max_tool_rounds: z.number().int().min(1).max(10).default(3).describe('Times the model is asked again after tool results in one turn; the last time it must answer in words.'),
}).meta({ id: 'LlmReply' });

const TOOL_KINDS = ['save_record', 'webhook', 'transfer', 'hangup'] as const;

const Tool = z
  .strictObject({
    description: z.string().min(1).describe('What the tool does and when to call it, for the model.'),
    parameters: z.record(z.string(), z.unknown()).optional().describe('JSON schema (an object schema) of the arguments; they are checked against it before the tool runs.'),
    slots: z.array(Name).min(1).optional().describe('Arguments named after these slots of the flow, typed from their slot types (instead of `parameters`); the values fill the slots.'),
    save_record: z.strictObject({ kind: Name.describe('Record kind: ticket, lead, callback…') }).optional().describe('Saves the arguments as a record of this kind.'),
    webhook: z
      .strictObject({
        url: z.string().regex(/^https?:\/\/\S+$/, 'an http:// or https:// URL').describe('May hold `{name}` placeholders (arguments first, then slots and variables).'),
        method: z.enum(['GET', 'POST', 'PUT']).default('POST').describe('POST and PUT send the arguments as the JSON body, GET as query parameters.'),
        headers: z.record(z.string(), z.string()).optional(),
        timeout_ms: z.number().int().min(1).max(60_000).default(5000),
      })
      .optional()
      .describe('Calls an HTTP endpoint with the arguments; its answer goes back to the model (a lookup).'),
    transfer: z
      .union([z.string().min(1), z.strictObject({ target: z.string().min(1).optional(), reason: z.string().optional() })])
      .optional()
      .describe('Hands the caller to a human once what was said has played.'),
    hangup: z.strictObject({ reason: z.string().optional() }).nullable().optional().describe('Ends the call once what was said has played.'),
  })
  .superRefine((tool, ctx) => {
    const kinds = TOOL_KINDS.filter((k) => k in tool);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: kinds.length === 0 ? `a tool needs one of ${TOOL_KINDS.join(', ')}` : `a tool does one thing; this one has ${kinds.join(' and ')}` });
    }
    if (tool.parameters !== undefined && tool.slots !== undefined) ctx.addIssue({ code: 'custom', message: 'a tool takes its arguments from `parameters` or from `slots`, not both' });
  })
  .meta({ id: 'Tool', description: 'An action the model may call: save_record, webhook, transfer or hangup, with the JSON schema of its arguments.' });

const State = z.strictObject({
  description: z.string().optional(),
  say: Say.optional().describe('Said on entry.'),
  reprompt: Say.optional().describe('Said when asking again (default: `say`).'),
  style: Style.optional(),
  llm: Llm.optional().describe('Replies written by a language model; the flow then needs one.'),
  listen: Listen.optional(),
  slots: z.array(Slot).optional(),
  on: z.array(Transition).optional(),
  unknown: Retry.optional().describe('When an utterance matches nothing (below the intent threshold).'),
  no_input: Retry.optional().describe('When the caller says nothing.'),
  counters: z.record(Name, Counter).optional(),
  on_enter: z.array(Action).optional(),
  next: Name.optional().describe('Go straight on to this state after speaking, without listening.'),
  intent_threshold: z.number().min(0).max(1).optional(),
}).meta({ id: 'DialogState' });

const Intent = z.strictObject({
  description: z.string().optional(),
  examples: z.partialRecord(Language, z.array(z.string().min(1)).min(1)),
  keywords: z.partialRecord(Language, z.array(z.string().min(1))).optional(),
}).meta({ id: 'Intent', description: 'Example phrases (and optional keywords) per language.' });

const Entity = z.strictObject({
  description: z.string().optional(),
  values: z
    .record(z.string().min(1), z.partialRecord(Language, z.array(z.string().min(1)).min(1)))
    .describe('Canonical value → synonyms per language.'),
}).meta({ id: 'Entity' });

const Defaults = z.strictObject({
  listen: Listen.optional(),
  intent_threshold: z.number().min(0).max(1).optional(),
  voices: z.partialRecord(Language, z.string().min(1)).optional().describe('Voice per language (default: the server\'s).'),
  style: Style.optional(),
  unknown: Retry.optional(),
  no_input: Retry.optional(),
});

const Realtime = z.strictObject({
  model: z.string().min(1).optional().describe('Realtime model (default: the server\'s engines.realtime.model).'),
  voice: z.string().min(1).optional().describe('Voice of the model (default: engines.realtime.voice).'),
  instructions: Text.optional().describe('What the model is told: who it is, what it does. Or `prompt` for a file.'),
  prompt: z
    .union([z.string().min(1), z.partialRecord(Language, z.string().min(1))])
    .optional()
    .describe('Instructions file (or one per language), relative to the flow file, instead of `instructions`.'),
  greeting: Text.optional().describe('The model opens the call by saying this (in its own words); without it, the caller speaks first.'),
  turn_detection: z
    .strictObject({
      threshold: z.number().min(0).max(1).optional().describe('Server VAD speech threshold (0..1, default 0.5).'),
      silence_duration_ms: Ms.optional().describe('Silence that ends the caller\'s turn (default 500).'),
      prefix_padding_ms: Ms.optional().describe('Audio kept before detected speech (default 300).'),
    })
    .optional(),
}).meta({ id: 'Realtime', description: 'Speech-to-speech with the OpenAI Realtime API (`mode: realtime`): the model hears the caller and answers in speech; the states are not used.' });

export const flowSchema = z
  .strictObject({
    $schema: z.string().optional(),
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, - and _').describe('Flow id, used to start a session.'),
    description: z.string().optional(),
    languages: z.array(Language).min(1).describe('Languages the flow speaks.'),
    default_language: Language.optional().describe('Default: the first of `languages`.'),
    start: Name.describe('First state.'),
    error: Name.optional().describe('State entered when an action fails or something unexpected happens (default: hang up).'),
    defaults: Defaults.optional(),
    variables: z.record(Name, z.unknown()).optional().describe('Variables and their initial values.'),
    entities: z.record(Name, Entity).optional().describe('Custom slot types: a closed list of values with synonyms.'),
    intents: z.record(Name, Intent).default({}),
    global_intents: z.record(Name, Handler).optional().describe('Intents understood in every state, and what they do (repeat, human, goodbye, FAQ answers).'),
    counters: z.record(Name, Counter).optional().describe('Counters shared by all states (for global intents).'),
    on_hangup: z.array(Action).optional().describe('Run when the caller hangs up (save what was collected).'),
    tools: z.record(Name.max(64), Tool).optional().describe('Actions the model of `llm` states may call (listed per state in `llm.tools`).'),
    mode: z.enum(['dialog', 'realtime']).optional().describe('dialog (default): the states below run the call. realtime: the OpenAI Realtime model talks with the caller (settings in `realtime`).'),
    realtime: Realtime.optional(),
    recording: z.boolean().optional().describe('false: calls of this flow are not recorded (default: recorded when the server records calls, setting `recordings.enabled`).'),
    states: z.record(Name, State).refine((s) => Object.keys(s).length > 0, 'a flow needs at least one state'),
  })
  .describe('A palabre dialog flow.');

export type FlowDefinition = z.output<typeof flowSchema>;
export type StateDefinition = z.output<typeof State>;
export type TransitionDefinition = z.output<typeof Transition>;
export type HandlerDefinition = HandlerShape;
export type ActionDefinition = ActionShape;
export type SayDefinition = z.output<typeof Say>;
export type TextDefinition = z.output<typeof Text>;
export type ConditionDefinition = z.output<typeof Condition>;
export type RetryDefinition = z.output<typeof Retry>;
export type CounterDefinition = z.output<typeof Counter>;
export type SlotDefinition = z.output<typeof Slot>;
export type ListenDefinition = z.output<typeof Listen>;
export type LlmDefinition = z.output<typeof Llm>;
export type RealtimeDefinition = z.output<typeof Realtime>;
export type EntityDefinition = z.output<typeof Entity>;
export type WebhookDefinition = NonNullable<ActionShape['webhook']>;
export type ToolDefinition = z.output<typeof Tool>;

/** The flow format as JSON Schema (draft 2020-12), for editors and `palabre flows schema`. */
export function flowJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(flowSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'palabre flow' };
}
