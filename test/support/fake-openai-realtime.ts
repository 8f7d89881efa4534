/**
 * A local stand-in for the OpenAI Realtime API (WebSocket on 127.0.0.1,
 * random port, path /v1/realtime?model=…), speaking its GA wire protocol
 * with real audio, and proven with the official `openai` client in
 * test/fake-openai-realtime.test.ts:
 *
 * - the upgrade needs `Authorization: Bearer <key>` (401 otherwise) and a model;
 * - `session.created` on connect; `session.update` merged and echoed as `session.updated`;
 * - `input_audio_buffer.append` (audio/pcm, 24 kHz s16le) runs through the
 *   local Silero VAD with the session's server_vad threshold and
 *   silence_duration_ms: `speech_started` / `speech_stopped`, `committed`,
 *   `conversation.item.added`, then the turn transcribed by the local
 *   PocketSphinx (`conversation.item.input_audio_transcription.completed`) and,
 *   with create_response, a response;
 * - a response says the test's scripted text with flite at 24 kHz as
 *   `response.output_audio.delta` chunks (paced a few times faster than real
 *   time, as the real service generates) with `response.output_audio_transcript.delta`
 *   words, then the done events and `response.done` with usage;
 * - `conversation.item.truncate` is checked against the audio the item has and
 *   answered `conversation.item.truncated`; `response.cancel` stops the
 *   response (`response.done` status cancelled) or answers the real error
 *   `response_cancel_not_active`; server VAD speech during a response cancels
 *   it (interrupt_response, default true);
 * - faults on demand: an `error` event, or the socket dropped (now, or after
 *   some audio deltas of the next response).
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AudioChunk } from '../../src/audio/frame.js';
import { loadResampler, type Resampler, type ResamplerFactory } from '../../src/audio/resample.js';
import { decodeSlinLe, encodeSlinLe } from '../../src/audio/slin.js';
import { createStt } from '../../src/engines/stt/index.js';
import type { Stt } from '../../src/engines/stt/types.js';
import { createTts } from '../../src/engines/tts/index.js';
import type { Tts } from '../../src/engines/tts/types.js';
import { createVad } from '../../src/engines/vad/index.js';
import type { Vad, VadStream } from '../../src/engines/vad/types.js';

const RATE = 24_000;
/** Audio per output delta. */
const DELTA_MS = 100;

export interface ReplyContext {
  /** What PocketSphinx heard of the caller's last turn (undefined for a response.create without a turn). */
  heard?: string;
  /** Instructions of the response.create, or the session's. */
  instructions?: string;
  /** Responses so far in this connection. */
  index: number;
}

export interface FakeRealtimeOptions {
  apiKey?: string;
  /** The text of each response (default: "You said: <heard>", or a greeting). */
  reply?: (ctx: ReplyContext) => string;
  /** How many times faster than real time audio deltas are sent (default 3). */
  pace?: number;
  /** Serve wss:// with this key and certificate (the official client always connects with wss). */
  tls?: { key: string; cert: string };
}

export interface FakeConnection {
  url: URL;
  headers: Record<string, string | string[] | undefined>;
  /** Every client event received, parsed. */
  received: Array<Record<string, unknown> & { type: string }>;
  /** Every server event sent. */
  sent: Array<Record<string, unknown> & { type: string }>;
  session: Record<string, unknown>;
  truncations: Array<{ itemId: string; audioEndMs: number; atMs: number }>;
  /** Ms since the connection opened, on the server's clock. */
  nowMs(): number;
  closed: boolean;
  closeCode?: number;
  /** Sends an `error` event. */
  sendError(body: { type: string; code?: string; message: string }): void;
  /** Drops the socket without a close frame. */
  drop(): void;
}

interface ItemAudio {
  id: string;
  samples: number;
  transcript: string;
}

interface ActiveResponse {
  id: string;
  itemId: string;
  cancelled: boolean;
  done: Promise<void>;
}

export interface FakeRealtime {
  url: string;
  /** The base URL for the official client (`new OpenAI({ baseURL })`): http://127.0.0.1:port/v1. */
  baseURL: string;
  connections: FakeConnection[];
  /** The next response's socket is dropped after this many audio deltas. */
  dropAfterDeltas(n: number): void;
  /** Resolves when `predicate` holds for some connection's received events. */
  waitFor(predicate: (c: FakeConnection) => boolean, timeoutMs?: number): Promise<FakeConnection>;
  close(): Promise<void>;
}

let counter = 0;
const id = (prefix: string): string => `${prefix}_${(++counter).toString(36)}${randomBytes(6).toString('hex')}`;

export async function startFakeRealtime(options: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
  const apiKey = options.apiKey ?? 'sk-test';
  const pace = options.pace ?? 3;
  const reply = options.reply ?? ((c: ReplyContext) => (c.heard !== undefined ? `You said ${c.heard || 'nothing'}.` : 'Hello, how can I help you?'));
  let vad: Promise<Vad> | undefined;
  let stt: Promise<Stt> | undefined;
  let tts: Promise<Tts> | undefined;
  let resamplers: Promise<ResamplerFactory> | undefined;
  let dropAfter: number | undefined;
  const connections: FakeConnection[] = [];
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };

  const httpsServer = options.tls ? createHttpsServer(options.tls) : undefined;
  const wss = new WebSocketServer({
    ...(httpsServer ? { server: httpsServer } : { host: '127.0.0.1', port: 0 }),
    verifyClient: (info, cb) => {
      const url = new URL(info.req.url ?? '/', 'http://x');
      if (url.pathname !== '/v1/realtime') return cb(false, 404, 'Not Found');
      if (info.req.headers.authorization !== `Bearer ${apiKey}`) return cb(false, 401, 'Incorrect API key provided');
      if (!url.searchParams.get('model')) return cb(false, 400, 'Missing model');
      cb(true);
    },
  });
  if (httpsServer) await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  else await new Promise<void>((resolve) => wss.once('listening', resolve));
  const port = ((httpsServer ?? wss).address() as AddressInfo).port;
  const scheme = httpsServer ? 's' : '';

  wss.on('connection', (ws: WebSocket, req) => {
    const opened = performance.now();
    const url = new URL(req.url ?? '/', `ws://127.0.0.1:${port}`);
    const model = url.searchParams.get('model') ?? '';
    const session: Record<string, unknown> = {
      type: 'realtime',
      object: 'realtime.session',
      id: id('sess'),
      model,
      output_modalities: ['audio'],
      instructions: '',
      audio: {
        input: { format: { type: 'audio/pcm', rate: RATE }, transcription: null, noise_reduction: null, turn_detection: { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 200, create_response: true, interrupt_response: true, idle_timeout_ms: null } },
        output: { format: { type: 'audio/pcm', rate: RATE }, voice: 'alloy', speed: 1 },
      },
      tools: [],
      tool_choice: 'auto',
      max_output_tokens: 'inf',
    };
    const items: ItemAudio[] = [];
    let active: ActiveResponse | undefined;
    let responses = 0;
    let lastItemId: string | null = null;
    // Caller audio: resampled to 16 kHz for the VAD and the recogniser.
    let down: Resampler | undefined;
    let vadStream: VadStream | undefined;
    let vadKey = '';
    let received16 = 0;
    let turn: { itemId: string; startMs: number; chunks: Int16Array[] } | undefined;
    const history: Int16Array[] = [];
    let historySamples = 0;
    let queue = Promise.resolve();

    const conn: FakeConnection = {
      url,
      headers: req.headers,
      received: [],
      sent: [],
      session,
      truncations: [],
      nowMs: () => performance.now() - opened,
      closed: false,
      sendError: (body) => send({ type: 'error', error: { type: body.type, code: body.code ?? null, message: body.message, param: null, event_id: null } }),
      drop: () => ws.terminate(),
    };
    connections.push(conn);

    function send(event: Record<string, unknown> & { type: string }): void {
      if (ws.readyState !== ws.OPEN) return;
      const full = { event_id: id('event'), ...event };
      conn.sent.push(full);
      ws.send(JSON.stringify(full));
    }
    const invalid = (message: string, code: string, clientEventId?: unknown, param?: string): void =>
      send({ type: 'error', error: { type: 'invalid_request_error', code, message, param: param ?? null, event_id: typeof clientEventId === 'string' ? clientEventId : null } });
    const turnDetection = (): Record<string, unknown> | null => ((session.audio as { input: { turn_detection: Record<string, unknown> | null } }).input.turn_detection);

    send({ type: 'session.created', session: { ...session } });

    ws.on('message', (data) => {
      let event: Record<string, unknown> & { type: string };
      try {
        event = JSON.parse(data.toString()) as typeof event;
      } catch {
        return invalid('We could not parse the JSON body of your request.', 'invalid_json');
      }
      conn.received.push(event);
      notify();
      // Audio is handled in order; control events must not wait behind the recogniser.
      if (event.type === 'input_audio_buffer.append') queue = queue.then(() => onAudio(event)).catch((err: unknown) => invalid(String(err), 'server_error'));
      else onControl(event);
    });
    ws.on('close', (code) => {
      conn.closed = true;
      conn.closeCode = code;
      if (active) active.cancelled = true;
      vadStream?.close();
      down?.close();
      notify();
    });

    function onControl(event: Record<string, unknown> & { type: string }): void {
      switch (event.type) {
        case 'session.update': {
          const s = event.session as Record<string, unknown> | undefined;
          if (!s || s.type !== 'realtime') return invalid("Missing required parameter: 'session.type'.", 'missing_required_parameter', event.event_id, 'session.type');
          const audio = (s.audio ?? {}) as { input?: Record<string, unknown>; output?: Record<string, unknown> };
          const current = session.audio as { input: Record<string, unknown>; output: Record<string, unknown> };
          const fmt = (audio.input?.format ?? current.input.format) as { type?: string; rate?: number };
          if (fmt.type !== 'audio/pcm' || (fmt.rate !== undefined && fmt.rate !== RATE)) return invalid('This fake takes audio/pcm at 24000 Hz only.', 'invalid_value', event.event_id, 'session.audio.input.format');
          Object.assign(session, { ...s, audio: { input: { ...current.input, ...audio.input }, output: { ...current.output, ...audio.output } } });
          send({ type: 'session.updated', session: { ...session } });
          return;
        }
        case 'response.create': {
          if (active) return invalid('Conversation already has an active response in progress.', 'conversation_already_has_active_response', event.event_id);
          const r = event.response as { instructions?: string } | undefined;
          startResponse(undefined, r?.instructions);
          return;
        }
        case 'response.cancel': {
          if (!active) return invalid('Cancellation failed: no active response found', 'response_cancel_not_active', event.event_id);
          active.cancelled = true;
          return;
        }
        case 'conversation.item.truncate': {
          const item = items.find((i) => i.id === event.item_id);
          if (!item) return invalid(`Item with item_id not found: ${String(event.item_id)}`, 'item_truncate_invalid_item_id', event.event_id, 'item_id');
          const end = event.audio_end_ms;
          const itemMs = (item.samples * 1000) / RATE;
          if (typeof end !== 'number' || end < 0 || end > itemMs + 1) return invalid(`Audio content of ${Math.round(itemMs)}ms is already shorter than ${String(end)}ms`, 'invalid_value', event.event_id, 'audio_end_ms');
          conn.truncations.push({ itemId: item.id, audioEndMs: end, atMs: conn.nowMs() });
          item.samples = Math.round((end * RATE) / 1000);
          item.transcript = '';
          send({ type: 'conversation.item.truncated', item_id: item.id, content_index: event.content_index ?? 0, audio_end_ms: end });
          return;
        }
        case 'input_audio_buffer.clear':
          turn = undefined;
          send({ type: 'input_audio_buffer.cleared' });
          return;
        default:
          return invalid(`Invalid value: '${event.type}'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.clear', 'conversation.item.truncate', 'response.create' and 'response.cancel'.`, 'invalid_value', event.event_id, 'type');
      }
    }

    async function onAudio(event: Record<string, unknown>): Promise<void> {
      if (typeof event.audio !== 'string') return invalid("Missing required parameter: 'audio'.", 'missing_required_parameter', event.event_id, 'audio');
      const pcm = decodeSlinLe(Buffer.from(event.audio, 'base64'));
      const td = turnDetection();
      if (!td) return;
      const threshold = typeof td.threshold === 'number' ? td.threshold : 0.5;
      const silenceMs = typeof td.silence_duration_ms === 'number' ? td.silence_duration_ms : 200;
      const key = `${threshold}/${silenceMs}`;
      if (!vadStream || key !== vadKey) {
        vadStream?.close();
        vadStream = (await (vad ??= createVad('silero'))).createStream({ threshold, minSilenceMs: silenceMs, minSpeechMs: 100 });
        vadKey = key;
      }
      down ??= (await (resamplers ??= loadResampler())).create(RATE, 16_000);
      const samples = down.process(pcm);
      received16 += samples.length;
      history.push(samples);
      historySamples += samples.length;
      const prefixMs = typeof td.prefix_padding_ms === 'number' ? td.prefix_padding_ms : 300;
      while (history.length > 1 && historySamples - history[0].length > ((prefixMs + 600) * 16)) historySamples -= (history.shift() as Int16Array).length;
      if (turn) turn.chunks.push(samples);
      const result = await vadStream.process({ samples, sampleRate: 16_000 });
      for (const e of result.events) {
        if (e.type === 'speech-start' && !turn) {
          const itemId = id('item');
          // The turn's audio from prefix_padding_ms before the start.
          const keep = Math.round((received16 / 16 - e.atMs + prefixMs) * 16);
          const all = concat(history);
          turn = { itemId, startMs: e.atMs, chunks: [all.subarray(Math.max(0, all.length - keep))] };
          send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(e.atMs), item_id: itemId });
          if (active && td.interrupt_response !== false) active.cancelled = true;
        } else if (e.type === 'speech-end' && turn) {
          const t = turn;
          turn = undefined;
          send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(e.atMs), item_id: t.itemId });
          send({ type: 'input_audio_buffer.committed', item_id: t.itemId, previous_item_id: lastItemId });
          send({ type: 'conversation.item.added', previous_item_id: lastItemId, item: { id: t.itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: null }] } });
          lastItemId = t.itemId;
          const audio: AudioChunk = { samples: concat(t.chunks), sampleRate: 16_000 };
          const heard = (await (await (stt ??= createStt('pocketsphinx', { pocketsphinx: { poolSize: 1 } }))).transcribe(audio, { language: 'en' })).text;
          if (session.audio && (session.audio as { input: { transcription: unknown } }).input.transcription) {
            send({ type: 'conversation.item.input_audio_transcription.completed', item_id: t.itemId, content_index: 0, transcript: heard, usage: { type: 'duration', seconds: Math.ceil(audio.samples.length / 16_000) } });
          }
          if (td.create_response !== false && !active) startResponse(heard, undefined);
        }
      }
    }

    function startResponse(heard: string | undefined, instructions: string | undefined): void {
      const responseId = id('resp');
      const itemId = id('item');
      const text = reply({ heard, instructions: instructions ?? (session.instructions as string), index: responses++ });
      const r: ActiveResponse = { id: responseId, itemId, cancelled: false, done: Promise.resolve() };
      active = r;
      r.done = speak(r, text).finally(() => {
        if (active === r) active = undefined;
      });
    }

    async function speak(r: ActiveResponse, text: string): Promise<void> {
      const base = { response_id: r.id, item_id: r.itemId, output_index: 0, content_index: 0 };
      const voice = (session.audio as { output: { voice: string } }).output.voice;
      send({ type: 'response.created', response: { object: 'realtime.response', id: r.id, status: 'in_progress', status_details: null, output: [], conversation_id: 'conv', output_modalities: ['audio'], audio: { output: { format: { type: 'audio/pcm', rate: RATE }, voice } }, usage: null } });
      const item: ItemAudio = { id: r.itemId, samples: 0, transcript: '' };
      items.push(item);
      send({ type: 'response.output_item.added', response_id: r.id, output_index: 0, item: { id: r.itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
      send({ type: 'conversation.item.added', previous_item_id: lastItemId, item: { id: r.itemId, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
      lastItemId = r.itemId;
      send({ type: 'response.content_part.added', ...base, part: { type: 'audio', transcript: '' } });
      const voiceEngine = await (tts ??= createTts('flite'));
      const factory = await (resamplers ??= loadResampler());
      const up = factory.create(voiceEngine.sampleRate, RATE);
      const words = text.split(/\s+/).filter(Boolean);
      let deltas = 0;
      let spokenMs = 0;
      const started = performance.now();
      let dropped = false;
      const emitAudio = async (samples: Int16Array): Promise<void> => {
        for (let at = 0; at < samples.length && !r.cancelled && !dropped; at += (RATE * DELTA_MS) / 1000) {
          const piece = samples.subarray(at, Math.min(samples.length, at + (RATE * DELTA_MS) / 1000));
          // Words go out alongside the audio, in proportion.
          const wordsDue = Math.ceil(((item.samples + piece.length) / Math.max(1, total)) * words.length);
          while (item.transcript.split(' ').filter(Boolean).length < Math.min(wordsDue, words.length)) {
            const w = words[item.transcript.split(' ').filter(Boolean).length];
            send({ type: 'response.output_audio_transcript.delta', ...base, delta: (item.transcript ? ' ' : '') + w });
            item.transcript += (item.transcript ? ' ' : '') + w;
          }
          send({ type: 'response.output_audio.delta', ...base, delta: Buffer.from(encodeSlinLe(piece)).toString('base64') });
          item.samples += piece.length;
          deltas++;
          if (dropAfter !== undefined && deltas >= dropAfter) {
            dropAfter = undefined;
            dropped = true;
            ws.terminate();
            return;
          }
          spokenMs += (piece.length * 1000) / RATE;
          const due = started + spokenMs / pace - performance.now();
          await new Promise((res) => setTimeout(res, Math.max(0, due)));
        }
      };
      let total = 0;
      const chunks: Int16Array[] = [];
      try {
        for await (const chunk of voiceEngine.synthesize(text, { language: 'en' })) chunks.push(up.process(chunk.samples));
        chunks.push(up.flush());
      } finally {
        up.close();
      }
      const speech = concat(chunks);
      total = speech.length;
      await emitAudio(speech);
      if (dropped || ws.readyState !== ws.OPEN) return;
      const usage = { total_tokens: 0, input_tokens: 40 + responses * 10, output_tokens: Math.ceil(item.samples / 1200), input_token_details: { text_tokens: 30, audio_tokens: 10 + responses * 10, cached_tokens: 0 }, output_token_details: { text_tokens: words.length, audio_tokens: Math.ceil(item.samples / 1200) - words.length } };
      usage.total_tokens = usage.input_tokens + usage.output_tokens;
      if (r.cancelled) {
        send({ type: 'response.done', response: { object: 'realtime.response', id: r.id, status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' }, output: [{ id: r.itemId, type: 'message', role: 'assistant', status: 'incomplete' }], usage } });
        return;
      }
      send({ type: 'response.output_audio.done', ...base });
      send({ type: 'response.output_audio_transcript.done', ...base, transcript: text });
      send({ type: 'response.content_part.done', ...base, part: { type: 'audio', transcript: text } });
      send({ type: 'response.output_item.done', response_id: r.id, output_index: 0, item: { id: r.itemId, object: 'realtime.item', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_audio', transcript: text }] } });
      send({ type: 'response.done', response: { object: 'realtime.response', id: r.id, status: 'completed', status_details: null, output: [{ id: r.itemId, type: 'message', role: 'assistant', status: 'completed' }], usage } });
    }
  });

  return {
    url: `ws${scheme}://127.0.0.1:${port}/v1/realtime`,
    baseURL: `http${scheme}://127.0.0.1:${port}/v1`,
    connections,
    dropAfterDeltas: (n) => (dropAfter = n),
    waitFor: (predicate, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const c = connections.find(predicate);
          if (!c) return;
          watchers.delete(check);
          clearTimeout(timer);
          resolve(c);
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error('fake realtime: condition not met in time'));
        }, timeoutMs);
        watchers.add(check);
        check();
      }),
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      if (httpsServer) await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
      await (await stt)?.close();
      await (await tts)?.close();
      await (await vad)?.close();
    },
  };
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
