/**
 * Text-to-speech speed: real-time factor (synthesis time / audio duration) and time to
 * first audio for espeak-ng (WASM worker and the espeak-ng program) and flite (WASI
 * worker and the flite program), on two sentences in French and English; then the cost
 * of a phrase-cache hit against the miss that filled it. Target from the issue: espeak
 * RTF under 0.05.
 */
import { PhraseCache } from '../src/engines/tts/phrase-cache.js';
import { createTts } from '../src/engines/tts/index.js';
import type { Tts } from '../src/engines/tts/types.js';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const TEXTS = {
  fr: "Bonjour, je suis l'assistant vocal de votre agence. Pouvez-vous me donner votre numéro de client, s'il vous plaît ?",
  en: 'Hello, I am the voice assistant of your branch. Could you please give me your customer number?',
} as const;

interface Run {
  totalMs: number;
  firstMs: number;
  audioSec: number;
}

async function once(tts: Tts, text: string, language: string): Promise<Run> {
  const started = performance.now();
  let firstMs = 0;
  let samples = 0;
  for await (const chunk of tts.synthesize(text, { language })) {
    if (samples === 0) firstMs = performance.now() - started;
    samples += chunk.samples.length;
  }
  return { totalMs: performance.now() - started, firstMs, audioSec: samples / tts.sampleRate };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

export default async function bench(ctx: Ctx): Promise<void> {
  const iterations = ctx.quick ? 5 : 30;
  const { print } = ctx;
  print(`${iterations} runs per row after 2 warm-up runs; times are wall clock on the calling thread, means (first audio: median).`);
  print('');
  print('| engine | back-end | lang | load ms | audio s | synth ms | RTF | × real time | first audio ms |');
  print('|---|---|---|---:|---:|---:|---:|---:|---:|');
  const setups = [
    { name: 'espeak', backend: 'wasm', langs: ['fr', 'en'] },
    { name: 'espeak', backend: 'cli', langs: ['fr', 'en'] },
    { name: 'flite', backend: 'wasm', langs: ['en'] },
    { name: 'flite', backend: 'cli', langs: ['en'] },
  ] as const;
  const rtf: Record<string, number> = {};
  for (const s of setups) {
    const loadStart = performance.now();
    let tts: Tts;
    try {
      tts = await createTts(s.name, { backend: s.backend });
    } catch (e) {
      print(`| ${s.name} | ${s.backend} | – | unavailable: ${e instanceof Error ? e.message : String(e)} | | | | | |`);
      continue;
    }
    const loadMs = performance.now() - loadStart;
    try {
      for (const lang of s.langs) {
        const text = TEXTS[lang];
        for (let i = 0; i < 2; i++) await once(tts, text, lang);
        const runs: Run[] = [];
        for (let i = 0; i < iterations; i++) runs.push(await once(tts, text, lang));
        const total = mean(runs.map((r) => r.totalMs));
        const audio = mean(runs.map((r) => r.audioSec));
        const factor = total / 1000 / audio;
        rtf[`${s.name}/${s.backend}/${lang}`] = factor;
        print(
          `| ${s.name} | ${s.backend} | ${lang} | ${loadMs.toFixed(0)} | ${audio.toFixed(2)} | ${total.toFixed(1)} | ${factor.toFixed(4)} | ${(1 / factor).toFixed(0)}× | ${median(runs.map((r) => r.firstMs)).toFixed(1)} |`,
        );
      }
    } finally {
      await tts.close();
    }
  }
  const espeakRtf = Object.entries(rtf).filter(([k]) => k.startsWith('espeak/'));
  if (espeakRtf.length > 0) {
    const worst = Math.max(...espeakRtf.map(([, v]) => v));
    print('');
    print(`espeak worst RTF ${worst.toFixed(4)} against the 0.05 target: ${worst < 0.05 ? 'met' : 'NOT met'} (${(0.05 / worst).toFixed(1)}× margin).`);
  }

  // Phrase cache: a hit returns stored bytes; a miss synthesises, resamples to 8 kHz and encodes µ-law.
  const tts = await createTts('espeak', { backend: 'cli' });
  try {
    const format = { encoding: 'ulaw', sampleRate: 8000 } as const;
    const misses: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const cache = new PhraseCache();
      const started = performance.now();
      for await (const _chunk of cache.get(tts, { text: TEXTS.fr, language: 'fr' }, format)) void _chunk;
      misses.push(performance.now() - started);
    }
    const cache = new PhraseCache();
    await cache.preload(tts, [{ text: TEXTS.fr, language: 'fr' }], format);
    const hitRuns = ctx.quick ? 2_000 : 20_000;
    for (let i = 0; i < 200; i++) for await (const _chunk of cache.get(tts, { text: TEXTS.fr, language: 'fr' }, format)) void _chunk;
    const started = performance.now();
    for (let i = 0; i < hitRuns; i++) for await (const _chunk of cache.get(tts, { text: TEXTS.fr, language: 'fr' }, format)) void _chunk;
    const hitUs = ((performance.now() - started) * 1000) / hitRuns;
    const missMs = mean(misses);
    print('');
    print('| phrase cache (espeak program, fr, µ-law 8 kHz) | cost | vs miss |');
    print('|---|---:|---:|');
    print(`| miss: synthesise + resample + encode + store | ${missMs.toFixed(2)} ms | 1× |`);
    print(`| hit: key (voice resolution, normalisation) + lookup | ${hitUs.toFixed(1)} µs | ${((missMs * 1000) / hitUs).toFixed(0)}× cheaper |`);
    print(`stats after the hit runs: ${JSON.stringify(cache.stats())}`);
  } finally {
    await tts.close();
  }
}
