/**
 * What the Deepgram fake checks before it accepts a request, and the bodies
 * it answers with, written from Deepgram's API reference (PROTOCOLS.md §4):
 * the `/v1/listen` query parameters with their allowed values, the
 * `Authorization: Token <key>` header (or the `token, <key>` subprotocol
 * browsers use), and the `{err_code, err_msg, request_id}` error body.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const MODELS = [
  'nova-3', 'nova-3-general', 'nova-3-medical',
  'nova-2', 'nova-2-general', 'nova-2-meeting', 'nova-2-phonecall', 'nova-2-finance', 'nova-2-conversationalai', 'nova-2-voicemail',
  'nova-2-video', 'nova-2-medical', 'nova-2-drivethru', 'nova-2-automotive', 'nova-2-atc',
  'nova', 'nova-general', 'nova-phonecall', 'enhanced', 'enhanced-general', 'enhanced-meeting', 'enhanced-phonecall', 'enhanced-finance',
  'base', 'base-general', 'base-meeting', 'base-phonecall', 'base-voicemail', 'base-finance', 'base-conversationalai', 'base-video',
  'whisper', 'whisper-tiny', 'whisper-base', 'whisper-small', 'whisper-medium', 'whisper-large',
] as const;

export const ENCODINGS = ['linear16', 'linear32', 'flac', 'alaw', 'mulaw', 'amr-nb', 'amr-wb', 'opus', 'ogg-opus', 'speex', 'g729'] as const;

const BOOLEANS = ['interim_results', 'punctuate', 'smart_format', 'vad_events', 'diarize', 'numerals', 'profanity_filter', 'multichannel', 'filler_words', 'dictation', 'measurements', 'paragraphs', 'utterances', 'detect_language', 'mip_opt_out'];
const LANGUAGE = /^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multi)$/;

/** The settings of one accepted request, as the fake uses them. */
export interface ListenParams {
  model: string;
  language: string;
  encoding?: string;
  sampleRate?: number;
  channels: number;
  interimResults: boolean;
  /** ms, or false when turned off. Deepgram's default is 10 ms. */
  endpointing: number | false;
  utteranceEndMs?: number;
  vadEvents: boolean;
  punctuate: boolean;
  keyterms: string[];
  keywords: string[];
}

export class BadParams extends Error {}

function bool(q: URLSearchParams, name: string): boolean {
  return q.get(name) === 'true';
}

function int(q: URLSearchParams, name: string, min: number): number | undefined {
  const raw = q.get(name);
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new BadParams(`Invalid query string: ${name} must be an integer of at least ${min}, got "${raw}"`);
  return Number(raw);
}

/** Checks `/v1/listen` parameters the way Deepgram does (values, not presence of unknown names: those it ignores). */
export function readListenParams(q: URLSearchParams, live: boolean): ListenParams {
  const model = q.get('model') ?? 'base';
  if (!(MODELS as readonly string[]).includes(model)) throw new BadParams(`No such model/language/tier combination found: model "${model}"`);
  const language = q.get('language') ?? 'en';
  if (!LANGUAGE.test(language)) throw new BadParams(`No such model/language/tier combination found: language "${language}"`);
  for (const name of BOOLEANS) {
    const v = q.get(name);
    if (v !== null && v !== 'true' && v !== 'false') throw new BadParams(`Invalid query string: ${name} must be true or false, got "${v}"`);
  }
  const encoding = q.get('encoding') ?? undefined;
  if (encoding !== undefined && !(ENCODINGS as readonly string[]).includes(encoding)) throw new BadParams(`Invalid query string: unknown encoding "${encoding}"`);
  const sampleRate = int(q, 'sample_rate', 1);
  if (encoding !== undefined && sampleRate === undefined) throw new BadParams('Invalid query string: sample_rate is required when encoding is set');
  const channels = int(q, 'channels', 1) ?? 1;
  const rawEndpointing = q.get('endpointing');
  let endpointing: number | false = 10;
  if (rawEndpointing === 'false') endpointing = false;
  else if (rawEndpointing !== null && rawEndpointing !== 'true') endpointing = int(q, 'endpointing', 0) as number;
  const utteranceEndMs = int(q, 'utterance_end_ms', 1);
  const keyterms = q.getAll('keyterm');
  const keywords = q.getAll('keywords');
  const nova3 = model.startsWith('nova-3');
  if (keyterms.length > 0 && !nova3) throw new BadParams('Keyterm Prompting is only available with Nova-3 models');
  if (keywords.length > 0 && nova3) throw new BadParams('Keywords are not supported with Nova-3 models; use keyterm instead');
  if (keyterms.length > 100) throw new BadParams(`Too many keyterms: ${keyterms.length} (at most 100)`);
  // Limits of the fake, not of Deepgram: live audio must be raw mono PCM or G.711.
  if (live && (encoding === undefined || !['linear16', 'mulaw', 'alaw'].includes(encoding))) throw new BadParams('this fake takes raw linear16, mulaw or alaw live audio only; set encoding and sample_rate');
  if (channels !== 1) throw new BadParams('this fake takes mono audio only (channels=1)');
  return {
    model,
    language,
    encoding,
    sampleRate,
    channels,
    interimResults: bool(q, 'interim_results'),
    endpointing,
    utteranceEndMs,
    vadEvents: bool(q, 'vad_events'),
    punctuate: bool(q, 'punctuate') || bool(q, 'smart_format'),
    keyterms,
    keywords,
  };
}

/** The API key a request carries, from the header (`Token <key>`) or the browser subprotocols (`token, <key>`). */
export function presentedKey(headers: IncomingHttpHeaders): { key?: string; via?: 'header' | 'subprotocol' } {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^token\s+(\S+)$/i.exec(auth.trim());
    return m ? { key: m[1], via: 'header' } : {};
  }
  const protocols = (headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  if (protocols[0]?.toLowerCase() === 'token' && protocols[1]) return { key: protocols[1], via: 'subprotocol' };
  return {};
}

export function errorBody(status: number, message?: string): { err_code: string; err_msg: string; request_id: string } {
  const request_id = randomUUID();
  switch (status) {
    case 401:
      return { err_code: 'INVALID_AUTH', err_msg: message ?? 'Invalid credentials.', request_id };
    case 403:
      return { err_code: 'INSUFFICIENT_PERMISSIONS', err_msg: message ?? 'User does not have sufficient permissions.', request_id };
    case 429:
      return { err_code: 'TOO_MANY_REQUESTS', err_msg: message ?? 'Too many requests. Please try again later', request_id };
    case 400:
      return { err_code: 'Bad Request', err_msg: message ?? 'Bad Request', request_id };
    default:
      return { err_code: status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'ERROR', err_msg: message ?? 'Internal server error', request_id };
  }
}

export const MODEL_UUID = '40bd3654-e622-47c4-a111-63a61b23bc2f';

export function modelInfo(model: string): { name: string; version: string; arch: string } {
  const arch = model.replace(/-(general|phonecall|meeting|medical|finance|conversationalai|voicemail|video|drivethru|automotive|atc)$/, '');
  return { name: `general-${arch}`, version: '2025-01-01.0', arch };
}

export interface Word {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word?: string;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Words as Deepgram lists them, with `punctuated_word` (capital first, stop at the end) when punctuation was asked for. */
export function wireWords(words: ReadonlyArray<{ word: string; start: number; end: number; confidence?: number }>, offset: number, punctuate: boolean): Word[] {
  return words.map((w, i) => {
    const out: Word = { word: w.word.toLowerCase(), start: round(offset + w.start), end: round(offset + w.end), confidence: round(w.confidence ?? 0.9) };
    if (punctuate) {
      let p = i === 0 ? w.word.charAt(0).toUpperCase() + w.word.slice(1) : w.word;
      if (i === words.length - 1) p += '.';
      out.punctuated_word = p;
    }
    return out;
  });
}

export function transcriptOf(words: readonly Word[], punctuate: boolean): string {
  return words.map((w) => (punctuate ? (w.punctuated_word ?? w.word) : w.word)).join(' ');
}

/** `text` spread evenly over [start, end]: how scripted answers get word timings. */
export function spreadWords(text: string, start: number, end: number): Array<{ word: string; start: number; end: number; confidence: number }> {
  const ws = text.split(/\s+/).filter(Boolean);
  const step = ws.length > 0 ? Math.max(0, end - start) / ws.length : 0;
  return ws.map((word, i) => ({ word, start: start + i * step, end: start + (i + 1) * step, confidence: 0.99 }));
}
