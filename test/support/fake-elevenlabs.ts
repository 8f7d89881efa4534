/**
 * A local stand-in for ElevenLabs' text-to-speech API, on loopback, speaking its wire
 * protocol (checked against the official client in test/fake-elevenlabs.test.ts):
 *
 * - `POST /v1/text-to-speech/{voice_id}[/stream][/with-timestamps]?output_format=…`
 *   with the `xi-api-key` header and a JSON body (`text`, `model_id`, `language_code`,
 *   `voice_settings`, `previous_text`…): raw audio streamed in chunks, or (with
 *   timestamps) newline-delimited JSON `{audio_base64, alignment, normalized_alignment}`
 *   with `{characters, character_start_times_seconds, character_end_times_seconds}`
 *   counted from the start of the request's audio.
 * - `GET /v1/text-to-speech/{voice_id}/stream-input?model_id=…&output_format=…` upgraded
 *   to a WebSocket: an opening `{"text":" "}` (voice settings, generation config, the key
 *   as `xi-api-key` when not in the header), text pieces buffered until the chunk
 *   schedule, `flush` or `try_trigger_generation` releases them, `{"text":""}` to end;
 *   answers `{audio, alignment, normalizedAlignment}` (`chars`, `charStartTimesMs`,
 *   `charDurationsMs`, relative to each message's audio) then `{"isFinal":true}`.
 * - Errors as ElevenLabs shapes them: `{detail: {status, message}}` for 400/401/429/5xx,
 *   FastAPI's `{detail: [{type, loc, msg, input}]}` for 422; WebSocket refusals close
 *   with 1008 and a reason.
 *
 * The audio is real speech: each sentence is spoken by flite (English voices) or espeak-ng
 * (French), resampled and encoded into the asked format with src/audio. Alignment is
 * computed per sentence: the sentence's characters are spread over its voiced span (from
 * the first to the last 10 ms frame within 35 dB of its loudest), letters weighing 1,
 * spaces 0.5 and punctuation 0.25; spaces between sentences sit at the boundary. It is
 * therefore accurate at sentence edges and approximate inside a sentence. Rendered
 * sentences are kept (up to 1000), so repeated prompts are answered at network speed.
 *
 * Not like the real service: only pcm_*, ulaw_8000 and alaw_8000 can be rendered (mp3
 * and opus, valid names, are refused with a 400 saying so), and voices are a fixed table.
 * Faults are queued per request with next(): an error status, a slow first byte, slow
 * chunks, a connection dropped after n chunks, a malformed chunk after n chunks.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AudioChunk } from '../../src/audio/frame.js';
import { encodeG711 } from '../../src/audio/g711.js';
import { loadResampler, resampleWith, type ResamplerFactory } from '../../src/audio/resample.js';
import { encodeSlinLe } from '../../src/audio/slin.js';
import { createTts } from '../../src/engines/tts/index.js';
import { splitSentences } from '../../src/engines/tts/text.js';
import type { Tts } from '../../src/engines/tts/types.js';

/** Every output_format name the API accepts (the official client's enum). */
export const ALL_OUTPUT_FORMATS = [
  'mp3_22050_32', 'mp3_24000_48', 'mp3_44100_32', 'mp3_44100_64', 'mp3_44100_96', 'mp3_44100_128', 'mp3_44100_192',
  'pcm_8000', 'pcm_16000', 'pcm_22050', 'pcm_24000', 'pcm_32000', 'pcm_44100', 'pcm_48000',
  'ulaw_8000', 'alaw_8000',
  'opus_48000_32', 'opus_48000_64', 'opus_48000_96', 'opus_48000_128', 'opus_48000_192',
] as const;

export const FAKE_MODELS = ['eleven_flash_v2_5', 'eleven_flash_v2', 'eleven_turbo_v2_5', 'eleven_turbo_v2', 'eleven_multilingual_v2', 'eleven_v3'];

export interface FakeVoice {
  engine: 'flite' | 'espeak';
  voice: string;
  language: string;
}

/** Voice ids the fake knows (the first two are ElevenLabs' public premade voice ids). */
export const FAKE_VOICES: Readonly<Record<string, FakeVoice>> = {
  EXAVITQu4vr4xnSDxMaL: { engine: 'flite', voice: 'slt', language: 'en' },
  JBFqnCBsd6RMkjVDRZzb: { engine: 'flite', voice: 'kal16', language: 'en' },
  frVoiceEspeakFr00001: { engine: 'espeak', voice: 'fr', language: 'fr' },
};
export const FAKE_EN_VOICE = 'EXAVITQu4vr4xnSDxMaL';
export const FAKE_FR_VOICE = 'frVoiceEspeakFr00001';

export interface FakeFault {
  /** Answer with this status and ElevenLabs' error body (WebSocket: close 1008, or 1011 for 5xx). */
  status?: number;
  /** Wait before the first audio. */
  firstByteDelayMs?: number;
  /** Wait before every audio chunk. */
  chunkDelayMs?: number;
  /** Drop the connection after this many audio chunks. */
  cutAfterChunks?: number;
  /** Send a broken chunk after this many audio chunks, then end. */
  malformedAfterChunks?: number;
}

export interface FakeRequest {
  transport: 'http' | 'websocket';
  endpoint: 'convert' | 'convert-with-timestamps' | 'stream' | 'stream-with-timestamps' | 'stream-input';
  voiceId: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The JSON body (HTTP). */
  body?: Record<string, unknown>;
  /** Client messages as parsed (WebSocket). */
  messages: unknown[];
  /** Audio chunks sent. */
  chunks: number;
  /** How the request ended: 'ok', or the error status / close code sent. */
  outcome?: string | number;
}

export interface FakeElevenLabs {
  /** http://127.0.0.1:<port>, what the client's baseUrl takes. */
  baseUrl: string;
  apiKey: string;
  requests: FakeRequest[];
  /** Faults for the next requests, one each, in order. */
  next(...faults: FakeFault[]): void;
  close(): Promise<void>;
}

interface Format {
  encoding: 'pcm16' | 'ulaw' | 'alaw';
  sampleRate: number;
  bytesPerSample: number;
}

/** Per-character times in seconds, absolute within one request's audio. */
interface Timing {
  chars: string[];
  starts: number[];
  ends: number[];
}

/** One sentence (or inter-sentence gap) rendered: its bytes and where its characters fall. */
interface Segment {
  bytes: Uint8Array;
  timing: Timing;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const INACTIVITY_MESSAGE = (s: number) =>
  `Have not received a new text input within the timeout of ${s} seconds. Streaming input terminated. Please make sure to either feed the input in the timely manner, or to send the end of input text (empty string "") when done.`;

function formatOf(name: string): Format | undefined {
  const m = /^(pcm|ulaw|alaw)_(\d+)$/u.exec(name);
  if (!m) return undefined;
  const encoding = m[1] === 'pcm' ? 'pcm16' : (m[1] as 'ulaw' | 'alaw');
  return { encoding, sampleRate: Number(m[2]), bytesPerSample: encoding === 'pcm16' ? 2 : 1 };
}

function weight(c: string): number {
  if (/\s/u.test(c)) return 0.5;
  if (/[\p{L}\p{N}]/u.test(c)) return 1;
  return 0.25;
}

/** The voiced span of a sentence's audio, in seconds: first to last 10 ms frame within 35 dB of the loudest. */
function voicedSpan(chunk: AudioChunk): [number, number] {
  const n = Math.max(1, Math.round(chunk.sampleRate / 100));
  const levels: number[] = [];
  for (let at = 0; at < chunk.samples.length; at += n) {
    let sum = 0;
    const end = Math.min(chunk.samples.length, at + n);
    for (let i = at; i < end; i++) sum += chunk.samples[i] * chunk.samples[i];
    levels.push(10 * Math.log10(sum / Math.max(1, end - at) + 1e-9));
  }
  const loudest = Math.max(...levels);
  const threshold = Math.max(loudest - 35, 10 * Math.log10(32768 * 32768) - 60);
  const first = levels.findIndex((l) => l >= threshold);
  let last = levels.length - 1;
  while (last > first && levels[last] < threshold) last--;
  const total = chunk.samples.length / chunk.sampleRate;
  if (first < 0) return [0, total];
  return [(first * n) / chunk.sampleRate, Math.min(total, ((last + 1) * n) / chunk.sampleRate)];
}

function spread(text: string, from: number, to: number): Timing {
  const chars = [...text];
  const weights = chars.map(weight);
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  const starts: number[] = [];
  const ends: number[] = [];
  let acc = 0;
  for (const w of weights) {
    starts.push(from + ((to - from) * acc) / total);
    acc += w;
    ends.push(from + ((to - from) * acc) / total);
  }
  return { chars, starts, ends };
}

const round3 = (s: number) => Math.round(s * 1000) / 1000;

/** Sentences rendered before, so a benchmark's fake answers as fast as the network allows. */
const SENTENCE_CACHE_MAX = 1000;

class Speaker {
  private readonly engines = new Map<string, Promise<Tts>>();
  private readonly rendered = new Map<string, { bytes: Uint8Array; voiced: [number, number] }>();
  private resampler: Promise<ResamplerFactory> | undefined;

  private engine(name: 'flite' | 'espeak'): Promise<Tts> {
    let e = this.engines.get(name);
    if (!e) {
      e = name === 'flite' ? createTts('flite') : createTts('espeak', { warmUp: false });
      this.engines.set(name, e);
    }
    return e;
  }

  private encode(chunk: AudioChunk, format: Format, factory: ResamplerFactory): Uint8Array {
    const pcm = resampleWith(factory, chunk, format.sampleRate).samples;
    return format.encoding === 'pcm16' ? encodeSlinLe(pcm) : encodeG711(format.encoding, pcm);
  }

  /**
   * The text spoken sentence by sentence, as segments with absolute character times from
   * `offsetSec`. Every character of `text` is in exactly one segment's timing.
   */
  async *render(text: string, voice: FakeVoice, format: Format, offsetSec = 0): AsyncGenerator<Segment> {
    const tts = await this.engine(voice.engine);
    const factory = await (this.resampler ??= loadResampler());
    let at = offsetSec;
    let pos = 0;
    const sentences = splitSentences(text);
    for (const [index, sentence] of sentences.entries()) {
      const start = text.indexOf(sentence, pos);
      const gap = text.slice(pos, start);
      const key = JSON.stringify([voice.engine, voice.voice, format.encoding, format.sampleRate, sentence]);
      let done = this.rendered.get(key);
      if (!done) {
        const parts: Int16Array[] = [];
        let rate = tts.sampleRate;
        for await (const c of tts.synthesize(sentence, { voice: voice.voice, language: voice.language })) {
          parts.push(c.samples);
          rate = c.sampleRate;
        }
        const samples = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          samples.set(p, o);
          o += p.length;
        }
        const chunk = { samples, sampleRate: rate };
        done = { bytes: this.encode(chunk, format, factory), voiced: voicedSpan(chunk) };
        if (this.rendered.size >= SENTENCE_CACHE_MAX) this.rendered.delete(this.rendered.keys().next().value as string);
        this.rendered.set(key, done);
      }
      const [v0, v1] = done.voiced;
      const inner = spread(sentence, at + v0, at + v1);
      const gapChars = [...gap];
      // Spaces after the last sentence are sent with it, at its end.
      const tail = index === sentences.length - 1 ? [...text.slice(start + sentence.length)] : [];
      const timing: Timing = {
        chars: [...gapChars, ...inner.chars, ...tail],
        starts: [...gapChars.map(() => at), ...inner.starts, ...tail.map(() => at + v1)],
        ends: [...gapChars.map(() => at), ...inner.ends, ...tail.map(() => at + v1)],
      };
      const bytes = done.bytes;
      at += bytes.length / format.bytesPerSample / format.sampleRate;
      pos = start + sentence.length;
      yield { bytes, timing };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.engines.values()].map(async (e) => (await e.catch(() => undefined))?.close()));
  }
}

/** Pieces of `segment` of about `chunkMs` each, with the characters whose start falls in each. */
function* slices(segment: Segment, format: Format, chunkMs: number, startSec: number): Generator<{ bytes: Uint8Array; timing: Timing }> {
  const step = Math.max(1, Math.round((format.sampleRate * chunkMs) / 1000)) * format.bytesPerSample;
  const t = segment.timing;
  let ci = 0;
  const count = Math.max(1, Math.ceil(segment.bytes.length / step));
  for (let k = 0; k < count; k++) {
    const bytes = segment.bytes.subarray(k * step, Math.min(segment.bytes.length, (k + 1) * step));
    const endSec = startSec + ((k + 1) * step) / format.bytesPerSample / format.sampleRate;
    const part: Timing = { chars: [], starts: [], ends: [] };
    // The last piece takes whatever is left, so every character is sent with its sentence.
    while (ci < t.chars.length && (t.starts[ci] < endSec || k === count - 1)) {
      part.chars.push(t.chars[ci]);
      part.starts.push(t.starts[ci]);
      part.ends.push(t.ends[ci]);
      ci++;
    }
    yield { bytes, timing: part };
  }
}

function errorBody(status: number): { detail: unknown } {
  switch (status) {
    case 401:
      return { detail: { status: 'invalid_api_key', message: 'Invalid API key' } };
    case 422:
      return { detail: [{ type: 'less_than_equal', loc: ['body', 'voice_settings', 'speed'], msg: 'Input should be less than or equal to 1.2', input: 3 }] };
    case 429:
      return {
        detail: {
          status: 'too_many_concurrent_requests',
          message: 'Too many concurrent requests. Your current subscription is associated with a maximum of 2 concurrent requests (running in parallel).',
        },
      };
    default:
      return status >= 500
        ? { detail: { status: 'internal_server_error', message: 'We are sorry, something went wrong. You are not charged for this request.' } }
        : { detail: { status: 'bad_request', message: 'The request was refused.' } };
  }
}

function validation(loc: Array<string | number>, type: string, msg: string, input: unknown): { detail: unknown } {
  return { detail: [{ type, loc, msg, input }] };
}

/** The problem with voice settings, as a FastAPI validation body, or undefined. */
function checkVoiceSettings(vs: unknown, where: string[]): { detail: unknown } | undefined {
  if (vs === undefined || vs === null) return undefined;
  if (typeof vs !== 'object' || Array.isArray(vs)) return validation(where, 'model_attributes_type', 'Input should be a valid dictionary or object to extract fields from', vs);
  const v = vs as Record<string, unknown>;
  const ranges: Record<string, [number, number]> = { stability: [0, 1], similarity_boost: [0, 1], style: [0, 1], speed: [0.7, 1.2] };
  for (const [k, [lo, hi]] of Object.entries(ranges)) {
    const x = v[k];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'number') return validation([...where, k], 'float_type', 'Input should be a valid number', x);
    if (x < lo) return validation([...where, k], 'greater_than_equal', `Input should be greater than or equal to ${lo}`, x);
    if (x > hi) return validation([...where, k], 'less_than_equal', `Input should be less than or equal to ${hi}`, x);
  }
  if (v.use_speaker_boost !== undefined && v.use_speaker_boost !== null && typeof v.use_speaker_boost !== 'boolean') {
    return validation([...where, 'use_speaker_boost'], 'bool_type', 'Input should be a valid boolean', v.use_speaker_boost);
  }
  return undefined;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export async function startFakeElevenLabs(options: { apiKey?: string; chunkMs?: number } = {}): Promise<FakeElevenLabs> {
  const apiKey = options.apiKey ?? 'sk_fake_elevenlabs_key_0123456789';
  const chunkMs = options.chunkMs ?? 120;
  const requests: FakeRequest[] = [];
  const faults: FakeFault[] = [];
  const speaker = new Speaker();
  const sockets = new Set<WebSocket>();
  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  const wss = new WebSocketServer({ noServer: true });

  function send(res: ServerResponse, status: number, body: unknown): void {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    // `GET /v1/voices/{voice_id}`: what a health check asks (no audio, no characters spent).
    const v = /^\/v1\/voices\/([^/]+)$/u.exec(url.pathname);
    if (v && req.method === 'GET') {
      if (req.headers['xi-api-key'] !== apiKey) return send(res, 401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
      const id = decodeURIComponent(v[1]);
      const known = FAKE_VOICES[id];
      if (!known) return send(res, 404, { detail: { status: 'voice_not_found', message: `A voice with the voice_id ${id} was not found.` } });
      return send(res, 200, { voice_id: id, name: `${known.engine} ${known.voice}`, category: 'premade', labels: { language: known.language } });
    }
    const m = /^\/v1\/text-to-speech\/([^/]+)(\/stream)?(\/with-timestamps)?$/u.exec(url.pathname);
    if (!m) return send(res, 404, { detail: 'Not Found' });
    if (req.method !== 'POST') return send(res, 405, { detail: 'Method Not Allowed' });
    const voiceId = decodeURIComponent(m[1]);
    const streaming = m[2] !== undefined;
    const timestamps = m[3] !== undefined;
    const record: FakeRequest = {
      transport: 'http',
      endpoint: `${streaming ? 'stream' : 'convert'}${timestamps ? '-with-timestamps' : ''}` as FakeRequest['endpoint'],
      voiceId,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      messages: [],
      chunks: 0,
    };
    requests.push(record);
    // A client that goes away (cancelled, timed out) is seen here.
    res.on('close', () => {
      if (!res.writableFinished) record.outcome ??= 'client-closed';
    });
    const fault = faults.shift() ?? {};
    const fail = (status: number, body: unknown) => {
      record.outcome = status;
      send(res, status, body);
    };

    const key = req.headers['xi-api-key'];
    if (key === undefined) return fail(401, { detail: { status: 'needs_authorization', message: 'Neither authorization header nor xi-api-key received, please provide one.' } });
    if (key !== apiKey) return fail(401, errorBody(401));
    const formatName = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    if (!(ALL_OUTPUT_FORMATS as readonly string[]).includes(formatName)) {
      return fail(422, validation(['query', 'output_format'], 'enum', `Input should be ${ALL_OUTPUT_FORMATS.map((f) => `'${f}'`).join(', ')}`, formatName));
    }
    const osl = url.searchParams.get('optimize_streaming_latency');
    if (osl !== null && !/^[0-4]$/u.test(osl)) return fail(422, validation(['query', 'optimize_streaming_latency'], 'int_parsing', 'Input should be a valid integer between 0 and 4', osl));
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(parts).toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fail(422, validation(['body'], 'json_invalid', 'JSON decode error', Buffer.concat(parts).toString('utf8').slice(0, 100)));
    }
    record.body = body;
    if (body.text === undefined) return fail(422, validation(['body', 'text'], 'missing', 'Field required', body));
    if (typeof body.text !== 'string') return fail(422, validation(['body', 'text'], 'string_type', 'Input should be a valid string', body.text));
    if (body.text.trim() === '') return fail(400, { detail: { status: 'empty_text', message: 'The text is empty.' } });
    const vsProblem = checkVoiceSettings(body.voice_settings, ['body', 'voice_settings']);
    if (vsProblem) return fail(422, vsProblem);
    if (body.model_id !== undefined && !FAKE_MODELS.includes(String(body.model_id))) {
      return fail(400, { detail: { status: 'model_not_found', message: `An invalid ID has been received: '${String(body.model_id)}'. Make sure to provide a correct one.` } });
    }
    const voice = FAKE_VOICES[voiceId];
    if (!voice) return fail(400, { detail: { status: 'voice_not_found', message: `A voice with the voice_id ${voiceId} was not found.` } });
    const format = formatOf(formatName);
    if (!format) return fail(400, { detail: { status: 'unsupported_by_fake', message: `this fake renders only pcm_*, ulaw_8000 and alaw_8000, not ${formatName}` } });
    if (fault.status !== undefined) return fail(fault.status, errorBody(fault.status));

    const text = body.text.replace(/\s+/gu, ' ').trim();
    if (fault.firstByteDelayMs) await sleep(fault.firstByteDelayMs);
    if (res.destroyed) return;
    const contentType = timestamps ? 'application/json' : format.encoding === 'pcm16' ? 'audio/pcm' : 'audio/basic';
    res.writeHead(200, { 'content-type': contentType, 'request-id': `fake-${requests.length}` });
    const all: Timing = { chars: [], starts: [], ends: [] };
    const allBytes: Uint8Array[] = [];
    let at = 0;
    for await (const seg of speaker.render(text, voice, format)) {
      for (const piece of slices(seg, format, chunkMs, at)) {
        if (res.destroyed) return;
        if (fault.cutAfterChunks !== undefined && record.chunks >= fault.cutAfterChunks) {
          record.outcome = 'cut';
          await sleep(30);
          res.destroy();
          return;
        }
        if (fault.malformedAfterChunks !== undefined && record.chunks >= fault.malformedAfterChunks) {
          record.outcome = 'malformed';
          res.end(timestamps ? '{"audio_base64": "AAAA", "alignment": {"characters": ["a"],\n' : '');
          return;
        }
        if (fault.chunkDelayMs) await sleep(fault.chunkDelayMs);
        if (!streaming) {
          allBytes.push(piece.bytes);
          all.chars.push(...piece.timing.chars);
          all.starts.push(...piece.timing.starts);
          all.ends.push(...piece.timing.ends);
          continue;
        }
        if (timestamps) {
          const alignment = piece.timing.chars.length
            ? { characters: piece.timing.chars, character_start_times_seconds: piece.timing.starts.map(round3), character_end_times_seconds: piece.timing.ends.map(round3) }
            : null;
          res.write(`${JSON.stringify({ audio_base64: b64(piece.bytes), alignment, normalized_alignment: alignment })}\n`);
        } else if (piece.bytes.length > 0) {
          // Split at an odd byte so a client must carry half samples over.
          const cut = Math.min(piece.bytes.length, 1 + 2 * Math.floor(piece.bytes.length / 4));
          res.write(piece.bytes.subarray(0, cut));
          if (cut < piece.bytes.length) res.write(piece.bytes.subarray(cut));
        }
        if (piece.bytes.length > 0) record.chunks++;
      }
      at += seg.bytes.length / format.bytesPerSample / format.sampleRate;
    }
    if (!streaming) {
      const bytes = Buffer.concat(allBytes);
      if (timestamps) {
        const alignment = { characters: all.chars, character_start_times_seconds: all.starts.map(round3), character_end_times_seconds: all.ends.map(round3) };
        res.end(JSON.stringify({ audio_base64: bytes.toString('base64'), alignment, normalized_alignment: alignment }));
      } else {
        res.end(bytes);
      }
    } else {
      res.end();
    }
    record.outcome = 'ok';
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const m = /^\/v1\/text-to-speech\/([^/]+)\/stream-input$/u.exec(url.pathname);
    if (!m) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"detail":"Not Found"}');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      streamInputSession(ws, req, decodeURIComponent(m[1]), url);
    });
  });

  function streamInputSession(ws: WebSocket, req: IncomingMessage, voiceId: string, url: URL): void {
    const record: FakeRequest = { transport: 'websocket', endpoint: 'stream-input', voiceId, query: Object.fromEntries(url.searchParams), headers: req.headers, messages: [], chunks: 0 };
    requests.push(record);
    const fault = faults.shift() ?? {};
    let closed = false;
    const refuse = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      record.outcome = code;
      ws.close(code, reason);
    };
    const formatName = url.searchParams.get('output_format') ?? 'mp3_44100_128';
    const inactivity = Number(url.searchParams.get('inactivity_timeout') ?? '20');
    const voice = FAKE_VOICES[voiceId];
    const format = formatOf(formatName);
    const schedule = { list: [120, 160, 250, 290], index: 0 };
    let authorised = req.headers['xi-api-key'] === apiKey;
    let opened = false;
    let buffer = '';
    let audioOffset = 0;
    let chain = Promise.resolve();
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(() => refuse(1008, INACTIVITY_MESSAGE(inactivity)), inactivity * 1000);
    };
    ws.on('close', () => {
      if (!closed) record.outcome ??= 'client-closed';
      closed = true;
      clearTimeout(idle);
    });

    if (!(ALL_OUTPUT_FORMATS as readonly string[]).includes(formatName)) return refuse(1008, `Invalid output format: ${formatName}`);
    if (!Number.isFinite(inactivity) || inactivity < 1 || inactivity > 180) return refuse(1008, 'inactivity_timeout must be between 1 and 180 seconds');
    if (url.searchParams.has('model_id') && !FAKE_MODELS.includes(url.searchParams.get('model_id') ?? '')) return refuse(1008, `An invalid ID has been received: '${url.searchParams.get('model_id')}'. Make sure to provide a correct one.`);
    if (!voice) return refuse(1008, `A voice with the voice_id ${voiceId} was not found.`);
    if (!format) return refuse(1008, `this fake renders only pcm_*, ulaw_8000 and alaw_8000, not ${formatName}`);
    if (req.headers['xi-api-key'] !== undefined && !authorised) return refuse(1008, 'Invalid API key');
    touch();

    const generate = (text: string): void => {
      if (text.trim() === '') return;
      chain = chain.then(async () => {
        if (closed || !voice || !format) return;
        for await (const seg of speaker.render(text, voice, format, audioOffset)) {
          for (const piece of slices(seg, format, chunkMs, audioOffset)) {
            if (closed) return;
            if (record.chunks === 0 && fault.firstByteDelayMs) await sleep(fault.firstByteDelayMs);
            if (fault.chunkDelayMs) await sleep(fault.chunkDelayMs);
            if (fault.cutAfterChunks !== undefined && record.chunks >= fault.cutAfterChunks) {
              closed = true;
              record.outcome = 'cut';
              ws.terminate();
              return;
            }
            if (fault.malformedAfterChunks !== undefined && record.chunks >= fault.malformedAfterChunks) {
              record.outcome = 'malformed';
              ws.send('{"audio": "AAAA", "alignment": ');
              return;
            }
            const msgStart = audioOffset;
            audioOffset += piece.bytes.length / format.bytesPerSample / format.sampleRate;
            // Trailing spaces have no audio of their own: nothing to send.
            if (piece.bytes.length === 0) continue;
            const ms = (s: number) => Math.round((s - msgStart) * 1000);
            const alignment = {
              chars: piece.timing.chars,
              charStartTimesMs: piece.timing.starts.map((s) => Math.max(0, ms(s))),
              charDurationsMs: piece.timing.ends.map((e, i) => Math.max(0, Math.round((e - piece.timing.starts[i]) * 1000))),
            };
            ws.send(JSON.stringify({ audio: b64(piece.bytes), normalizedAlignment: alignment, alignment }));
            if (piece.bytes.length > 0) record.chunks++;
          }
        }
      });
    };
    const release = (all: boolean): void => {
      // Generate at a word boundary; the rest waits for more text.
      const cut = all ? buffer.length : buffer.lastIndexOf(' ') + 1;
      if (cut <= 0) return;
      const text = buffer.slice(0, cut);
      buffer = buffer.slice(cut);
      schedule.index++;
      generate(text);
    };

    ws.on('message', (data, isBinary) => {
      if (closed) return;
      touch();
      let msg: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(isBinary ? '' : data.toString());
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        msg = parsed as Record<string, unknown>;
      } catch {
        return refuse(1008, 'Invalid message: expected a JSON object');
      }
      record.messages.push(msg);
      if (typeof msg.text !== 'string') return refuse(1008, "Invalid message: field 'text' is required");
      if (!opened) {
        opened = true;
        if (!authorised) {
          if (msg['xi-api-key'] === undefined) return refuse(1008, 'Neither authorization header nor xi-api-key received, please provide one.');
          if (msg['xi-api-key'] !== apiKey) return refuse(1008, 'Invalid API key');
          authorised = true;
        }
        if (msg.text !== ' ') return refuse(1008, 'The first message must have the text " " (a single space)');
        const problem = checkVoiceSettings(msg.voice_settings, ['voice_settings']);
        if (problem) return refuse(1008, `Invalid voice_settings: ${JSON.stringify(problem.detail)}`);
        const gc = msg.generation_config as { chunk_length_schedule?: unknown } | undefined;
        if (gc?.chunk_length_schedule !== undefined) {
          const s = gc.chunk_length_schedule;
          if (!Array.isArray(s) || !s.every((n) => typeof n === 'number' && n >= 50 && n <= 500)) return refuse(1008, 'chunk_length_schedule values must be between 50 and 500');
          if (s.length > 0) schedule.list = s as number[];
        }
        if (fault.status !== undefined) return refuse(fault.status >= 500 ? 1011 : 1008, fault.status === 401 ? 'Invalid API key' : fault.status === 429 ? 'Too many concurrent requests' : 'We are sorry, something went wrong.');
        return;
      }
      if (msg.text === '') {
        release(true);
        chain = chain.then(() => {
          if (closed) return;
          closed = true;
          record.outcome = 'ok';
          ws.send(JSON.stringify({ isFinal: true }), () => ws.close(1000));
        });
        return;
      }
      buffer += msg.text;
      const threshold = schedule.list[Math.min(schedule.index, schedule.list.length - 1)];
      if (msg.flush === true) release(true);
      else if (msg.try_trigger_generation === true && buffer.length >= 50) release(false);
      else if (buffer.length >= threshold) release(false);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    next: (...f) => faults.push(...f),
    close: async () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await speaker.close();
    },
  };
}
