/**
 * One Deepgram live transcription over its WebSocket: frames go out as binary
 * messages (held while the connection opens), interim results come back as
 * partials, finalised results add up to the turn's text. While no audio is
 * sent (the bot is speaking) a KeepAlive goes out every few seconds so that
 * Deepgram's 10-second idle cut (NET-0001) never hits. finish() sends
 * Finalize and waits for the flushed result; then CloseStream ends the
 * session cleanly (close() before finish() sends it too).
 */
import WebSocket from 'ws';
import { assertRate, type Frame } from '../../audio/frame.js';
import { encodeMulaw } from '../../audio/g711.js';
import { encodeSlinLe } from '../../audio/slin.js';
import { PalabreError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { closedError, deepgramError, ENGINE, httpError } from './deepgram-errors.js';
import { parseLiveMessage, toSegment, toSttWords, WireError, type DeepgramEncoding, type LiveMessage, type LiveResults } from './deepgram-wire.js';
import { EventQueue } from './event-queue.js';
import type { SttEvent, SttResult, SttStream } from './types.js';

export interface LiveSettings {
  url: URL;
  apiKey: string;
  sampleRate: number;
  encoding: DeepgramEncoding;
  language: string;
  connectTimeoutMs: number;
  /** Longest wait from finish() to the result. */
  timeoutMs: number;
  keepAliveMs: number;
  /** How long finish() waits for the Finalize answer before asking with CloseStream instead. */
  finalizeWaitMs: number;
  /** Audio held while the connection opens; more fails the stream. */
  maxBufferedMs: number;
  signal?: AbortSignal;
  logger: Logger;
  /** Called once when the stream ends, however it ends. */
  onDone(usage: { audioSeconds: number; failed: boolean }): void;
}

type State = 'connecting' | 'open' | 'finishing' | 'done' | 'closed';

const KEEP_ALIVE = JSON.stringify({ type: 'KeepAlive' });
const FINALIZE = JSON.stringify({ type: 'Finalize' });
const CLOSE_STREAM = JSON.stringify({ type: 'CloseStream' });
/** After CloseStream (or a cancel) the server gets this long to close before the socket is dropped. */
const CLOSE_GRACE_MS = 2000;
/** Handshake error bodies are short; read no more than this. */
const MAX_ERROR_BODY = 16 * 1024;

export class DeepgramLiveStream implements SttStream {
  private readonly ws: WebSocket;
  private state: State = 'connecting';
  private readonly pending: Uint8Array[] = [];
  private pendingSamples = 0;
  private sentSamples = 0;
  private lastSentAt = performance.now();
  private readonly finals: LiveResults[] = [];
  private interim = '';
  private lastPartial = '';
  private readonly queue = new EventQueue();
  private failure?: PalabreError;
  private finishing?: Promise<SttResult>;
  private flushed?: { resolve: () => void; reject: (err: PalabreError) => void };
  private closeStreamSent = false;
  private reported = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private keepAlive?: NodeJS.Timeout;
  private readonly onAbort = (): void => {
    this.fail(new PalabreError('aborted', 'deepgram: the speech stream was cancelled', { cause: this.settings.signal?.reason }));
  };

  constructor(private readonly settings: LiveSettings) {
    settings.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.ws = new WebSocket(settings.url, {
      headers: { Authorization: `Token ${settings.apiKey}` },
      perMessageDeflate: false,
      maxPayload: 4 * 1024 * 1024,
    });
    this.timer(() => this.fail(deepgramError('engine_failed', `the live connection to ${settings.url.host} did not open within ${settings.connectTimeoutMs} ms`, true, { timeout: true })), settings.connectTimeoutMs, 'connect');
    this.ws.on('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const refuse = (): void => {
        const requestId = res.headers['dg-request-id'];
        this.fail(httpError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), 'the live connection', typeof requestId === 'string' ? requestId : undefined));
        req.destroy();
      };
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_ERROR_BODY) chunks.push(c);
      });
      res.on('end', refuse);
      res.on('error', refuse);
    });
    this.ws.on('open', () => this.opened());
    this.ws.on('message', (data, isBinary) => {
      if (!isBinary) this.received(data.toString());
    });
    this.ws.on('close', (code, reason) => this.closedByPeer(code, reason.toString()));
    this.ws.on('error', (err) => this.fail(deepgramError('engine_failed', `the live connection failed: ${err.message}`, true, {}, err)));
    if (settings.signal?.aborted) this.onAbort();
  }

  /** Seconds of audio pushed so far. */
  get audioSeconds(): number {
    return (this.sentSamples + this.pendingSamples) / this.settings.sampleRate;
  }

  push(frame: Frame): void {
    if (this.state === 'finishing' || this.state === 'done' || this.state === 'closed') {
      throw new PalabreError('bad_request', `deepgram: cannot push audio to a speech stream after ${this.state === 'closed' ? 'close()' : 'finish()'}`);
    }
    assertRate(frame, this.settings.sampleRate, 'Deepgram stream');
    if (this.failure || frame.samples.length === 0) return;
    const bytes = this.settings.encoding === 'mulaw' ? encodeMulaw(frame.samples) : encodeSlinLe(frame.samples);
    if (this.state === 'open') {
      this.send(bytes, frame.samples.length);
      return;
    }
    this.pending.push(bytes);
    this.pendingSamples += frame.samples.length;
    if ((this.pendingSamples * 1000) / this.settings.sampleRate > this.settings.maxBufferedMs) {
      this.fail(deepgramError('engine_failed', `the live connection was still not open after ${this.settings.maxBufferedMs} ms of audio`, true, { timeout: true }));
    }
  }

  events(): AsyncIterable<SttEvent> {
    return this.queue.read();
  }

  finish(): Promise<SttResult> {
    if (this.finishing) return this.finishing;
    if (this.state === 'closed') return Promise.reject(new PalabreError('bad_request', 'deepgram: cannot finish a speech stream after close()'));
    const wasOpen = this.state === 'open';
    this.state = 'finishing';
    this.finishing = this.runFinish(wasOpen);
    return this.finishing;
  }

  close(): void {
    if (this.state === 'closed') return;
    const wasDone = this.state === 'done';
    const wasFinishing = this.state === 'finishing';
    const open = this.ws.readyState === WebSocket.OPEN;
    this.state = 'closed';
    if (wasFinishing && !this.failure) this.fail(new PalabreError('aborted', 'deepgram: the speech stream was closed before its result came'));
    if (!wasDone && open) this.sendCloseStream();
    else if (!open) this.ws.terminate();
    this.end();
  }

  private async runFinish(wasOpen: boolean): Promise<SttResult> {
    try {
      if (this.failure) throw this.failure;
      const flushed = new Promise<void>((resolve, reject) => (this.flushed = { resolve, reject }));
      this.timer(() => this.fail(deepgramError('engine_failed', `no final result within ${this.settings.timeoutMs} ms of the end of speech`, true, { timeout: true })), this.settings.timeoutMs, 'finish');
      if (wasOpen) this.askFinal();
      // Otherwise opened() asks once the connection is up.
      await flushed;
      const result = this.result();
      this.state = 'done';
      this.queue.push({ type: 'final', result });
      this.report(false);
      return result;
    } catch (err) {
      throw this.failure ?? err;
    } finally {
      this.flushed = undefined;
      this.clearTimer('finish');
      this.clearTimer('finalize');
      if (this.ws.readyState === WebSocket.OPEN) this.sendCloseStream();
      this.end();
    }
  }

  /** Finalize, unless every audio sent is already covered by a final result; CloseStream if Finalize goes unanswered. */
  private askFinal(): void {
    if (this.covered()) {
      this.flushed?.resolve();
      return;
    }
    this.ws.send(FINALIZE);
    // Deepgram answers Finalize only when it holds audio worth flushing; CloseStream always gets an answer (Metadata, then close).
    this.timer(() => this.sendCloseStream(), this.settings.finalizeWaitMs, 'finalize');
  }

  private covered(): boolean {
    const last = this.finals.at(-1);
    if (!last) return this.sentSamples === 0;
    return last.start + last.duration >= this.sentSamples / this.settings.sampleRate - 0.001;
  }

  private opened(): void {
    this.clearTimer('connect');
    if (this.state === 'closed' || this.failure) {
      this.ws.close(1000);
      return;
    }
    if (this.state === 'connecting') this.state = 'open';
    for (const bytes of this.pending) this.send(bytes, bytes.length / (this.settings.encoding === 'mulaw' ? 1 : 2));
    this.pending.length = 0;
    this.pendingSamples = 0;
    this.keepAlive = setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN && !this.closeStreamSent && performance.now() - this.lastSentAt >= this.settings.keepAliveMs) {
        this.ws.send(KEEP_ALIVE);
        this.lastSentAt = performance.now();
      }
    }, Math.max(50, Math.floor(this.settings.keepAliveMs / 4)));
    this.keepAlive.unref();
    if (this.state === 'finishing') this.askFinal();
  }

  private send(bytes: Uint8Array, samples: number): void {
    this.ws.send(bytes);
    this.sentSamples += samples;
    this.lastSentAt = performance.now();
    // A connection that stopped taking data would otherwise hold the whole call's audio in memory.
    const bytesPerSecond = this.settings.sampleRate * (this.settings.encoding === 'mulaw' ? 1 : 2);
    if (this.ws.bufferedAmount > (bytesPerSecond * this.settings.maxBufferedMs) / 1000) {
      this.fail(deepgramError('engine_failed', `the live connection stopped taking audio (${this.settings.maxBufferedMs} ms of it waiting to be sent)`, true));
    }
  }

  private sendCloseStream(): void {
    if (this.closeStreamSent || this.ws.readyState !== WebSocket.OPEN) return;
    this.closeStreamSent = true;
    this.ws.send(CLOSE_STREAM);
    // While a result is awaited the finish timeout bounds the wait; otherwise the server gets a grace period to close.
    if (this.state !== 'finishing') this.dropAfterGrace();
  }

  private dropAfterGrace(): void {
    const drop = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    drop.unref();
    this.ws.once('close', () => clearTimeout(drop));
  }

  private received(text: string): void {
    let msg: LiveMessage;
    try {
      msg = parseLiveMessage(text);
    } catch (err) {
      const why = err instanceof WireError ? err.message : String(err);
      this.fail(deepgramError('engine_failed', `the live stream sent a malformed message: ${why}`, false, {}, err));
      return;
    }
    switch (msg.type) {
      case 'Results':
        this.onResults(msg);
        break;
      case 'SpeechStarted':
        if (this.state !== 'done' && this.state !== 'closed') this.queue.push({ type: 'speech-started', at: msg.timestamp });
        break;
      case 'Metadata':
        if (this.closeStreamSent) this.flushed?.resolve();
        break;
      case 'Error':
        this.fail(deepgramError('engine_failed', `Deepgram reported an error: ${msg.description}`, false));
        break;
      default:
        // UtteranceEnd and message types added later carry nothing a turn needs.
        break;
    }
  }

  private onResults(r: LiveResults): void {
    if (r.is_final) {
      this.finals.push(r);
      this.interim = '';
    } else {
      this.interim = r.transcript;
    }
    const text = this.text(this.interim);
    if (text !== '' && text !== this.lastPartial && this.state !== 'done' && this.state !== 'closed') {
      this.lastPartial = text;
      this.queue.push({ type: 'partial', text });
    }
    if (r.from_finalize || (this.state === 'finishing' && r.is_final && this.covered())) this.flushed?.resolve();
  }

  private text(tail = ''): string {
    return [...this.finals.map((f) => f.transcript), tail].filter((t) => t.trim() !== '').join(' ');
  }

  private result(): SttResult {
    const spoken = this.finals.filter((f) => f.transcript.trim() !== '');
    const segments = spoken.map((f, i) => toSegment(i, f.transcript, f.start, f.start + f.duration, f.confidence, f.words));
    const confidences = spoken.map((f) => f.confidence);
    return {
      text: this.text(),
      language: this.settings.language,
      segments,
      words: toSttWords(spoken.flatMap((f) => f.words)),
      duration: this.sentSamples / this.settings.sampleRate,
      confidence: confidences.length > 0 ? confidences.reduce((a, b) => a + b, 0) / confidences.length : undefined,
      engine: ENGINE,
    };
  }

  private closedByPeer(code: number, reason: string): void {
    this.clearTimers();
    if (this.state === 'closed' || this.state === 'done' || this.failure) return;
    if (this.closeStreamSent && this.flushed && code === 1000) {
      // After CloseStream the server sends what it holds and closes normally: everything has arrived.
      this.flushed.resolve();
      return;
    }
    this.fail(closedError(code, reason));
  }

  private fail(err: PalabreError): void {
    if (this.failure || this.state === 'done') return;
    this.failure = err;
    this.queue.fail(err);
    this.flushed?.reject(err);
    this.clearTimers();
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(1000);
      this.dropAfterGrace();
    } else if (this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
    this.settings.logger.debug({ engine: ENGINE, err: err.message }, 'deepgram stream failed');
    this.report(true);
    if (this.state !== 'finishing') this.end();
  }

  private end(): void {
    this.queue.end();
    this.clearTimers();
    this.settings.signal?.removeEventListener('abort', this.onAbort);
    if (!this.reported && this.state !== 'finishing') this.report(false);
  }

  private report(failed: boolean): void {
    if (this.reported) return;
    this.reported = true;
    this.settings.onDone({ audioSeconds: this.audioSeconds, failed });
  }

  private readonly named = new Map<string, NodeJS.Timeout>();

  private timer(fn: () => void, ms: number, name: string): void {
    this.clearTimer(name);
    const t = setTimeout(() => {
      this.named.delete(name);
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.named.set(name, t);
    this.timers.add(t);
  }

  private clearTimer(name: string): void {
    const t = this.named.get(name);
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
      this.named.delete(name);
    }
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.named.clear();
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}
