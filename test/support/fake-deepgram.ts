/**
 * A local stand-in for Deepgram's speech-to-text API, speaking its wire
 * protocol (PROTOCOLS.md §4) so that the Deepgram engine and the official
 * `@deepgram/sdk` can both be pointed at it:
 *
 * - `POST /v1/listen` (pre-recorded): a WAV body, or raw audio named by
 *   `encoding` and `sample_rate`; answers `{metadata, results}`.
 * - `GET /v1/listen` upgraded to a WebSocket (live): see fake-deepgram-live.ts.
 *
 * Both check `Authorization: Token <key>` (or the `token, <key>` subprotocol)
 * and the query parameters as Deepgram does, and answer refusals with its
 * `{err_code, err_msg, request_id}` body (plus `dg-error` on the handshake).
 * Transcripts come from real recognition of the audio received (the Stt
 * given, PocketSphinx in the tests) or, in scripted mode, from a script keyed
 * by connection and segment. Faults are queued per request: a status, a slow
 * answer, malformed JSON, a connection cut mid-way, an unanswered Finalize.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { concatChunks, PIPELINE_RATE, type AudioChunk } from '../../src/audio/frame.js';
import { decodeAlaw, decodeMulaw } from '../../src/audio/g711.js';
import { loadResampler, resampleWith, type ResamplerFactory } from '../../src/audio/resample.js';
import { decodeSlinLe } from '../../src/audio/slin.js';
import { decodeWav, isWav } from '../../src/audio/wav.js';
import type { Stt } from '../../src/engines/stt/types.js';
import { LiveSession, newRequestId, scriptedRecognizer, type LiveFault, type LiveRecord, type Recognised, type SegmentRecognizer } from './fake-deepgram-live.js';
import { BadParams, errorBody, modelInfo, MODEL_UUID, presentedKey, readListenParams, spreadWords, transcriptOf, wireWords } from './fake-deepgram-query.js';

export type { LiveFault, LiveRecord } from './fake-deepgram-live.js';

export interface ScriptTurn {
  kind: 'live' | 'rest';
  /** 1-based count of live connections (or REST requests) the fake has accepted. */
  connection: number;
  /** 0-based segment within a live connection (0 for REST). */
  segment: number;
  query: URLSearchParams;
}

/** The transcript of one stretch of speech, in scripted mode. */
export type FakeScript = (turn: ScriptTurn) => string;

/** A script that answers `lines` in order, one per stretch of speech, then empty text. */
export function scriptLines(lines: readonly string[]): FakeScript {
  let i = 0;
  return () => lines[i++] ?? '';
}

export interface RestFault {
  /** Answer this status with Deepgram's error body (or `body`). */
  status?: number;
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Answer 200 with text that is not JSON. */
  malformed?: boolean;
  /** Send half the answer, then drop the connection. */
  cut?: boolean;
}

export interface HandshakeFault {
  /** Refuse the upgrade with this status and Deepgram's error body. */
  status?: number;
  /** Wait this long before answering the upgrade. */
  delayMs?: number;
}

export type LiveConnectionFault = HandshakeFault & LiveFault;

export interface RestRecord {
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  bodyBytes: number;
  status: number;
}

export interface FakeDeepgramOptions {
  /** The key clients must present; `test-key` by default. */
  apiKey?: string;
  /** Recognises what is received (PocketSphinx in the tests); required unless a script is set. */
  stt?: Stt;
  script?: FakeScript;
  /** Deepgram closes a live stream that gets neither audio nor a text message for 10 s (NET-0001). */
  netTimeoutMs?: number;
  /** Windows louder than this (dBFS) are speech to the fake's detector. */
  speechDbfs?: number;
  /** Keep each live session's decoded audio in its record (tests of the wire format). */
  keepAudio?: boolean;
}

export interface FakeDeepgram {
  /** http://127.0.0.1:<port>: the REST base; the live socket is the same host over ws. */
  baseUrl: string;
  rest: RestRecord[];
  live: LiveRecord[];
  /** Handshakes refused (auth, parameters, faults), with their status. */
  refused: Array<{ query: URLSearchParams; status: number }>;
  /** Faults for the next REST requests, one each, in order. */
  nextRest(...faults: RestFault[]): void;
  /** Faults for the next live connections, one each, in order. */
  nextLive(...faults: LiveConnectionFault[]): void;
  /** Switch to scripted answers (or back to recognition with undefined). */
  useScript(script: FakeScript | undefined): void;
  /** Live sockets open now. */
  openSockets(): number;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A recogniser over an Stt: its stream when it has one (partials), else one batch request at the end. */
function sttRecognizer(stt: Stt): SegmentRecognizer {
  let listener: ((text: string) => void) | undefined;
  if (stt.stream) {
    const stream = stt.stream({ language: 'en' });
    void (async () => {
      try {
        for await (const e of stream.events()) if (e.type === 'partial') listener?.(e.text);
      } catch {
        // finish() reports the failure.
      }
    })();
    return {
      push: (samples) => stream.push({ samples, sampleRate: PIPELINE_RATE }),
      onPartial: (l) => (listener = l),
      finish: async () => {
        const r = await stream.finish();
        return { text: r.text, words: r.words ?? [], confidence: r.confidence };
      },
      close: () => stream.close(),
    };
  }
  const chunks: Int16Array[] = [];
  return {
    push: (samples) => chunks.push(samples.slice()),
    onPartial: (l) => (listener = l),
    finish: async () => {
      const r = await stt.transcribe(concatChunks(chunks.map((samples) => ({ samples, sampleRate: PIPELINE_RATE })), PIPELINE_RATE), { language: 'en' });
      return { text: r.text, words: r.words ?? [], confidence: r.confidence };
    },
    close: () => (chunks.length = 0),
  };
}

function decodeRaw(body: Buffer, encoding: string, sampleRate: number): AudioChunk {
  if (encoding === 'linear16') return { samples: decodeSlinLe(body.subarray(0, body.length - (body.length % 2))), sampleRate };
  if (encoding === 'mulaw') return { samples: decodeMulaw(body), sampleRate };
  if (encoding === 'alaw') return { samples: decodeAlaw(body), sampleRate };
  throw new BadParams(`Bad Request: failed to process audio: this fake decodes linear16, mulaw and alaw raw audio, not ${encoding}`);
}

export async function startFakeDeepgram(options: FakeDeepgramOptions = {}): Promise<FakeDeepgram> {
  const apiKey = options.apiKey ?? 'test-key';
  const netTimeoutMs = options.netTimeoutMs ?? 10_000;
  const speechDbfs = options.speechDbfs ?? -45;
  const resampler: ResamplerFactory = await loadResampler();
  let script = options.script;
  const restFaults: RestFault[] = [];
  const liveFaults: LiveConnectionFault[] = [];
  const rest: RestRecord[] = [];
  const live: LiveRecord[] = [];
  const refused: FakeDeepgram['refused'] = [];
  const sockets = new Set<Socket>();
  let restCount = 0;
  let liveCount = 0;

  function recognizerFor(turn: ScriptTurn): SegmentRecognizer {
    if (script) return scriptedRecognizer(script(turn));
    if (!options.stt) throw new Error('the Deepgram fake needs an stt or a script');
    return sttRecognizer(options.stt);
  }

  async function recognise(audio: AudioChunk, turn: ScriptTurn): Promise<Recognised> {
    const seconds = audio.samples.length / audio.sampleRate;
    if (script) {
      const text = script(turn);
      return { text, words: spreadWords(text, 0, seconds), confidence: 0.99 };
    }
    if (!options.stt) throw new Error('the Deepgram fake needs an stt or a script');
    const r = await options.stt.transcribe(resampleWith(resampler, audio, PIPELINE_RATE), { language: 'en' });
    return { text: r.text, words: r.words ?? [], confidence: r.confidence };
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', 'dg-request-id': (body as { request_id?: string }).request_id ?? newRequestId(), ...headers });
    res.end(JSON.stringify(body));
  }

  async function handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    // A client that gave up (timeout, cancel) is not answered, and its audio not recognised.
    let gone = false;
    res.on('close', () => (gone = !res.writableFinished));
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return json(res, 413, errorBody(413, 'Payload too large'));
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    const record: RestRecord = { query: url.searchParams, headers: req.headers, bodyBytes: body.length, status: 0 };
    rest.push(record);
    const answer = (status: number, payload: unknown): void => {
      record.status = status;
      json(res, status, payload);
    };
    // `GET /v1/projects`: the projects of the key, what a health check asks (no audio spent).
    if (url.pathname === '/v1/projects' && req.method === 'GET') {
      if (presentedKey(req.headers).key !== apiKey) return answer(401, errorBody(401));
      return answer(200, { projects: [{ project_id: 'c0ffee00-0000-4000-8000-000000000001', name: 'palabre test project' }] });
    }
    if (url.pathname !== '/v1/listen') return answer(404, errorBody(404, `no route ${req.method} ${url.pathname}`));
    if (req.method !== 'POST') return answer(405, errorBody(405, 'Method not allowed'));
    if (presentedKey(req.headers).key !== apiKey) return answer(401, errorBody(401));
    const fault = restFaults.shift() ?? {};
    if (fault.delayMs) await sleep(fault.delayMs);
    if (gone) return;
    if (fault.status !== undefined) return answer(fault.status, fault.body ?? errorBody(fault.status));
    let params;
    try {
      params = readListenParams(url.searchParams, false);
    } catch (err) {
      if (err instanceof BadParams) return answer(400, errorBody(400, err.message));
      throw err;
    }
    if ((req.headers['content-type'] ?? '').startsWith('application/json')) return answer(400, errorBody(400, 'this fake cannot fetch remote audio; send the audio as the body'));
    let audio: AudioChunk;
    try {
      if (body.length === 0) throw new BadParams('Bad Request: failed to process audio: corrupt or unsupported data');
      if (isWav(body)) {
        const wav = decodeWav(body);
        audio = { samples: wav.samples, sampleRate: wav.sampleRate };
      } else if (params.encoding && params.sampleRate) {
        audio = decodeRaw(body, params.encoding, params.sampleRate);
      } else {
        throw new BadParams('Bad Request: failed to process audio: corrupt or unsupported data');
      }
    } catch (err) {
      return answer(400, errorBody(400, err instanceof BadParams ? err.message : `Bad Request: failed to process audio: ${(err as Error).message}`));
    }
    const r = await recognise(audio, { kind: 'rest', connection: ++restCount, segment: 0, query: url.searchParams });
    const words = wireWords(r.words, 0, params.punctuate);
    const duration = Math.round((audio.samples.length / audio.sampleRate) * 1000) / 1000;
    const requestId = newRequestId();
    const payload = {
      metadata: {
        transaction_key: 'deprecated',
        request_id: requestId,
        sha256: createHash('sha256').update(body).digest('hex'),
        created: new Date().toISOString(),
        duration,
        channels: 1,
        models: [MODEL_UUID],
        model_info: { [MODEL_UUID]: modelInfo(params.model) },
      },
      results: {
        channels: [{ alternatives: [{ transcript: transcriptOf(words, params.punctuate), confidence: Math.round((r.confidence ?? 0.9) * 1000) / 1000, words }] }],
      },
    };
    record.status = 200;
    const text = fault.malformed ? '{"metadata":{"request_id":' : JSON.stringify(payload);
    res.writeHead(200, { 'content-type': 'application/json', 'dg-request-id': requestId, ...(fault.cut ? { 'content-length': String(text.length) } : {}) });
    if (fault.cut) {
      res.write(text.slice(0, Math.floor(text.length / 2)));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.end(text);
  }

  const server = createServer((req, res) => {
    handleRest(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, errorBody(500, (err as Error).message));
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has('token') ? 'token' : false),
  });

  function refuse(socket: Socket, query: URLSearchParams, status: number, message?: string): void {
    refused.push({ query, status });
    const body = JSON.stringify(errorBody(status, message));
    const reason = status === 401 ? 'Unauthorized' : status === 429 ? 'Too Many Requests' : status === 400 ? 'Bad Request' : status >= 500 ? 'Internal Server Error' : 'Error';
    const { err_msg, request_id } = JSON.parse(body) as { err_msg: string; request_id: string };
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ndg-error: ${err_msg.replace(/[\r\n]/g, ' ')}\r\ndg-request-id: ${request_id}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      if (url.pathname !== '/v1/listen') return refuse(socket, url.searchParams, 404, `no route ${url.pathname}`);
      const auth = presentedKey(req.headers);
      if (auth.key !== apiKey) return refuse(socket, url.searchParams, 401);
      const fault = liveFaults.shift() ?? {};
      if (fault.delayMs) await sleep(fault.delayMs);
      if (socket.destroyed) return;
      if (fault.status !== undefined) return refuse(socket, url.searchParams, fault.status);
      let params;
      try {
        params = readListenParams(url.searchParams, true);
      } catch (err) {
        if (err instanceof BadParams) return refuse(socket, url.searchParams, 400, err.message);
        throw err;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = ++liveCount;
        const record: LiveRecord = { query: url.searchParams, auth: auth.via ?? 'header', requestId: newRequestId(), audioBytes: 0, audioSeconds: 0, controls: [], sent: [], ...(options.keepAudio ? { audio: [] } : {}) };
        live.push(record);
        new LiveSession(ws, {
          params,
          record,
          fault,
          resampler,
          netTimeoutMs,
          speechDbfs,
          recognizer: (segment) => recognizerFor({ kind: 'live', connection, segment, query: url.searchParams }),
        });
      });
    })().catch(() => socket.destroy());
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    rest,
    live,
    refused,
    nextRest: (...faults) => restFaults.push(...faults),
    nextLive: (...faults) => liveFaults.push(...faults),
    useScript: (s) => (script = s),
    openSockets: () => [...wss.clients].filter((c) => c.readyState === c.OPEN).length,
    async close() {
      for (const c of wss.clients) c.terminate();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      wss.close();
    },
  };
}
