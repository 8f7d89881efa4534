import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { encodeWav } from '../audio/wav.js';
import { PalabreError } from '../errors.js';
import { decodeInput } from '../speech/input.js';
import { denoiseChunk } from '../speech/preprocess.js';
import { withEngines } from './context.js';
import { readInputFile } from './transcribe.js';

export function cleanCommand(): Command {
  return new Command('clean')
    .description('remove background noise from an audio file and write a WAV at the same rate')
    .argument('<in>', 'input audio file')
    .requiredOption('-o, --output <file>', 'output WAV file')
    .action(async (input: string, opts: { output: string }, command: Command) => {
      const bytes = await readInputFile(input);
      await withEngines(command, ['denoise'], async (engines, config) => {
        if (!engines.denoiser) {
          const status = engines.statuses.find((s) => s.kind === 'denoise');
          throw new PalabreError('engine_unavailable', `no noise suppressor is loaded: ${status?.reason ?? 'unknown reason'}`);
        }
        const chunk = await decodeInput(bytes, { ffmpegPath: config.audio.ffmpegPath });
        const started = performance.now();
        const cleaned = denoiseChunk(engines.denoiser, chunk);
        await writeFile(opts.output, encodeWav(cleaned));
        const secs = chunk.samples.length / chunk.sampleRate;
        process.stderr.write(`${opts.output}: ${secs.toFixed(2)} s at ${chunk.sampleRate} Hz cleaned in ${(performance.now() - started).toFixed(0)} ms\n`);
      });
    });
}
