import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { silence, type AudioChunk } from '../../audio/frame.js';
import { PalabreError, throwIfAborted } from '../../errors.js';
import type { Prosody } from './styles.js';
import { splitSentences } from './text.js';

const require = createRequire(import.meta.url);

/**
 * File URL of an installed package's entry point, or engine_unavailable saying it is
 * not installed. Resolving first lets an engine tell "missing" from "broken".
 */
export function resolvePackage(specifier: string, purpose: string): string {
  try {
    return pathToFileURL(require.resolve(specifier)).href;
  } catch (e) {
    throw new PalabreError('engine_unavailable', `the npm package ${specifier} (${purpose}) is not installed`, { cause: e });
  }
}

/** Produces one piece of text as raw samples at the engine's rate. */
export type SpeakPiece = (text: string, signal?: AbortSignal) => AsyncIterable<Int16Array>;

/**
 * Speaks text with the style's extra sentence pauses: each sentence is synthesised on
 * its own and silence is yielded between them, the same way on every engine. Engines
 * that render whole texts at once also split (`alwaysSplit`) so that their first audio
 * comes after one sentence, not the whole answer, and an abort takes effect between
 * sentences. Checks the signal between chunks so an abort also stops a consumer that
 * is behind.
 */
export async function* speakWithPauses(
  text: string,
  prosody: Readonly<Prosody>,
  sampleRate: number,
  piece: SpeakPiece,
  signal: AbortSignal | undefined,
  what: string,
  alwaysSplit = false,
): AsyncGenerator<AudioChunk, void, undefined> {
  throwIfAborted(signal, what);
  const parts = alwaysSplit || prosody.sentencePauseMs > 0 ? splitSentences(text) : [text];
  for (let i = 0; i < parts.length; i++) {
    if (i > 0 && prosody.sentencePauseMs > 0) yield silence(sampleRate, prosody.sentencePauseMs);
    for await (const samples of piece(parts[i], signal)) {
      throwIfAborted(signal, what);
      yield { samples, sampleRate };
    }
  }
}

/** The "why" of an error, for messages that combine several failures. */
export function reasonOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const STDERR_KEEP = 2048;

/** Runs a program to completion and returns its stdout; ENOENT becomes engine_unavailable naming the program. */
export function runProgram(program: string, args: string[], what: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-STDERR_KEEP)));
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? `the ${what} program '${program}' is not on PATH` : `could not run '${program}': ${e.message}`;
      reject(new PalabreError('engine_unavailable', why, { cause: e }));
    });
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new PalabreError('engine_unavailable', `'${program} ${args.join(' ')}' failed (${signal ?? `exit ${code}`}): ${err.trim()}`));
    });
  });
}
