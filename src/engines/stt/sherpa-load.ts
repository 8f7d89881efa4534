/**
 * Loading a sherpa-onnx recogniser without risking the server process.
 * sherpa-onnx-node 1.13.8 aborts the process (uncaught Ort::Exception) on a
 * model file it cannot parse, so before the recogniser is created in-process:
 *   1. every .onnx file passes a structural protobuf check (onnx-check.ts),
 *      and tokens.txt has the "token id" shape;
 *   2. the first time a given set of files is used, the recogniser is created
 *      once in a child process; a crash there becomes a clean error naming the
 *      model, and success is remembered in `<model>/.palabre-verified`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PalabreError } from '../../errors.js';
import type { CatalogModel, SherpaRecognizer } from '../../models/catalog.js';
import type { ResolvedModel } from '../../models/manager.js';
import { checkOnnxFile, checkTokensText } from './onnx-check.js';

export const VERIFIED_MARKER = '.palabre-verified';

export interface SherpaModule {
  OnlineRecognizer: new (config: unknown) => OnlineRecognizerLike;
  OfflineRecognizer: { new (config: unknown): OfflineRecognizerLike; createAsync(config: unknown): Promise<OfflineRecognizerLike> };
}

export interface OnlineStreamLike {
  acceptWaveform(w: { samples: Float32Array; sampleRate: number }): void;
  inputFinished(): void;
}

export interface OnlineResultJson {
  text: string;
  tokens?: string[];
  timestamps?: number[];
  ys_probs?: number[];
}

export interface OnlineRecognizerLike {
  createStream(): OnlineStreamLike;
  isReady(s: OnlineStreamLike): boolean;
  decode(s: OnlineStreamLike): void;
  isEndpoint(s: OnlineStreamLike): boolean;
  reset(s: OnlineStreamLike): void;
  getResult(s: OnlineStreamLike): OnlineResultJson;
}

export interface OfflineStreamLike {
  acceptWaveform(w: { samples: Float32Array; sampleRate: number }): void;
}

export interface OfflineResultJson {
  text: string;
  lang?: string;
  tokens?: string[];
  timestamps?: number[];
}

export interface OfflineRecognizerLike {
  createStream(): OfflineStreamLike;
  decodeAsync(s: OfflineStreamLike): Promise<OfflineResultJson>;
}

const require = createRequire(import.meta.url);

function modulePath(): string {
  try {
    return require.resolve('sherpa-onnx-node');
  } catch (err) {
    throw new PalabreError('engine_unavailable', 'the sherpa-onnx-node package is not installed (npm install sherpa-onnx-node)', { cause: err });
  }
}

export function loadSherpaModule(): SherpaModule {
  const path = modulePath();
  try {
    return require(path) as SherpaModule;
  } catch (err) {
    throw new PalabreError('engine_unavailable', `sherpa-onnx-node does not load on this machine: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

export interface RecognizerTuning {
  numThreads: number;
  decodingMethod: 'greedy_search' | 'modified_beam_search';
  /** Endpoint rule 2: trailing silence (s) that ends an utterance once something was said. */
  endpointSilence: number;
  /** Whisper language ('' to detect). */
  whisperLanguage: string;
}

/** The sherpa-onnx config object for a catalog model's files. */
export function recognizerConfig(resolved: ResolvedModel, spec: SherpaRecognizer, tuning: RecognizerTuning): Record<string, unknown> {
  const f = resolved.files;
  const featConfig = { sampleRate: 16_000, featureDim: 80 };
  if (spec.type === 'online-transducer') {
    return {
      featConfig,
      modelConfig: { transducer: { encoder: f.encoder, decoder: f.decoder, joiner: f.joiner }, tokens: f.tokens, numThreads: tuning.numThreads, provider: 'cpu', debug: 0 },
      decodingMethod: tuning.decodingMethod,
      maxActivePaths: 4,
      enableEndpoint: 1,
      rule1MinTrailingSilence: 2.4,
      rule2MinTrailingSilence: tuning.endpointSilence,
      rule3MinUtteranceLength: 20,
    };
  }
  return {
    featConfig,
    modelConfig: {
      whisper: { encoder: f.encoder, decoder: f.decoder, language: tuning.whisperLanguage, task: 'transcribe', tailPaddings: -1 },
      tokens: f.tokens,
      numThreads: tuning.numThreads,
      provider: 'cpu',
      debug: 0,
    },
    decodingMethod: 'greedy_search',
  };
}

/** Step 1: the shape of every file, in JavaScript. */
export function checkModelFiles(resolved: ResolvedModel): void {
  for (const [role, path] of Object.entries(resolved.files)) {
    if (path.endsWith('.onnx')) checkOnnxFile(path);
    else if (role === 'tokens') checkTokensText(path, readFileSync(path, 'utf8'));
  }
}

function fingerprint(resolved: ResolvedModel): string {
  const files = Object.values(resolved.files)
    .sort()
    .map((p) => {
      const st = statSync(p);
      return `${p}:${st.size}:${Math.round(st.mtimeMs)}`;
    });
  return JSON.stringify({ files, module: require('sherpa-onnx-node/package.json').version as string });
}

/** Step 2: create the recogniser once in a child process, where an abort cannot take the server down. */
export async function probeRecognizer(model: CatalogModel, resolved: ResolvedModel, kind: SherpaRecognizer['type'], config: Record<string, unknown>, timeoutMs = 180_000): Promise<void> {
  const marker = join(resolved.dir, VERIFIED_MARKER);
  const print = fingerprint(resolved);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === print) return;
  const cls = kind === 'online-transducer' ? 'OnlineRecognizer' : 'OfflineRecognizer';
  const script = `const s = require(${JSON.stringify(modulePath())}); new s.${cls}(JSON.parse(process.argv[1])); process.stdout.write('ok');`;
  const { code, signal, stderr, stdout } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let err = '';
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    child.on('error', reject);
    child.on('close', (c, s) => resolve({ code: c, signal: s, stderr: err, stdout: out }));
  });
  if (code === 0 && stdout === 'ok') {
    writeFileSync(marker, print);
    return;
  }
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('at ') && !/^node:|^\^|^Node\.js v/.test(l));
  const why = lines.slice(-2).join(' / ') || (signal ? `the loader was killed by ${signal}` : `the loader exited with code ${code}`);
  throw new PalabreError('engine_unavailable', `model ${model.id} failed to load in sherpa-onnx: ${why}; remove it and pull it again (\`palabre models rm ${model.id}\`, then \`palabre models pull ${model.id}\`)`, {
    details: { dir: resolved.dir, code, signal },
  });
}
