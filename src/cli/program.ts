import { Command, CommanderError, Option } from 'commander';
import { isPalabreError } from '../errors.js';
import { benchCommand } from './bench.js';
import { cleanCommand } from './clean.js';
import { configCommand } from './config.js';
import { dbCommand } from './db.js';
import { chatCommand } from './chat.js';
import { simulateCommand } from './simulate.js';
import { doctorCommand } from './doctor.js';
import { flowsCommand } from './flows.js';
import { modelsCommand } from './models.js';
import { sayCommand } from './say.js';
import { serveCommand } from './serve.js';
import { transcribeCommand } from './transcribe.js';
import { configFor } from './context.js';
import { VERSION } from '../version.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Exit code of a usage error, the same as a bad request from a command. */
export const USAGE_EXIT_CODE = 2;

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Commander settings do not reach commands added with addCommand(), so they are applied to the
 * whole tree. A usage error is one line (commander puts "Did you mean" on a second one) that
 * says where the help is, instead of the full help drowning the error.
 */
function configureTree(command: Command): void {
  command.exitOverride();
  command.configureOutput({
    outputError: (text, write) => {
      const message = text.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/^error: /, 'palabre: ');
      write(`${message} (see "${commandPath(command)} --help")\n`);
    },
  });
  for (const sub of command.commands) configureTree(sub);
}

export function buildProgram(): Command {
  const program = new Command('palabre')
    .description('palabre: voice-bot server for call centres and voice coaching')
    .version(VERSION)
    .option('-c, --config <file>', 'YAML configuration file (also PALABRE_CONFIG)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS));
  program.addCommand(serveCommand());
  program.addCommand(transcribeCommand());
  program.addCommand(sayCommand());
  program.addCommand(cleanCommand());
  program.addCommand(
    modelsCommand(() => {
      const config = configFor(program);
      return { modelsDir: config.models.dir, baseUrl: config.models.baseUrl, timeoutMs: config.models.timeoutMs };
    }),
  );
  program.addCommand(flowsCommand());
  program.addCommand(chatCommand());
  program.addCommand(simulateCommand());
  program.addCommand(doctorCommand());
  program.addCommand(configCommand());
  program.addCommand(benchCommand());
  program.addCommand(dbCommand());
  configureTree(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // Help and --version end with code 0; every other commander error is a usage error.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    if (isPalabreError(err)) {
      process.stderr.write(`palabre: ${err.message}\n`);
      return err.code === 'bad_request' || err.code === 'config_invalid' ? USAGE_EXIT_CODE : 1;
    }
    process.stderr.write(`palabre: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
