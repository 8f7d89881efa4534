/**
 * Every speech-to-text engine that loads on this machine must pass the same
 * checks on the same known recording. Engines that cannot load (sherpa
 * without a downloaded model) are listed as skipped with the reason.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { PIPELINE_RATE } from '../src/audio/frame.js';
import { PalabreError } from '../src/errors.js';
import { CATALOG } from '../src/models/catalog.js';
import { createStt } from '../src/engines/stt/index.js';
import { cleanupSpeech, fliteSpeech } from '../src/engines/stt/test-support.js';
import type { Stt, SttEvent } from '../src/engines/stt/types.js';
import { normalizedEditDistance } from '../src/engines/stt/wer.js';

const SENTENCE = 'please enter your account number followed by the pound key';
/** Normalised character edit distance allowed against the reference. */
const MAX_DISTANCE = 0.25;
const MODELS_DIR = process.env.PALABRE_MODELS_DIR ?? './data/models';

interface Candidate {
  label: string;
  load: () => Promise<Stt>;
}

const candidates: Candidate[] = [
  { label: 'pocketsphinx', load: () => createStt('pocketsphinx', { pocketsphinx: { poolSize: 1 } }) },
  ...CATALOG.filter((m) => m.sherpa && m.languages.some((l) => l === 'en' || l === 'multi')).map((m) => ({
    label: `sherpa (${m.id})`,
    load: () => createStt('sherpa', { sherpa: { model: m.id, modelsDir: MODELS_DIR } }),
  })),
];

const loaded: { label: string; stt?: Stt; reason?: string }[] = [];
for (const c of candidates) {
  try {
    loaded.push({ label: c.label, stt: await c.load() });
  } catch (err) {
    loaded.push({ label: c.label, reason: err instanceof Error ? err.message : String(err) });
  }
}

afterAll(async () => {
  await Promise.all(loaded.map((l) => l.stt?.close()));
  cleanupSpeech();
});

for (const { label, stt, reason } of loaded) {
  if (!stt) {
    it.skip(`${label} — not available here: ${reason}`, () => undefined);
    continue;
  }
  describe(`STT conformance: ${label}`, () => {
    it(`transcribes the reference sentence within edit distance ${MAX_DISTANCE}`, async () => {
      const audio = await fliteSpeech(SENTENCE);
      const result = await stt.transcribe(audio, { language: 'en' });
      const distance = normalizedEditDistance(SENTENCE, result.text);
      console.log(`${label}: "${result.text}" (distance ${distance.toFixed(3)})`);
      expect(distance).toBeLessThanOrEqual(MAX_DISTANCE);
      expect(result.engine).toBe(stt.name);
      expect(typeof result.language).toBe('string');
      expect(result.duration).toBeCloseTo(audio.samples.length / PIPELINE_RATE, 2);
      expect(result.segments.length).toBeGreaterThan(0);
      for (const w of result.words ?? []) {
        expect(w.start).toBeGreaterThanOrEqual(0);
        expect(w.end).toBeGreaterThanOrEqual(w.start);
        expect(w.end).toBeLessThanOrEqual(result.duration + 1e-9);
        if (w.confidence !== undefined) {
          expect(w.confidence).toBeGreaterThan(0);
          expect(w.confidence).toBeLessThanOrEqual(1);
        }
      }
    });

    it('declares 16 kHz and refuses anything else', async () => {
      expect(stt.sampleRate).toBe(PIPELINE_RATE);
      await expect(stt.transcribe({ samples: new Int16Array(8000), sampleRate: 8000 })).rejects.toMatchObject({ code: 'rate_mismatch' });
    });

    it('refuses work whose signal is already aborted', async () => {
      const audio = await fliteSpeech(SENTENCE);
      const err = await stt.transcribe(audio, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PalabreError);
      expect((err as PalabreError).code).toBe('aborted');
    });

    it.runIf(stt.streaming && stt.stream)('streams: partials, then a final close to the reference', async () => {
      const audio = await fliteSpeech(SENTENCE);
      const stream = stt.stream!({ language: 'en' });
      const events: SttEvent[] = [];
      const reading = (async () => {
        for await (const e of stream.events()) events.push(e);
      })();
      for (let i = 0; i < audio.samples.length; i += 320) {
        stream.push({ samples: audio.samples.slice(i, i + 320), sampleRate: PIPELINE_RATE });
        if (i % 3200 === 0) await new Promise((r) => setImmediate(r));
      }
      const final = await stream.finish();
      await reading;
      expect(events.at(-1)).toEqual({ type: 'final', result: final });
      expect(events.some((e) => e.type === 'partial')).toBe(true);
      expect(normalizedEditDistance(SENTENCE, final.text)).toBeLessThanOrEqual(MAX_DISTANCE);
    });
  });
}
