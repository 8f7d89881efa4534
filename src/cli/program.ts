import { Command, CommanderError } from 'commander';
import { isPalabreError } from '../errors.js';
import { VERSION } from '../server/app.js';
import { cleanCommand } from './clean.js';
import { configCommand } from './config.js';
import { doctorCommand } from './doctor.js';
import { modelsCommand } from './models.js';
import { sayCommand } from './say.js';
import { serveCommand } from './serve.js';
import { transcribeCommand } from './transcribe.js';
import { configFor } from './context.js';

export function buildProgram(): Command {
  const program = new Command('palabre')
    .description('palabre: voice-bot server for call centres and voice coaching')
    .version(VERSION)
    .option('-c, --config <file>', 'YAML configuration file (also PALABRE_CONFIG)')
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace, silent')
    .showHelpAfterError()
    .exitOverride();
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
  program.addCommand(doctorCommand());
  program.addCommand(configCommand());
  for (const sub of program.commands) sub.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isPalabreError(err)) {
      process.stderr.write(`palabre: ${err.message}\n`);
      return err.code === 'bad_request' || err.code === 'config_invalid' ? 2 : 1;
    }
    process.stderr.write(`palabre: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
