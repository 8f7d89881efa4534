/**
 * A scripted caller for `palabre simulate`: what the caller says (text to
 * synthesise or a WAV file), when (after the bot finishes, or over it to
 * barge in), pauses, keypad digits and hang-up.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { PalabreError } from '../errors.js';

const turnSchema = z
  .strictObject({
    /** Text the caller says, synthesised with the script's voice. */
    say: z.string().min(1).optional(),
    /** A WAV file the caller plays instead (relative to the script). */
    wav: z.string().min(1).optional(),
    /** Keypad digits, sent 150 ms apart. */
    dtmf: z.string().regex(/^[0-9*#A-D]+$/, 'digits 0-9, *, #, A-D').optional(),
    /** Silence (noise-free) before this turn, in ms. */
    pause_ms: z.number().int().min(0).max(120_000).optional(),
    /**
     * When the turn starts: 'bot_done' (default) waits until the bot has finished speaking and listens;
     * 'bot_speaking' starts `after_ms` into the bot's next prompt, to barge in.
     */
    when: z.enum(['bot_done', 'bot_speaking']).default('bot_done'),
    after_ms: z.number().int().min(0).max(60_000).default(0),
    /** Say nothing and let the no-input timeout run. */
    silent: z.boolean().optional(),
    /** Hang up here. */
    hangup: z.boolean().optional(),
  })
  .refine((t) => [t.say, t.wav, t.dtmf, t.silent, t.hangup].filter((x) => x !== undefined && x !== false).length === 1, {
    message: 'each turn does exactly one of: say, wav, dtmf, silent, hangup',
  });

export const callerScriptSchema = z.strictObject({
  flow: z.string().min(1).optional(),
  language: z.string().min(2).optional(),
  /** TTS engine and voice of the synthetic caller (flite slt is what PocketSphinx hears best). */
  caller: z
    .strictObject({ engine: z.enum(['flite', 'espeak']).default('flite'), voice: z.string().optional() })
    .default({ engine: 'flite' }),
  /** Give up when the call has not ended this long after the last turn (simulated time). */
  timeout_ms: z.number().int().positive().default(30_000),
  /** What the report must show, checked at the end (exit code 1 when not met). */
  expect: z
    .strictObject({
      final_state: z.string().optional(),
      states: z.array(z.string()).optional(),
      records: z.array(z.strictObject({ kind: z.string(), fields: z.record(z.string(), z.unknown()).default({}) })).optional(),
      end_reason: z.string().optional(),
    })
    .optional(),
  turns: z.array(turnSchema).min(1),
});

export type CallerScript = z.infer<typeof callerScriptSchema>;
export type CallerTurn = CallerScript['turns'][number];

export function parseCallerScript(text: string, source = 'script'): CallerScript {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new PalabreError('bad_request', `${source} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = callerScriptSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new PalabreError('bad_request', `${source} is not a valid caller script:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function loadCallerScript(path: string): { script: CallerScript; baseDir: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PalabreError('bad_request', code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(err as Error).message}`);
  }
  const script = parseCallerScript(text, path);
  const baseDir = dirname(resolve(path));
  return { script, baseDir };
}
