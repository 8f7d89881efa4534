/**
 * Audio core cost per 20 ms frame: G.711 and slin codecs (against calling
 * alawmulaw sample by sample, the obvious alternative), and the streaming speex
 * resampler at quality 5 (the default) and 3, each as a share of real time.
 */
import alawmulaw from 'alawmulaw';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from '../src/audio/g711.js';
import { loadResampler, type Resampler } from '../src/audio/resample.js';
import { decodeSlinBe, decodeSlinLe, encodeSlinBe, encodeSlinLe } from '../src/audio/slin.js';
import { ASTERISK_HELLO } from '../src/audio/test-support.js';
import { decodeWav } from '../src/audio/wav.js';
import { readFileSync } from 'node:fs';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const FRAME_US = 20_000;

/** Mean µs per call after warm-up; the sink keeps the work from being optimised away. */
function measure(iterations: number, fn: (i: number) => number): number {
  let sink = 0;
  for (let i = 0; i < Math.min(2000, iterations); i++) sink += fn(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += fn(i);
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === 0.5) console.log('');
  return ns / 1000 / iterations;
}

function row(print: Ctx['print'], name: string, us: number, extra = ''): void {
  print(`| ${name.padEnd(34)} | ${us.toFixed(2).padStart(8)} | ${((us / FRAME_US) * 100).toFixed(4).padStart(8)} % | ${Math.round(FRAME_US / us).toLocaleString('en').padStart(10)}× |${extra}`);
}

/** Real speech at `rate`, cut into 20 ms frames cycled by the benchmarks. */
function speechFrames(rate: number, source: Int16Array): Int16Array[] {
  const size = rate / 50;
  const frames: Int16Array[] = [];
  // Speech is 8 kHz; for other rates repeat samples, which is enough to exercise the code path.
  const factor = rate / 8000;
  for (let f = 0; f < 64; f++) {
    const frame = new Int16Array(size);
    for (let i = 0; i < size; i++) frame[i] = source[Math.floor((f * size + i) / factor) % source.length];
    frames.push(frame);
  }
  return frames;
}

export default async function bench(ctx: Ctx): Promise<void> {
  const { print } = ctx;
  const codecIters = ctx.quick ? 50_000 : 500_000;
  const resampleIters = ctx.quick ? 10_000 : 100_000;
  const speech = decodeWav(readFileSync(ASTERISK_HELLO)).samples;

  print('| 20 ms frame | µs per frame | share of real time | × real time |');
  print('|---|---:|---:|---:|');

  const pcm8k = speechFrames(8000, speech);
  const mask = pcm8k.length - 1;
  const ulaw8k = pcm8k.map((f) => encodeMulaw(f));
  const alaw8k = pcm8k.map((f) => encodeAlaw(f));
  const slinLe = pcm8k.map((f) => encodeSlinLe(f));
  const slinBe = pcm8k.map((f) => encodeSlinBe(f));
  const outBytes = new Uint8Array(160);
  const outPcm = new Int16Array(160);

  const ulawEnc = measure(codecIters, (i) => encodeMulaw(pcm8k[i & mask])[0]);
  const ulawEncDirect = measure(codecIters, (i) => alawmulaw.mulaw.encode(pcm8k[i & mask])[0]);
  row(print, 'µ-law encode 8 kHz (table)', ulawEnc, ` alawmulaw.encode: ${ulawEncDirect.toFixed(2)} µs (${(ulawEncDirect / ulawEnc).toFixed(1)}× slower)`);
  row(print, 'µ-law encode into caller buffer', measure(codecIters, (i) => encodeMulaw(pcm8k[i & mask], outBytes)[0]));
  const ulawDec = measure(codecIters, (i) => decodeMulaw(ulaw8k[i & mask])[0]);
  const ulawDecDirect = measure(codecIters, (i) => alawmulaw.mulaw.decode(ulaw8k[i & mask])[0]);
  row(print, 'µ-law decode 8 kHz (table)', ulawDec, ` alawmulaw.decode: ${ulawDecDirect.toFixed(2)} µs (${(ulawDecDirect / ulawDec).toFixed(1)}× slower)`);
  row(print, 'A-law encode 8 kHz', measure(codecIters, (i) => encodeAlaw(pcm8k[i & mask])[0]));
  row(print, 'A-law decode 8 kHz', measure(codecIters, (i) => decodeAlaw(alaw8k[i & mask])[0]));
  row(print, 'A-law decode into caller buffer', measure(codecIters, (i) => decodeAlaw(alaw8k[i & mask], outPcm)[0]));
  row(print, 'slin LE decode 8 kHz', measure(codecIters, (i) => decodeSlinLe(slinLe[i & mask])[0]));
  row(print, 'slin LE encode 8 kHz', measure(codecIters, (i) => encodeSlinLe(pcm8k[i & mask])[0]));
  row(print, 'slin BE decode 8 kHz (RTP L16)', measure(codecIters, (i) => decodeSlinBe(slinBe[i & mask])[0]));
  row(print, 'slin BE encode 8 kHz', measure(codecIters, (i) => encodeSlinBe(pcm8k[i & mask])[0]));

  const factory = await loadResampler();
  const pairs: Array<[number, number]> = [
    [8000, 16000],
    [16000, 8000],
    [16000, 48000],
    [48000, 16000],
    [8000, 48000],
    [48000, 8000],
    [44100, 16000],
  ];
  for (const quality of [5, 3]) {
    for (const [from, to] of pairs) {
      const frames = speechFrames(from, speech);
      const r: Resampler = factory.create(from, to, { quality });
      const us = measure(resampleIters, (i) => r.process(frames[i & mask]).length);
      r.close();
      row(print, `resample ${from / 1000}→${to / 1000} kHz, quality ${quality}`, us);
    }
  }
  // The per-call cost that a one-shot resample adds on top of the streaming work.
  const frames16 = speechFrames(16000, speech);
  const oneShot = measure(Math.round(resampleIters / 5), (i) => {
    const r = factory.create(16000, 8000);
    const n = r.process(frames16[i & mask]).length + r.flush().length;
    r.close();
    return n;
  });
  row(print, 'create + process + flush + close 16→8', oneShot);
}
