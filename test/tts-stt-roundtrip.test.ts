/**
 * Text → speech → text in English with real engines: what the TTS says, the
 * recogniser must hear. flite's voices are the synthetic caller of the
 * end-to-end tests, so their word error rate is held to a tight bound
 * (measured 14 % on these sentences, mostly "router light" and "house").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatChunks } from '../src/audio/frame.js';
import { resample } from '../src/audio/resample.js';
import { createStt } from '../src/engines/stt/index.js';
import type { Stt } from '../src/engines/stt/types.js';
import { createTts } from '../src/engines/tts/index.js';
import type { Tts } from '../src/engines/tts/types.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';

const SENTENCES = [
  'my internet connection stopped working this morning',
  'please call me back tomorrow afternoon',
  'i would like to speak to a technician',
  'the router light is blinking red',
  'yes i am the owner of the house',
];

let stt: Stt;
const engines: Tts[] = [];

beforeAll(async () => {
  stt = await createStt('pocketsphinx');
});

afterAll(async () => {
  await stt?.close();
  await Promise.all(engines.map((e) => e.close()));
});

async function roundTrip(tts: Tts, voice: string): Promise<{ wer: number; pairs: string[] }> {
  let errors = 0;
  let words = 0;
  const pairs: string[] = [];
  for (const text of SENTENCES) {
    const chunks = [];
    for await (const chunk of tts.synthesize(text, { voice, language: 'en' })) chunks.push(chunk);
    const audio = await resample(concatChunks(chunks), 16000);
    const result = await stt.transcribe(audio, { language: 'en' });
    const n = text.split(' ').length;
    errors += wordErrorRate(text, result.text) * n;
    words += n;
    pairs.push(`${text} → ${result.text}`);
  }
  return { wer: errors / words, pairs };
}

describe('TTS → PocketSphinx round trip (English)', () => {
  it('flite slt is heard with a word error rate of at most 20 %', async () => {
    const tts = await createTts('flite');
    engines.push(tts);
    const { wer, pairs } = await roundTrip(tts, 'slt');
    console.log(`flite slt → pocketsphinx WER ${(wer * 100).toFixed(1)} %\n  ${pairs.join('\n  ')}`);
    expect(wer).toBeLessThanOrEqual(0.2);
  });

  it('espeak-ng en-us is at least partly heard (word error rate under 95 %)', async () => {
    // espeak's formant voice is far from the read speech PocketSphinx's model was trained on: about 85 % of
    // words are lost (printed). The bound only guards against silence or garbage; flite is the test caller.
    const tts = await createTts('espeak');
    engines.push(tts);
    const { wer, pairs } = await roundTrip(tts, 'en-us');
    console.log(`espeak en-us → pocketsphinx WER ${(wer * 100).toFixed(1)} %\n  ${pairs.join('\n  ')}`);
    expect(wer).toBeLessThan(0.95);
  });
});
