import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { PalabreError } from '../errors.js';
import { parseHints } from '../server/multipart.js';
import { parsePreprocessList } from '../speech/preprocess.js';
import { createSpeechServices } from '../speech/services.js';
import { withEngines } from './context.js';

export async function readInputFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PalabreError('bad_request', code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${(err as Error).message}`);
  }
}

export function transcribeCommand(): Command {
  return new Command('transcribe')
    .description('transcribe an audio file (WAV; mp3/ogg/webm/m4a with ffmpeg) and print the text')
    .argument('<file>', 'audio file')
    .option('-l, --language <code>', 'language of the speech')
    .option('-e, --engine <name>', 'speech-to-text engine')
    .option('--hints <phrases>', 'comma-separated phrases to bias recognition towards')
    .option('--grammar <file>', 'JSGF grammar file constraining the answer')
    .option('--preprocess <steps>', 'denoise, normalize, trim, lowpass[:HZ] (comma-separated)')
    .option('--json', 'print the whole result as JSON (segments, words, timings)')
    .action(async (file: string, opts: { language?: string; engine?: string; hints?: string; grammar?: string; preprocess?: string; json?: boolean }, command: Command) => {
      const audio = await readInputFile(file);
      const grammar = opts.grammar ? (await readInputFile(opts.grammar)).toString('utf8') : undefined;
      await withEngines(command, ['stt', 'vad', 'denoise'], async (engines, config) => {
        const services = createSpeechServices({ config, engines });
        const result = await services.transcribe({
          audio,
          language: opts.language,
          engine: opts.engine,
          hints: parseHints(opts.hints),
          grammar,
          preprocess: parsePreprocessList(opts.preprocess, config.preprocess),
        });
        process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : result.text + '\n');
      });
    });
}
