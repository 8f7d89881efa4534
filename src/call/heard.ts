/**
 * Mapping played audio back to text, for a bot sentence cut by a barge-in.
 *
 * The approximation: speech is spoken at an even pace in characters within
 * one sentence. The player synthesises a multi-sentence answer one sentence at
 * a time, so sentence boundaries in the audio are exact and only the position
 * inside the cut sentence is estimated: heard characters = sentence length ×
 * share of its audio played, rounded down to the last whole word. The leading
 * and trailing silence a TTS puts around a sentence makes the estimate lag a
 * little at the start and lead a little at the end.
 *
 * When the engine says when each word was spoken (ElevenLabs' alignment, as
 * TtsWordTiming), nothing is estimated: the words heard are those whose audio
 * had ended when playback stopped.
 */
import type { TtsWordTiming } from '../engines/tts/types.js';

/** Spans [start, end) of the sentences of `text`, split after . ! ? … ; : followed by a space. */
export function sentenceSpans(text: string): Array<{ start: number; end: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  const re = /[.!?…;:]+\s+/gu;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const end = m.index + m[0].trimEnd().length;
    if (text.slice(start, end).trim() !== '') spans.push({ start, end });
    start = m.index + m[0].length;
  }
  if (text.slice(start).trim() !== '') spans.push({ start, end: text.length });
  return spans;
}

/** The words of `text` fully contained in its first `chars` characters. */
export function wholeWordsWithin(text: string, chars: number): string {
  if (chars >= text.length) return text.trim();
  if (chars <= 0) return '';
  const head = text.slice(0, chars);
  // A word still going on at the cut point was not heard whole.
  const cutInWord = /\S/u.test(text[chars] ?? ' ') && /\S$/u.test(head);
  const kept = cutInWord ? head.replace(/\S+$/u, '') : head;
  return kept.trim();
}

/**
 * Characters of a sentence heard after `playedMs` of its `totalMs` of audio: up to the
 * end of the last word whose audio had ended when `words` (the engine's timings, offsets
 * into the sentence) are given, else the even-pace estimate.
 */
export function charsHeard(length: number, playedMs: number, totalMs: number, words?: readonly Pick<TtsWordTiming, 'charEnd' | 'endMs'>[]): number {
  if (words && words.length > 0) {
    let heard = 0;
    for (const w of words) if (w.endMs <= playedMs) heard = Math.max(heard, Math.min(w.charEnd, length));
    return heard;
  }
  if (totalMs <= 0) return 0;
  return Math.floor((length * Math.min(Math.max(playedMs, 0), totalMs)) / totalMs);
}
