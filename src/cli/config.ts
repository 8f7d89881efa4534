import { Command } from 'commander';
import YAML from 'yaml';
import { describeSettings, maskSecrets } from '../config.js';
import { configFor } from './context.js';

export function configCommand(): Command {
  return new Command('config')
    .description('print the effective configuration (secrets masked), or every setting with its env var')
    .option('--json', 'print JSON instead of YAML')
    .option('--docs', 'print the table of settings, env vars and defaults (Markdown)')
    .action((opts: { json?: boolean; docs?: boolean }, command: Command) => {
      if (opts.docs) {
        process.stdout.write(describeSettings() + '\n');
        return;
      }
      const masked = maskSecrets(configFor(command));
      process.stdout.write(opts.json ? JSON.stringify(masked, null, 2) + '\n' : YAML.stringify(masked));
    });
}
