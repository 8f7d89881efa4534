/**
 * The simulated callers' lines, synthesised once with flite and kept as raw
 * s16le 8 kHz files (the phone-side rate of AudioSocket() and Twilio) under
 * `<dataDir>/bench/callers/`, so later runs reuse them and spend nothing on
 * synthesis in the server's process.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { concatChunks, type AudioChunk } from '../../src/audio/frame.js';
import { resampleWith, type ResamplerFactory } from '../../src/audio/resample.js';
import { createTts } from '../../src/engines/tts/index.js';
import { silentLogger } from '../../src/log.js';
import { CALLER_RATE } from './wire-constants.js';

export async function prepareCallerClips(texts: readonly string[], options: { dir: string; voice?: string; resampler: ResamplerFactory }): Promise<Record<string, string>> {
  const voice = options.voice ?? 'slt';
  mkdirSync(options.dir, { recursive: true });
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const text of new Set(texts)) {
    const key = createHash('sha1').update(`flite\0${voice}\0${text}`).digest('hex').slice(0, 16);
    paths[text] = join(options.dir, `flite-${voice}-${key}.s16le`);
    if (!existsSync(paths[text])) missing.push(text);
  }
  if (missing.length === 0) return paths;
  const tts = await createTts('flite', { logger: silentLogger });
  try {
    for (const text of missing) {
      const chunks: AudioChunk[] = [];
      for await (const c of tts.synthesize(text, { voice })) chunks.push(c);
      const narrow = resampleWith(options.resampler, concatChunks(chunks, tts.sampleRate), CALLER_RATE);
      writeFileSync(paths[text], Buffer.from(narrow.samples.buffer, narrow.samples.byteOffset, narrow.samples.byteLength));
    }
  } finally {
    await tts.close();
  }
  return paths;
}
