import { Command } from 'commander';
import type { EngineKind } from '../engines/types.js';
import { parseHints } from '../server/multipart.js';
import { parsePreprocessList } from '../speech/preprocess.js';
import { configFor, withEngines } from './context.js';
import { readInputFile } from './files.js';

export function transcribeCommand(): Command {
  return new Command('transcribe')
    .description('transcribe an audio file (WAV; mp3/ogg/webm/m4a with ffmpeg) and print the text')
    .argument('<file>', 'audio file')
    .option('-l, --language <code>', 'language of the speech')
    .option('-e, --engine <name>', 'speech-to-text engine')
    .option('--hints <phrases>', 'comma-separated phrases the speech is expected to be (PocketSphinx picks among them)')
    .option('--grammar <file>', 'JSGF grammar file constraining the answer')
    .option('--preprocess <steps>', 'denoise, normalize, trim, lowpass[:HZ] (comma-separated)')
    .option('--json', 'print the whole result as JSON (segments, words, timings)')
    .action(async (file: string, opts: { language?: string; engine?: string; hints?: string; grammar?: string; preprocess?: string; json?: boolean }, command: Command) => {
      // Every argument is checked before the engines spend seconds loading.
      const config = configFor(command);
      const preprocess = parsePreprocessList(opts.preprocess, config.preprocess);
      const hints = parseHints(opts.hints);
      const audio = await readInputFile(file);
      const grammar = opts.grammar ? (await readInputFile(opts.grammar)).toString('utf8') : undefined;
      const kinds: EngineKind[] = ['stt'];
      if (preprocess.denoise) kinds.push('denoise');
      if (preprocess.trimSilence) kinds.push('vad');
      await withEngines(
        command,
        { kinds, sttEngines: opts.engine ? [opts.engine] : undefined },
        async (engines) => {
          const { createSpeechServices } = await import('../speech/services.js');
          const services = createSpeechServices({ config, engines });
          const result = await services.transcribe({ audio, language: opts.language, engine: opts.engine, hints, grammar, preprocess });
          process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : result.text + '\n');
        },
        config,
      );
    });
}
