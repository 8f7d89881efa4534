/**
 * `palabre chat`: talk to a flow in the terminal, in text. Shows, at each
 * turn, the state, the intent the chain chose with its confidence and source,
 * the slots filled and the records saved, so a flow author sees why the bot
 * answered what it did. Reads lines from stdin, so it also runs from a pipe.
 */
import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import type { DialogEvent, DialogOutput, DialogRuntime } from '../dialog/types.js';
import { PalabreError } from '../errors.js';
import { configFor } from './context.js';

const HELP = 'commands: /dtmf DIGITS, /silence (no answer), /repeat, /state, /quit';

function write(line: string): void {
  process.stdout.write(line + '\n');
}

function show(outputs: DialogOutput[]): void {
  for (const o of outputs) {
    switch (o.type) {
      case 'state':
        write(`  [state] ${o.from ?? '(start)'} → ${o.to}`);
        break;
      case 'intent':
        write(`  [intent] ${o.intent ?? 'unknown'} (confidence ${o.confidence.toFixed(2)}, ${o.source})`);
        break;
      case 'slot':
        write(`  [slot] ${o.name} = ${JSON.stringify(o.value)} (confidence ${o.confidence.toFixed(2)})`);
        break;
      case 'say':
        write(`bot${o.style ? ` (${o.style})` : ''}: ${o.text}`);
        break;
      case 'effect':
        write(`  [${o.effect.type}] ${o.effect.type === 'save_record' ? `${o.effect.kind} ${JSON.stringify(o.effect.data)}` : `${o.effect.method} ${o.effect.url}`}`);
        break;
      case 'listen':
        write(`  [listen] ${o.spec.endpointing.mode === 'silence' ? `end of turn after ${o.spec.endpointing.silenceMs} ms of silence` : `${o.spec.endpointing.count} digits`}${o.spec.bargeIn.allowed ? '' : ', no barge-in'}`);
        break;
      case 'transfer':
        write(`  [transfer] ${o.target ?? 'to an agent'} (${o.reason})`);
        break;
      case 'hangup':
        write(`  [hangup] ${o.reason}`);
        break;
    }
  }
}

const ends = (outputs: DialogOutput[]) => outputs.some((o) => o.type === 'hangup' || o.type === 'transfer');

/**
 * Shows `outputs`, runs their effects the way a call does (records acknowledged, webhooks called), shows
 * what the results lead to, and tells whether the conversation ended.
 */
async function play(dialog: DialogRuntime, outputs: DialogOutput[], signal: AbortSignal): Promise<boolean> {
  show(outputs);
  const { defaultEffects } = await import('../call/effects.js');
  const effects = defaultEffects();
  const all = [...outputs];
  let pending = outputs.filter((o): o is Extract<DialogOutput, { type: 'effect' }> => o.type === 'effect');
  while (pending.length > 0) {
    const next: DialogOutput[] = [];
    for (const e of pending) {
      const result = await effects(e.effect, { callId: 'chat', signal });
      const more = await dialog.handle({ type: 'action-result', id: e.id, ...result });
      show(more);
      next.push(...more);
    }
    all.push(...next);
    pending = next.filter((o): o is Extract<DialogOutput, { type: 'effect' }> => o.type === 'effect');
  }
  return ends(all);
}

function parseLine(line: string): DialogEvent | 'state' | 'help' | 'quit' | null {
  const text = line.trim();
  if (text === '') return null;
  if (!text.startsWith('/')) return { type: 'utterance', text };
  const [cmd, ...rest] = text.slice(1).split(/\s+/);
  switch (cmd) {
    case 'dtmf': {
      const digits = rest.join('');
      if (!/^[0-9*#A-D]+$/.test(digits)) throw new PalabreError('bad_request', '/dtmf takes keypad digits: 0-9, *, #, A-D');
      return { type: 'dtmf', digits };
    }
    case 'silence':
      return { type: 'no-input' };
    case 'repeat':
      return { type: 'repeat' };
    case 'state':
      return 'state';
    case 'quit':
    case 'exit':
      return 'quit';
    default:
      return 'help';
  }
}

export function chatCommand(): Command {
  return new Command('chat')
    .description('talk to a flow in text in the terminal, showing state, intent and confidence at each turn')
    .requiredOption('-f, --flow <id>', 'flow id (see `palabre flows list`)')
    .addOption(new Option('-l, --lang <code>', 'language of the conversation (default: the flow\'s)').choices(['fr', 'en']))
    .option('-d, --dir <dir>', 'directory of flows (default: flows.dir)')
    .action(async (opts: { flow: string; lang?: string; dir?: string }, command: Command) => {
      const config = configFor(command);
      const { loadFlowsDir, createDialogRuntime } = await import('../dialog/index.js');
      const { createFlowClassifier } = await import('../dialog/classifier.js');
      const { createLlmFromConfig, withLlmHint } = await import('../engines/llm/index.js');
      const llm = createLlmFromConfig(config);
      const registry = await loadFlowsDir(opts.dir ?? config.flows.dir, { llmAvailable: llm !== undefined });
      if (!registry.list().some((f) => f.id === opts.flow)) {
        throw new PalabreError('not_found', `no flow "${opts.flow}" in ${opts.dir ?? config.flows.dir}; known flows: ${registry.list().map((f) => f.id).join(', ')}`);
      }
      const flow = withLlmHint(() => registry.get(opts.flow));
      const dialog = createDialogRuntime(flow, { language: opts.lang, classifier: createFlowClassifier(flow), llm });
      const ac = new AbortController();
      write(`chatting with ${opts.flow} in ${dialog.snapshot().language} (${HELP})`);
      let ended = await play(dialog, await dialog.start(), ac.signal);
      const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
      const prompt = () => process.stdin.isTTY && process.stdout.write('you> ');
      if (!ended) prompt();
      try {
        for await (const line of ended ? [] : rl) {
          let parsed: ReturnType<typeof parseLine>;
          try {
            parsed = parseLine(line);
          } catch (err) {
            write(`  ${(err as Error).message}`);
            prompt();
            continue;
          }
          if (parsed === null) {
            prompt();
            continue;
          }
          if (parsed === 'quit') break;
          if (parsed === 'help') write(`  ${HELP}`);
          else if (parsed === 'state') write(`  ${JSON.stringify(dialog.snapshot())}`);
          else {
            if (!process.stdin.isTTY && parsed.type === 'utterance') write(`you: ${parsed.text}`);
            ended = await play(dialog, await dialog.handle(parsed, ac.signal), ac.signal);
            if (ended) break;
          }
          prompt();
        }
      } finally {
        rl.close();
        ac.abort();
      }
      if (!dialog.snapshot().ended) show(await dialog.handle({ type: 'hangup', reason: 'caller_hangup' }));
      const records = dialog.snapshot().records;
      write(`conversation ended in state ${dialog.snapshot().state}; ${records.length} record(s) saved${records.length ? ':' : ''}`);
      for (const r of records) write(`  ${r.kind} ${JSON.stringify(r.data)}`);
    });
}
