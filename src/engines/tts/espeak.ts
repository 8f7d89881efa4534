/**
 * espeak-ng text-to-speech. espeak-ng is GPL-3.0 and palabre is MIT: this module only
 * drives it (a WASM package loaded in a worker, or a separate program), and it is itself
 * loaded on demand by createTts('espeak'), never imported by the core.
 *
 * Two back-ends, picked at load: the optional npm package
 * `@echogarden/espeak-ng-emscripten` when installed (no system dependency, one request at
 * a time in its worker), else the `espeak-ng` program (one process per request).
 * Both produce 22,050 Hz mono PCM and stream it as it is synthesised.
 */
import type { AudioChunk } from '../../audio/frame.js';
import { PalabreError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { reasonOf, resolvePackage, speakWithPauses } from './engine-support.js';
import { EspeakCli } from './espeak-cli.js';
import { EspeakVoiceCatalogue, parseEspeakVoiceList } from './espeak-voices.js';
import { createEspeakWasmHost, escapeForSsml, ESPEAK_WASM_PACKAGE, type EspeakWasmInfo, type EspeakWasmJob } from './espeak-wasm.js';
import { espeakParams, prosodyFor, type EspeakParams } from './styles.js';
import { checkText, DEFAULT_MAX_TEXT_CHARS } from './text.js';
import type { TtsOptions, TtsVoice, VoiceResolvingTts } from './types.js';
import type { WorkerHost } from './worker-host.js';

export type EspeakBackend = 'wasm' | 'cli';

export interface EspeakOptions {
  /** 'auto' (default) uses the npm package when installed, else the program. */
  backend?: 'auto' | EspeakBackend;
  /** The espeak-ng program for the 'cli' back-end; default 'espeak-ng' from PATH. */
  program?: string;
  /** Module specifier of the WASM build; default '@echogarden/espeak-ng-emscripten'. */
  wasmPackage?: string;
  /** Voice per language tag, used when a request names a language but no voice. Default { fr: 'fr', en: 'en-us' }. */
  voices?: Record<string, string>;
  /** Language spoken when a request names neither voice nor language. Default 'fr'. */
  language?: string;
  /** Programs run at once by the 'cli' back-end. Default 4. */
  maxProcesses?: number;
  /** Requests allowed to wait for a free synthesiser; beyond it, engine_unavailable. Default 64. */
  maxQueue?: number;
  maxTextChars?: number;
  /** WASM back-end: speak a few sentences in each default voice at load (at most ~2 s) so the first calls are not slowed by JIT warm-up. Default true. */
  warmUp?: boolean;
  logger?: Logger;
}

export interface EspeakTts extends VoiceResolvingTts {
  readonly backend: EspeakBackend;
}

type Piece = (text: string, identifier: string, params: EspeakParams, signal?: AbortSignal) => AsyncIterable<Int16Array>;

const SAMPLE_RATE = 22_050;
const DEFAULT_VOICES: Readonly<Record<string, string>> = Object.freeze({ fr: 'fr', en: 'en-us' });

class Espeak implements EspeakTts {
  readonly name = 'espeak';
  readonly sampleRate = SAMPLE_RATE;
  readonly languages: readonly string[];

  constructor(
    readonly backend: EspeakBackend,
    private readonly catalogue: EspeakVoiceCatalogue,
    private readonly piece: Piece,
    private readonly closeBackend: () => Promise<void>,
    private readonly defaults: Readonly<Record<string, string>>,
    private readonly language: string,
    private readonly maxTextChars: number,
  ) {
    this.languages = catalogue.languages;
  }

  voices(): readonly TtsVoice[] {
    return this.catalogue.voices;
  }

  /** The voice id a request resolves to; throws bad_request for unknown voices or languages. */
  resolveVoice(options: TtsOptions = {}): string {
    if (options.voice !== undefined) {
      this.catalogue.identifierOf(options.voice);
      return options.voice.toLowerCase();
    }
    return this.catalogue.voiceForLanguage(options.language ?? this.language, this.defaults);
  }

  async *synthesize(text: string, options: TtsOptions = {}): AsyncGenerator<AudioChunk, void, undefined> {
    const clean = checkText(text, 'espeak-ng', this.maxTextChars);
    const prosody = prosodyFor(options.style);
    const identifier = this.catalogue.identifierOf(this.resolveVoice(options));
    const params = espeakParams(prosody);
    yield* speakWithPauses(clean, prosody, SAMPLE_RATE, (t, s) => this.piece(t, identifier, params, s), options.signal, 'espeak-ng synthesis');
  }

  close(): Promise<void> {
    return this.closeBackend();
  }
}

async function loadWasm(options: EspeakOptions): Promise<{ host: WorkerHost<EspeakWasmInfo, EspeakWasmJob, Int16Array>; info: EspeakWasmInfo }> {
  const url = resolvePackage(options.wasmPackage ?? ESPEAK_WASM_PACKAGE, 'espeak-ng compiled to WASM');
  const host = createEspeakWasmHost(url, options.maxQueue ?? 64);
  try {
    return { host, info: await host.start() };
  } catch (e) {
    await host.close();
    throw e;
  }
}

async function createWasm(options: EspeakOptions): Promise<Espeak> {
  const { host, info } = await loadWasm(options);
  if (info.sampleRate !== SAMPLE_RATE) {
    await host.close();
    throw new PalabreError('engine_unavailable', `espeak-ng WASM reports ${info.sampleRate} Hz; ${SAMPLE_RATE} Hz was expected`);
  }
  const piece: Piece = (text, voice, params, signal) => host.run({ text: escapeForSsml(text), voice, ...params }, signal);
  return build('wasm', new EspeakVoiceCatalogue(info.voices), piece, () => host.close(), options);
}

async function createCli(options: EspeakOptions): Promise<Espeak> {
  const cli = new EspeakCli(options.program ?? 'espeak-ng', options.maxProcesses ?? 4, options.maxQueue ?? 64);
  const catalogue = new EspeakVoiceCatalogue(parseEspeakVoiceList(await cli.listVoices()));
  if (catalogue.voices.length === 0) throw new PalabreError('engine_unavailable', `'${cli.program} --voices' listed no voices`);
  const piece: Piece = (text, voice, params, signal) => cli.synthesize(text, voice, params, signal);
  return build('cli', catalogue, piece, () => cli.close(), options);
}

function build(backend: EspeakBackend, catalogue: EspeakVoiceCatalogue, piece: Piece, close: () => Promise<void>, options: EspeakOptions): Espeak {
  const defaults = { ...DEFAULT_VOICES, ...options.voices };
  return new Espeak(backend, catalogue, piece, close, defaults, options.language ?? 'fr', options.maxTextChars ?? DEFAULT_MAX_TEXT_CHARS);
}

const WARM_TEXT: Readonly<Record<string, string>> = {
  fr: "Bonjour et bienvenue. Pouvez-vous répéter votre numéro, s'il vous plaît ? Merci, votre demande a bien été enregistrée pour jeudi à quinze heures.",
  en: 'Hello and welcome. Could you repeat your number, please? Thank you, your request has been booked for Thursday at three in the afternoon.',
};

/**
 * The WASM build is asm.js-style JavaScript: its first synthesis runs several times
 * slower than once V8 has optimised it (0.4–0.8 s for a sentence, then 20–40 ms). A few
 * seconds of speech in each default voice at load moves that cost out of the first calls.
 */
async function warmUp(tts: Espeak, options: EspeakOptions, log: Logger, budgetMs: number): Promise<void> {
  const started = performance.now();
  const voices = [...new Set(Object.values({ ...DEFAULT_VOICES, ...options.voices }).map((v) => v.toLowerCase()))].filter((v) => tts.voices().some((x) => x.id === v));
  for (let round = 0; round < 3; round++) {
    for (const voice of voices) {
      if (performance.now() - started > budgetMs) return;
      try {
        for await (const _chunk of tts.synthesize(WARM_TEXT[voice.split('-')[0]] ?? WARM_TEXT.en, { voice })) void _chunk;
      } catch (e) {
        log.warn({ voice, err: reasonOf(e) }, 'espeak-ng warm-up failed');
        return;
      }
    }
  }
}

export async function createEspeakTts(options: EspeakOptions = {}): Promise<EspeakTts> {
  const log = (options.logger ?? silentLogger).child({ module: 'tts.espeak' });
  const choice = options.backend ?? 'auto';
  let tts: Espeak;
  if (choice === 'wasm') tts = await createWasm(options);
  else if (choice === 'cli') tts = await createCli(options);
  else {
    try {
      tts = await createWasm(options);
    } catch (wasmError) {
      log.info({ reason: reasonOf(wasmError) }, 'espeak-ng WASM back-end unavailable, trying the espeak-ng program');
      try {
        tts = await createCli(options);
      } catch (cliError) {
        throw new PalabreError('engine_unavailable', `espeak-ng is unavailable: ${reasonOf(wasmError)} (install it with npm), and ${reasonOf(cliError)} (install the Debian package espeak-ng)`, {
          cause: cliError,
        });
      }
    }
  }
  if (tts.backend === 'wasm' && (options.warmUp ?? true)) await warmUp(tts, options, log, 2_000);
  log.info({ backend: tts.backend, voices: tts.voices().length }, 'espeak-ng ready');
  return tts;
}
