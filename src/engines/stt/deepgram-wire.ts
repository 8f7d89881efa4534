/**
 * Deepgram's `/v1/listen` wire format (see ../shared/PROTOCOLS.md §4): the
 * query string both the live WebSocket and the pre-recorded REST call take,
 * the server messages of a live stream, and the REST response, each read
 * defensively so that a payload of the wrong shape becomes a clear error
 * instead of `undefined` deep in a call.
 */
import type { SttSegment, SttWord } from './types.js';

export type DeepgramEncoding = 'linear16' | 'mulaw';

export interface ListenQuery {
  model: string;
  language: string;
  smartFormat: boolean;
  /** Raw audio only; a WAV body names its own format. */
  encoding?: DeepgramEncoding;
  sampleRate?: number;
  /** Live only. */
  live?: {
    interimResults: boolean;
    /** Silence in ms that ends a segment (`speech_final`), or false for none. */
    endpointing: number | false;
    /** 0 leaves UtteranceEnd off. */
    utteranceEndMs: number;
    vadEvents: boolean;
  };
  /** keyterm on Nova-3, keywords on older models. */
  hints?: readonly string[];
  /** Deepgram's `tag`: labels its usage reports (a deployment name, a call id). */
  tags?: readonly string[];
}

/** Deepgram takes at most 100 keyterms (and 500 tokens in all). */
export const MAX_KEYTERMS = 100;

/** Keyterm prompting exists on Nova-3 only; older models take single-word `keywords`. */
export function takesKeyterms(model: string): boolean {
  return /^nova-3/.test(model);
}

/** The words and phrases sent as keyterms or keywords, deduplicated and capped. */
export function hintTerms(model: string, hints: readonly string[]): string[] {
  const clean = hints.map((h) => h.trim().replace(/\s+/g, ' ')).filter((h) => h !== '');
  // Older models' keywords are single words: phrases are split into theirs.
  const terms = takesKeyterms(model) ? clean : clean.flatMap((h) => h.split(' ')).filter((w) => /\p{L}/u.test(w));
  return [...new Set(terms)].slice(0, MAX_KEYTERMS);
}

export function listenQuery(q: ListenQuery): URLSearchParams {
  const p = new URLSearchParams();
  p.set('model', q.model);
  p.set('language', q.language);
  if (q.encoding) p.set('encoding', q.encoding);
  if (q.sampleRate !== undefined) p.set('sample_rate', String(q.sampleRate));
  if (q.encoding) p.set('channels', '1');
  if (q.smartFormat) p.set('smart_format', 'true');
  if (q.live) {
    p.set('interim_results', String(q.live.interimResults));
    p.set('endpointing', q.live.endpointing === false ? 'false' : String(q.live.endpointing));
    if (q.live.utteranceEndMs > 0) p.set('utterance_end_ms', String(q.live.utteranceEndMs));
    p.set('vad_events', String(q.live.vadEvents));
  }
  const key = takesKeyterms(q.model) ? 'keyterm' : 'keywords';
  for (const term of hintTerms(q.model, q.hints ?? [])) p.append(key, term);
  for (const tag of q.tags ?? []) p.append('tag', tag);
  return p;
}

// ---- server messages of a live stream ----

export interface WireWord {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word?: string;
}

export interface LiveResults {
  type: 'Results';
  channel_index: number[];
  start: number;
  duration: number;
  is_final: boolean;
  speech_final: boolean;
  from_finalize: boolean;
  transcript: string;
  confidence: number;
  words: WireWord[];
  requestId?: string;
}

export type LiveMessage =
  | LiveResults
  | { type: 'SpeechStarted'; timestamp: number }
  | { type: 'UtteranceEnd'; last_word_end: number }
  | { type: 'Metadata'; request_id: string; duration: number }
  | { type: 'Error'; description: string }
  | { type: 'other'; name: string };

/** Why a payload could not be read; the message names what was wrong. */
export class WireError extends Error {}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(o: Json, key: string, where: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new WireError(`${where}.${key} is not a number`);
  return v;
}

function words(raw: unknown, where: string): WireWord[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new WireError(`${where}.words is not a list`);
  return raw.map((w, i) => {
    const at = `${where}.words[${i}]`;
    if (!isObject(w) || typeof w.word !== 'string') throw new WireError(`${at}.word is not text`);
    const out: WireWord = { word: w.word, start: num(w, 'start', at), end: num(w, 'end', at), confidence: typeof w.confidence === 'number' ? w.confidence : 0 };
    if (typeof w.punctuated_word === 'string') out.punctuated_word = w.punctuated_word;
    return out;
  });
}

/** The first alternative of a channel: transcript, confidence, words. */
function firstAlternative(channel: unknown, where: string): { transcript: string; confidence: number; words: WireWord[] } {
  if (!isObject(channel) || !Array.isArray(channel.alternatives)) throw new WireError(`${where}.alternatives is missing`);
  const alt: unknown = channel.alternatives[0];
  if (alt === undefined) return { transcript: '', confidence: 0, words: [] };
  if (!isObject(alt) || typeof alt.transcript !== 'string') throw new WireError(`${where}.alternatives[0].transcript is not text`);
  return { transcript: alt.transcript, confidence: typeof alt.confidence === 'number' ? alt.confidence : 0, words: words(alt.words, `${where}.alternatives[0]`) };
}

/** One text frame of a live stream; throws WireError when it is not JSON or not shaped as Deepgram sends it. */
export function parseLiveMessage(text: string): LiveMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WireError(`a message is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (!isObject(raw) || typeof raw.type !== 'string') throw new WireError('a message has no "type"');
  switch (raw.type) {
    case 'Results': {
      const alt = firstAlternative(raw.channel, 'Results.channel');
      const metadata = isObject(raw.metadata) ? raw.metadata : {};
      return {
        type: 'Results',
        channel_index: Array.isArray(raw.channel_index) ? (raw.channel_index as number[]) : [0, 1],
        start: num(raw, 'start', 'Results'),
        duration: num(raw, 'duration', 'Results'),
        is_final: raw.is_final === true,
        speech_final: raw.speech_final === true,
        from_finalize: raw.from_finalize === true,
        ...alt,
        requestId: typeof metadata.request_id === 'string' ? metadata.request_id : undefined,
      };
    }
    case 'SpeechStarted':
      return { type: 'SpeechStarted', timestamp: typeof raw.timestamp === 'number' ? raw.timestamp : 0 };
    case 'UtteranceEnd':
      return { type: 'UtteranceEnd', last_word_end: typeof raw.last_word_end === 'number' ? raw.last_word_end : 0 };
    case 'Metadata':
      return { type: 'Metadata', request_id: typeof raw.request_id === 'string' ? raw.request_id : '', duration: typeof raw.duration === 'number' ? raw.duration : 0 };
    case 'Error': {
      const why = [raw.description, raw.message, raw.err_msg, raw.variant].find((v) => typeof v === 'string');
      return { type: 'Error', description: (why as string | undefined) ?? 'no description' };
    }
    default:
      return { type: 'other', name: raw.type };
  }
}

// ---- pre-recorded REST response ----

export interface RestTranscript {
  requestId: string;
  duration: number;
  transcript: string;
  confidence: number;
  words: WireWord[];
  detectedLanguage?: string;
}

export function parseRestResponse(text: string): RestTranscript {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WireError(`the response is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (!isObject(raw) || !isObject(raw.metadata) || !isObject(raw.results)) throw new WireError('the response has no metadata or results');
  const channels = raw.results.channels;
  if (!Array.isArray(channels) || channels.length === 0) throw new WireError('results.channels is empty');
  const alt = firstAlternative(channels[0], 'results.channels[0]');
  const channel = channels[0] as Json;
  return {
    requestId: typeof raw.metadata.request_id === 'string' ? raw.metadata.request_id : '',
    duration: num(raw.metadata, 'duration', 'metadata'),
    ...alt,
    detectedLanguage: typeof channel.detected_language === 'string' ? channel.detected_language : undefined,
  };
}

// ---- into palabre's result shape ----

export function toSttWords(wire: readonly WireWord[]): SttWord[] {
  return wire.map((w) => ({ word: w.punctuated_word ?? w.word, start: w.start, end: w.end, confidence: w.confidence }));
}

/** A segment for one stretch of finalised text, timed by its words when it has any. */
export function toSegment(id: number, text: string, start: number, end: number, confidence: number, wire: readonly WireWord[]): SttSegment {
  const ws = toSttWords(wire);
  return {
    id,
    start: ws.length > 0 ? ws[0].start : start,
    end: ws.length > 0 ? ws[ws.length - 1].end : end,
    text,
    confidence,
    words: ws,
  };
}
