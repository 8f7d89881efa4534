/**
 * PocketSphinx speed and memory: real-time factor (decode time / audio time)
 * of batch requests through the worker pool on flite sentences and 8 kHz
 * Asterisk prompts, against the same decoder called in-thread (the worker's
 * overhead) and the streaming live pass; RSS per decoder.
 */
import type { AudioChunk } from '../src/audio/frame.js';
import { PIPELINE_RATE } from '../src/audio/frame.js';
import { PsDecoder } from '../src/engines/stt/pocketsphinx-ffi.js';
import { createPocketSphinx, POCKETSPHINX_DEFAULTS, type PocketSphinxStt } from '../src/engines/stt/pocketsphinx.js';
import { FLITE_SENTENCES, asteriskPrompt, asteriskPromptNames, cleanupSpeech, fliteSpeech, hasAsteriskPrompts } from '../src/engines/stt/test-support.js';
import { normalizeWords, wordErrorRate } from '../src/engines/stt/wer.js';

interface Clip {
  audio: AudioChunk;
  text: string;
}

function seconds(clips: Clip[]): number {
  return clips.reduce((s, c) => s + c.audio.samples.length, 0) / PIPELINE_RATE;
}

function werOf(clips: Clip[], texts: string[]): number {
  let errors = 0;
  let words = 0;
  clips.forEach((c, i) => {
    const n = normalizeWords(c.text).length;
    errors += wordErrorRate(c.text, texts[i]) * n;
    words += n;
  });
  return errors / words;
}

async function timeBatch(stt: PocketSphinxStt, clips: Clip[], iterations: number): Promise<{ rtf: number; texts: string[] }> {
  let texts: string[] = [];
  const started = performance.now();
  for (let i = 0; i < iterations; i++) {
    texts = [];
    for (const c of clips) texts.push((await stt.transcribe(c.audio)).text);
  }
  return { rtf: (performance.now() - started) / 1000 / (seconds(clips) * iterations), texts };
}

async function timeStream(stt: PocketSphinxStt, clips: Clip[]): Promise<number> {
  const started = performance.now();
  for (const c of clips) {
    const s = stt.stream();
    for (let i = 0; i < c.audio.samples.length; i += 320) s.push({ samples: c.audio.samples.subarray(i, i + 320), sampleRate: PIPELINE_RATE });
    await s.finish();
  }
  return (performance.now() - started) / 1000 / seconds(clips);
}

function timeInThread(clips: Clip[], iterations: number): number {
  const d = new PsDecoder({ ...POCKETSPHINX_DEFAULTS });
  try {
    d.start();
    d.process(clips[0].audio.samples, true);
    d.finish();
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      for (const c of clips) {
        d.start();
        d.process(c.audio.samples, true);
        d.finish();
      }
    }
    return (performance.now() - started) / 1000 / (seconds(clips) * iterations);
  } finally {
    d.free();
  }
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export default async function bench(ctx: { quick: boolean; print: (line: string) => void }): Promise<void> {
  const iterations = ctx.quick ? 1 : 3;
  const flite: Clip[] = [];
  for (const text of FLITE_SENTENCES.slice(0, ctx.quick ? 3 : FLITE_SENTENCES.length)) flite.push({ audio: await fliteSpeech(text), text });
  const phone: Clip[] = [];
  if (hasAsteriskPrompts()) {
    for (const name of asteriskPromptNames(ctx.quick ? 3 : 20)) {
      const p = await asteriskPrompt(name);
      phone.push({ audio: p.audio, text: p.transcript });
    }
  }

  const rssBefore = process.memoryUsage().rss;
  const stt = await createPocketSphinx({ poolSize: 2, streamFinal: 'live' });
  try {
    const rssOne = process.memoryUsage().rss;
    // Two requests at once make the pool start its second decoder.
    await Promise.all([stt.transcribe(flite[0].audio), stt.transcribe(flite[1].audio)]);
    const rssTwo = process.memoryUsage().rss;
    ctx.print(`memory: first decoder (thread + models) +${mb(rssOne - rssBefore)} RSS, second decoder +${mb(rssTwo - rssOne)} RSS`);

    const f = await timeBatch(stt, flite, iterations);
    ctx.print(
      `flite slt, ${flite.length} sentences (${seconds(flite).toFixed(1)} s): batch RTF ${f.rtf.toFixed(3)} (${(1 / f.rtf).toFixed(1)}× real time), WER ${(werOf(flite, f.texts) * 100).toFixed(1)} %`,
    );
    const inThread = timeInThread(flite, iterations);
    ctx.print(`  same decoder in-thread (no worker): RTF ${inThread.toFixed(3)}; worker overhead ${(((f.rtf - inThread) / inThread) * 100).toFixed(1)} %`);
    const live = await timeStream(stt, flite);
    ctx.print(`  streaming, 20 ms frames, live final: RTF ${live.toFixed(3)} (${(live / f.rtf).toFixed(2)}× batch); with the default rescored final add one batch pass`);

    let phoneRtf: number | undefined;
    if (phone.length > 0) {
      const p = await timeBatch(stt, phone, iterations);
      phoneRtf = p.rtf;
      ctx.print(
        `Asterisk 8 kHz prompts → 16 kHz, ${phone.length} prompts (${seconds(phone).toFixed(1)} s): batch RTF ${p.rtf.toFixed(3)}, WER ${(werOf(phone, p.texts) * 100).toFixed(1)} %`,
      );
    } else ctx.print('Asterisk prompts not installed: skipped');
    const verdict = (rtf: number | undefined): string => (rtf === undefined ? 'n/a' : rtf < 0.3 ? 'met' : 'NOT met');
    ctx.print(`target batch RTF < 0.3: flite ${verdict(f.rtf)}, telephone prompts ${verdict(phoneRtf)}`);
  } finally {
    await stt.close();
    cleanupSpeech();
  }
}
