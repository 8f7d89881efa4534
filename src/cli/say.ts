import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { SPEAKING_STYLES } from '../engines/tts/types.js';
import { createSpeechServices } from '../speech/services.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../speech/synthesize.js';
import { withEngines } from './context.js';

export function sayCommand(): Command {
  return new Command('say')
    .description('synthesise TEXT to an audio file')
    .argument('<text>', 'what to say')
    .requiredOption('-o, --output <file>', 'file to write ("-" for standard output)')
    .option('-v, --voice <voice>', 'voice id (see GET /api/tts/info)')
    .option('-l, --language <code>', 'language (picks the default voice for it)')
    .addOption(new Option('-s, --style <style>', 'speaking style').choices([...SPEAKING_STYLES]))
    .addOption(new Option('-f, --format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('wav'))
    .option('-r, --rate <hz>', 'sample rate of the output')
    .option('-e, --engine <name>', 'text-to-speech engine')
    .action(async (text: string, opts: { output: string; voice?: string; language?: string; style?: (typeof SPEAKING_STYLES)[number]; format: OutputFormat; rate?: string; engine?: string }, command: Command) => {
      await withEngines(command, ['tts'], async (engines, config) => {
        const services = createSpeechServices({ config, engines });
        const out = await services.synthesize({
          text,
          voice: opts.voice,
          language: opts.language,
          style: opts.style,
          format: opts.format,
          sampleRate: opts.rate === undefined ? undefined : Number(opts.rate),
          engine: opts.engine,
        });
        if (opts.output === '-') process.stdout.write(out.bytes);
        else {
          await writeFile(opts.output, out.bytes);
          process.stderr.write(`${opts.output}: ${out.durationSec.toFixed(2)} s of ${opts.format} at ${out.sampleRate} Hz (${out.engine}, voice ${out.voice}, ${(out.latencySec * 1000).toFixed(0)} ms)\n`);
        }
      });
    });
}
