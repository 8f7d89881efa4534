/**
 * `ari.welcome`: an Asterisk media URI (sound:…, recording:…) that Asterisk
 * plays through ARI, or `tts:<text>` that palabre speaks itself, in the call's
 * voice and language, over the media channel once it is bridged.
 */
import { Chunker } from '../../audio/chunker.js';
import { PIPELINE_RATE } from '../../audio/frame.js';
import type { CallIO } from '../../call/io.js';

export type Welcome = { kind: 'media'; media: string } | { kind: 'tts'; text: string };

/** undefined when there is nothing to play (empty, or `tts:` with no text). */
export function parseWelcome(setting: string): Welcome | undefined {
  const value = setting.trim();
  if (value === '') return undefined;
  const tts = /^tts:(.*)$/is.exec(value);
  if (!tts) return { kind: 'media', media: value };
  const text = tts[1].trim();
  return text === '' ? undefined : { kind: 'tts', text };
}

/** Queues PCM16 at the pipeline rate on the IO in 20 ms frames (the last padded with silence); returns its length in ms. */
export function writeSpeech(io: CallIO, samples: Int16Array): number {
  const chunker = new Chunker(PIPELINE_RATE);
  for (const frame of chunker.push(samples)) io.write(frame);
  const tail = chunker.flush(true);
  if (tail) io.write(tail);
  return Math.round((samples.length / PIPELINE_RATE) * 1000);
}
