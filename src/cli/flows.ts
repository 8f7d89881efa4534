import { Command } from 'commander';
import { isPalabreError } from '../errors.js';

interface FlowIssueLike {
  severity: 'error' | 'warning';
}

/** The lines of a load failure: each flow issue on its own line, else the error's message. */
function errorLines(err: unknown, formatIssue: (issue: never) => string): string[] {
  if (isPalabreError(err)) {
    const issues = err.details?.issues as FlowIssueLike[] | undefined;
    if (Array.isArray(issues)) return issues.map((i) => formatIssue(i as never));
    return [err.message];
  }
  throw err;
}

export function flowsCommand(): Command {
  const flows = new Command('flows').description('declarative dialog flows: format, checks, list');

  flows
    .command('schema')
    .description('print the JSON Schema of the flow format')
    .action(async () => {
      const { flowJsonSchema } = await import('../dialog/schema.js');
      process.stdout.write(`${JSON.stringify(flowJsonSchema(), null, 2)}\n`);
    });

  flows
    .command('check')
    .description('validate flow files; prints ok or each problem as file:line:col (exit code 1 on error)')
    .argument('<files...>', 'flow YAML files')
    .option('--no-llm', 'check as if no language model were configured (flows with llm states or realtime mode then fail)')
    .action(async (files: string[], opts: { llm: boolean }) => {
      const { loadFlowFile, formatIssue } = await import('../dialog/loader.js');
      let failed = false;
      for (const file of files) {
        try {
          const flow = await loadFlowFile(file, { llmAvailable: opts.llm, realtimeAvailable: opts.llm });
          for (const warning of flow.warnings) process.stdout.write(`${formatIssue(warning)}\n`);
          process.stdout.write(`${file}: ok\n`);
        } catch (err) {
          failed = true;
          for (const line of errorLines(err, formatIssue)) process.stdout.write(`${line.startsWith(file) ? line : `${file}: ${line}`}\n`);
        }
      }
      if (failed) process.exitCode = 1;
    });

  flows
    .command('list')
    .description('list the flows of a directory and whether each can run')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('--no-llm', 'list as if no language model (nor realtime engine) were configured')
    .option('--json', 'print JSON')
    .action(async (opts: { dir: string; llm: boolean; json?: boolean }) => {
      const { loadFlowsDir } = await import('../dialog/loader.js');
      const registry = await loadFlowsDir(opts.dir, { llmAvailable: opts.llm, realtimeAvailable: opts.llm });
      const list = registry.list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`no flows in ${opts.dir}\n`);
        return;
      }
      const rows = list.map((f) => [f.id, f.languages.join(',') || '-', String(f.states), f.needsLlm ? 'yes' : 'no', f.file, f.error ? `error: ${f.error.split('\n')[0]}` : 'ok']);
      const header = ['id', 'languages', 'states', 'llm', 'file', 'status'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
      process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
    });

  return flows;
}
