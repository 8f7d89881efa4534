import { Command, InvalidArgumentError, Option } from 'commander';
import { SPEAKING_STYLES } from '../engines/tts/types.js';
import { OUTPUT_FORMATS } from '../audio/output-format.js';
import type { OutputFormat } from '../speech/synthesize.js';
import { configFor, withEngines } from './context.js';
import { checkOutputPath, writeOutputFile } from './files.js';

function parseRate(value: string): number {
  const hz = Number(value);
  if (!/^\d+$/.test(value.trim()) || hz < 1000 || hz > 384_000) throw new InvalidArgumentError('expected a whole number of Hz between 1000 and 384000, such as 8000 or 16000.');
  return hz;
}

export function sayCommand(): Command {
  return new Command('say')
    .description('synthesise TEXT to an audio file')
    .argument('<text>', 'what to say')
    .requiredOption('-o, --output <file>', 'file to write ("-" for standard output)')
    .option('-v, --voice <voice>', 'voice id (see GET /api/tts/info)')
    .option('-l, --language <code>', 'language (picks the default voice for it)')
    .addOption(new Option('-s, --style <style>', 'speaking style').choices([...SPEAKING_STYLES]))
    .addOption(new Option('-f, --format <format>', 'output format').choices([...OUTPUT_FORMATS]).default('wav'))
    .option('-r, --rate <hz>', 'sample rate of the output (default: 8000 for ulaw/alaw, 16000 otherwise)', parseRate)
    .option('-e, --engine <name>', 'text-to-speech engine')
    .action(async (text: string, opts: { output: string; voice?: string; language?: string; style?: (typeof SPEAKING_STYLES)[number]; format: OutputFormat; rate?: number; engine?: string }, command: Command) => {
      if (opts.output !== '-') await checkOutputPath(opts.output);
      const config = configFor(command);
      await withEngines(command, { kinds: ['tts'], ttsEngines: [opts.engine ?? config.engines.tts.engine] }, async (engines) => {
        const { createSpeechServices } = await import('../speech/services.js');
        const services = createSpeechServices({ config, engines });
        const out = await services.synthesize({
          text,
          voice: opts.voice,
          language: opts.language,
          style: opts.style,
          format: opts.format,
          sampleRate: opts.rate,
          engine: opts.engine,
        });
        if (opts.output === '-') process.stdout.write(out.bytes);
        else {
          await writeOutputFile(opts.output, out.bytes);
          process.stderr.write(`${opts.output}: ${out.durationSec.toFixed(2)} s of ${opts.format} at ${out.sampleRate} Hz (${out.engine}, voice ${out.voice}, ${(out.latencySec * 1000).toFixed(0)} ms)\n`);
        }
      }, config);
    });
}
