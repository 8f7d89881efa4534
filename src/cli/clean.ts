import { Command } from 'commander';
import { encodeWav } from '../audio/wav.js';
import { PalabreError } from '../errors.js';
import { decodeInput } from '../speech/input.js';
import { denoiseChunk } from '../speech/preprocess.js';
import { configFor, withEngines } from './context.js';
import { checkOutputPath, readInputFile, writeOutputFile } from './files.js';

export function cleanCommand(): Command {
  return new Command('clean')
    .description('remove background noise from an audio file and write a WAV at the same rate')
    .argument('<in>', 'input audio file')
    .requiredOption('-o, --output <file>', 'output WAV file')
    .action(async (input: string, opts: { output: string }, command: Command) => {
      const config = configFor(command);
      const chunk = await decodeInput(await readInputFile(input), { ffmpegPath: config.audio.ffmpegPath });
      await checkOutputPath(opts.output);
      await withEngines(
        command,
        { kinds: ['denoise'] },
        async (engines) => {
          if (!engines.denoiser) {
            const status = engines.statuses.find((s) => s.kind === 'denoise');
            throw new PalabreError('engine_unavailable', `no noise suppressor is loaded: ${status?.reason ?? 'unknown reason'}`);
          }
          const started = performance.now();
          const cleaned = denoiseChunk(engines.denoiser, chunk);
          await writeOutputFile(opts.output, encodeWav(cleaned));
          const secs = chunk.samples.length / chunk.sampleRate;
          process.stderr.write(`${opts.output}: ${secs.toFixed(2)} s at ${chunk.sampleRate} Hz cleaned in ${(performance.now() - started).toFixed(0)} ms\n`);
        },
        config,
      );
    });
}
