/**
 * ElevenLabs' character alignment turned into word timings.
 *
 * The two transports spell it differently: HTTP `/with-timestamps` lines carry
 * `{characters, character_start_times_seconds, character_end_times_seconds}`, times
 * counted from the start of the request's audio; stream-input messages carry
 * `{chars, charStartTimesMs, charDurationsMs}` (the published schema also names
 * `char_start_times_ms` / `chars_durations_ms`; both are read), times counted from
 * the start of that message's audio, so the caller adds the audio received before it.
 *
 * A word is a run of non-space characters. It is reported once its last character
 * has been aligned and a space followed it or the whole known text has been aligned,
 * so a word split across two messages is reported once, whole. Its position in the
 * source text is found by searching forward from the previous word: alignment may
 * differ a little from the text sent (a leading space, normalisation), and a word that
 * cannot be found takes the position right after the previous one.
 */
import type { TtsWordTiming } from './types.js';

export interface CharTimings {
  chars: string[];
  /** Per character, ms; absolute once `offsetMs` is added. */
  startMs: number[];
  endMs: number[];
}

function numberList(v: unknown, name: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) throw new Error(`${name} is not a list of non-negative numbers`);
  return v as number[];
}

function charList(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${name} is not a list of strings`);
  return v as string[];
}

function sameLength(t: CharTimings): CharTimings {
  if (t.startMs.length !== t.chars.length || t.endMs.length !== t.chars.length) {
    throw new Error(`alignment lists differ in length (${t.chars.length} characters, ${t.startMs.length} starts, ${t.endMs.length} ends)`);
  }
  return t;
}

/** HTTP `alignment`: null or absent gives undefined; anything else malformed throws naming the field. */
export function parseHttpAlignment(raw: unknown): CharTimings | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw !== 'object') throw new Error('alignment is not an object');
  const a = raw as Record<string, unknown>;
  const chars = charList(a.characters, 'alignment.characters');
  const starts = numberList(a.character_start_times_seconds, 'alignment.character_start_times_seconds');
  const ends = numberList(a.character_end_times_seconds, 'alignment.character_end_times_seconds');
  return sameLength({ chars, startMs: starts.map((s) => s * 1000), endMs: ends.map((s) => s * 1000) });
}

/** stream-input `alignment`, relative to its message's audio. */
export function parseWsAlignment(raw: unknown): CharTimings | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw !== 'object') throw new Error('alignment is not an object');
  const a = raw as Record<string, unknown>;
  const chars = charList(a.chars, 'alignment.chars');
  const starts = numberList(a.charStartTimesMs ?? a.char_start_times_ms, 'alignment.charStartTimesMs');
  const durations = numberList(a.charDurationsMs ?? a.chars_durations_ms, 'alignment.charDurationsMs');
  return sameLength({ chars, startMs: starts, endMs: starts.map((s, i) => s + (durations[i] ?? 0)) });
}

/** How far ahead of the previous word a word may be found in the source text. */
const SEARCH_WINDOW = 64;

export class WordTracker {
  private cursor = 0;
  private partial: { text: string; startMs: number; endMs: number } | undefined;

  /** `source()` is the text sent so far (it grows on stream-input). */
  constructor(private readonly source: () => string) {}

  /** Words completed by these characters; `offsetMs` is added to their times. */
  add(t: CharTimings, offsetMs = 0): TtsWordTiming[] {
    const done: TtsWordTiming[] = [];
    for (let i = 0; i < t.chars.length; i++) {
      const c = t.chars[i];
      if (/^\s*$/u.test(c)) {
        if (this.partial) done.push(this.place(this.partial));
        this.partial = undefined;
        continue;
      }
      const startMs = t.startMs[i] + offsetMs;
      const endMs = Math.max(startMs, t.endMs[i] + offsetMs);
      if (this.partial) {
        this.partial.text += c;
        this.partial.endMs = Math.max(this.partial.endMs, endMs);
      } else {
        this.partial = { text: c, startMs, endMs };
      }
    }
    // The last word of the known text needs no following space to be whole.
    if (this.partial) {
      const src = this.source();
      const at = this.find(this.partial.text, src);
      if (at >= 0 && src.slice(at + this.partial.text.length).trim() === '') {
        done.push(this.place(this.partial));
        this.partial = undefined;
      }
    }
    return done;
  }

  /** The word still open when the audio ended. */
  finish(): TtsWordTiming[] {
    const p = this.partial;
    this.partial = undefined;
    return p ? [this.place(p)] : [];
  }

  private find(word: string, src: string): number {
    const at = src.indexOf(word, this.cursor);
    return at >= 0 && at - this.cursor <= SEARCH_WINDOW ? at : -1;
  }

  private place(p: { text: string; startMs: number; endMs: number }): TtsWordTiming {
    const src = this.source();
    const found = this.find(p.text, src);
    const charStart = found >= 0 ? found : Math.min(src.length, this.cursor + (this.cursor > 0 && src[this.cursor] === ' ' ? 1 : 0));
    const charEnd = Math.min(src.length, charStart + p.text.length);
    this.cursor = charEnd;
    return { word: p.text, charStart, charEnd, startMs: Math.round(p.startMs), endMs: Math.round(p.endMs) };
  }
}
