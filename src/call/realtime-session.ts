/**
 * A call whose conversation is held by the OpenAI Realtime API (a flow with
 * `mode: realtime`): caller frames (denoised when enabled) are resampled to
 * 24 kHz and appended; the model's audio comes back resampled to the
 * pipeline rate and cut into 20 ms frames for the IO. The server's VAD
 * decides the turns. When it hears the caller while the bot is talking, the
 * bot's queued audio is cleared, the model's item is truncated at what was
 * actually played, and the response is cancelled if still running. The call
 * reports the same events as a dialog call (transcripts, turns, barge-ins,
 * errors) through SessionRecord, so the store and the operator API keep it
 * like any other; the model's tokens go to the call's usage.
 *
 * However the call ends (hang-up, timeout, end() from outside, the socket
 * dropping), the Realtime socket and the IO are closed before run() resolves.
 */
import type { Config } from '../config.js';
import type { LoadedFlow } from '../dialog/loader.js';
import type { FlowLanguage } from '../dialog/schema.js';
import { assertFrame, FRAME_MS, PIPELINE_RATE, type Frame } from '../audio/frame.js';
import { Chunker } from '../audio/chunker.js';
import type { Resampler, ResamplerFactory } from '../audio/resample.js';
import { decodeSlinLe } from '../audio/slin.js';
import type { Denoiser, DenoiseStream } from '../engines/denoise/types.js';
import { RealtimeClient } from '../engines/realtime/client.js';
import { ENGINE, serverError } from '../engines/realtime/errors.js';
import { REALTIME_RATE, type RealtimeErrorBody, type RealtimeOtherEvent, type RealtimeServerEvent, type RealtimeUsage } from '../engines/realtime/protocol.js';
import type { CallUsage } from '../engines/usage.js';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { realClock, type Clock, type TimerHandle } from './clock.js';
import type { CallEvent, CallEventBody, CallSummary, EngineStage, TurnTimeline } from './events.js';
import { charsHeard, wholeWordsWithin } from './heard.js';
import type { CallEndReason, CallIO } from './io.js';
import { SessionRecord } from './record.js';
import type { CallSession } from './session-core.js';

export interface RealtimeCallSettings {
  /** Realtime endpoint without query (wss://api.openai.com/v1/realtime). */
  url: string;
  apiKey: string;
  model: string;
  voice: string;
  instructions: string;
  /** Asked of the model as the call opens (it greets first); without it the caller speaks first. */
  greeting?: string;
  /** Transcribes the caller's turns for the transcript. */
  transcriptionModel: string;
  turnDetection: { threshold: number; silenceDurationMs: number; prefixPaddingMs: number };
  connectTimeoutMs: number;
}

export interface CreateRealtimeSessionArgs {
  io: CallIO;
  language: string;
  logger: Logger;
  realtime: RealtimeCallSettings;
  engines: { resampler: ResamplerFactory; denoiser?: Denoiser };
  /** The call ends with reason 'timeout' after this long (default 1 h). */
  maxCallMs?: number;
  /** Counts the model's tokens per response (as kind 'llm', engine openai-realtime). */
  usage?: CallUsage;
  /** Told of every response's usage as it comes. */
  onUsage?: (usage: RealtimeUsage) => void;
  clock?: Clock;
}

/** One assistant item's audio as it goes out. */
interface BotItem {
  id: string;
  contentIndex: number;
  /** Position of its first frame on the IO's played-audio timeline (ms). */
  startsAtMs: number | undefined;
  writtenMs: number;
  transcript: string;
  done: boolean;
  cut: boolean;
  /** Its transcript line is in the record. */
  recorded: boolean;
  /** The caller turn it answers. */
  turn: TurnTimeline | undefined;
}

/** Errors the session expects and ignores: a cancel racing the server's own (interrupt_response). */
const BENIGN_ERRORS = new Set(['response_cancel_not_active']);

class RealtimeSession implements CallSession {
  readonly id: string;
  private readonly io: CallIO;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly record: SessionRecord;
  private readonly settings: RealtimeCallSettings;
  private readonly controller = new AbortController();
  private client: RealtimeClient | undefined;
  private t0 = 0;
  private runPromise: Promise<CallSummary> | undefined;
  private endReason: { reason: CallEndReason; detail?: string } | undefined;
  private wakeOnEnd: (() => void) | undefined;
  private maxCallTimer: TimerHandle | undefined;
  private denoise: DenoiseStream | undefined;
  private up: Resampler | undefined;
  private down: Resampler | undefined;
  private readonly chunker = new Chunker(PIPELINE_RATE);
  /** Bot audio written to the IO and not cleared, in ms: the played-audio timeline's end. */
  private writtenMs = 0;
  private item: BotItem | undefined;
  private readonly items = new Map<string, BotItem>();
  private responseActive = false;
  private botAudible = false;
  private turnCount = 0;
  private turn: TurnTimeline | undefined;
  /** Turns waiting for their caller transcript, by input item id. */
  private readonly turnsByItem = new Map<string, TurnTimeline>();
  private readonly tasks = new Set<Promise<unknown>>();

  constructor(private readonly args: CreateRealtimeSessionArgs) {
    this.io = args.io;
    this.id = args.io.id;
    this.clock = args.clock ?? realClock;
    this.logger = args.logger.child({ callId: this.id, mode: 'realtime' });
    this.settings = args.realtime;
    this.record = new SessionRecord(this.id, args.language, (e) => this.logger.warn({ err: (e as Error).message }, 'a call event listener threw'));
  }

  on(_event: 'event', listener: (e: CallEvent) => void): void {
    this.record.listeners.add(listener);
  }

  off(_event: 'event', listener: (e: CallEvent) => void): void {
    this.record.listeners.delete(listener);
  }

  report(event: CallEventBody): void {
    this.emit(event);
  }

  run(): Promise<CallSummary> {
    this.runPromise ??= this.runCall();
    return this.runPromise;
  }

  async end(reason: CallEndReason, detail?: string): Promise<void> {
    this.requestEnd(reason, detail);
    if (this.runPromise) await this.runPromise;
  }

  private now(): number {
    return this.clock.now() - this.t0;
  }

  private emit(event: CallEventBody): void {
    this.record.emit(event, this.now());
  }

  private requestEnd(reason: CallEndReason, detail?: string): void {
    if (this.endReason) return;
    this.endReason = { reason, ...(detail ? { detail } : {}) };
    this.controller.abort(new PalabreError('aborted', `the call ended (${reason})`));
    this.wakeOnEnd?.();
  }

  private fault(stage: EngineStage, err: unknown): void {
    if (this.endReason) return;
    this.record.error(stage, err, this.now());
    const why = err instanceof Error ? err.message : String(err);
    this.logger.error({ stage, err: why }, 'realtime call failed');
    this.requestEnd('error', `${stage}: ${why}`);
  }

  // ---- lifecycle ----

  private async runCall(): Promise<CallSummary> {
    this.t0 = this.clock.now();
    this.record.start(this.now());
    this.io.on('hangup', this.onHangup);
    this.io.on('dtmf', this.onDtmf);
    const maxCallMs = this.args.maxCallMs ?? 3_600_000;
    this.maxCallTimer = this.clock.setTimeout(() => this.requestEnd('timeout', `the call reached its ${maxCallMs} ms limit`), maxCallMs);
    try {
      await this.connect();
      if (!this.endReason) {
        if (this.settings.greeting) this.client?.createResponse(this.settings.greeting);
        await this.consumeFrames();
      }
    } catch (err) {
      this.fault('dialog', err);
    }
    if (!this.endReason) this.requestEnd('caller_hangup', 'the transport ended the audio');
    await this.cleanup();
    return this.record.summary(this.now(), this.endReason as { reason: CallEndReason; detail?: string });
  }

  private async connect(): Promise<void> {
    const s = this.settings;
    const { resampler, denoiser } = this.args.engines;
    this.up = resampler.create(this.io.sampleRate, REALTIME_RATE);
    this.down = resampler.create(REALTIME_RATE, this.io.sampleRate);
    this.denoise = denoiser?.createStream(this.io.sampleRate);
    try {
      this.client = await RealtimeClient.connect({
        url: s.url,
        apiKey: s.apiKey,
        model: s.model,
        connectTimeoutMs: s.connectTimeoutMs,
        signal: this.controller.signal,
        session: {
          instructions: s.instructions,
          output_modalities: ['audio'],
          audio: {
            input: {
              format: { type: 'audio/pcm', rate: REALTIME_RATE },
              transcription: { model: s.transcriptionModel, language: this.args.language.split('-')[0] },
              turn_detection: { type: 'server_vad', threshold: s.turnDetection.threshold, silence_duration_ms: s.turnDetection.silenceDurationMs, prefix_padding_ms: s.turnDetection.prefixPaddingMs, create_response: true, interrupt_response: true },
            },
            output: { format: { type: 'audio/pcm', rate: REALTIME_RATE }, voice: s.voice },
          },
        },
      });
    } catch (err) {
      if (this.endReason) return;
      throw err;
    }
    if (this.endReason) {
      await this.client.close();
      return;
    }
    this.client.on('event', (e) => this.onServerEvent(e));
    this.client.on('closed', (err) => {
      if (err) this.fault('dialog', err);
    });
    this.logger.info({ model: s.model }, 'realtime session open');
  }

  /** `work`, or END as soon as the call ends (see session.ts for why not Promise.race). */
  private unlessEnded<T>(work: Promise<T>): Promise<T | typeof END> {
    if (this.endReason) return Promise.resolve(END);
    return new Promise((resolve, reject) => {
      this.wakeOnEnd = () => resolve(END);
      work.then(resolve, reject);
    });
  }

  private async consumeFrames(): Promise<void> {
    const it = this.io.frames()[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = it.next();
        next.catch(() => undefined);
        const r = await this.unlessEnded(next);
        if (r === END || this.endReason || r.done) return;
        this.onFrame(r.value);
      }
    } catch (err) {
      if (!this.endReason) {
        this.record.error('transport', err, this.now());
        this.requestEnd('transport_error', err instanceof Error ? err.message : String(err));
      }
    } finally {
      void it.return?.()?.catch(() => undefined);
    }
  }

  private async cleanup(): Promise<void> {
    if (this.maxCallTimer !== undefined) this.clock.clearTimeout(this.maxCallTimer);
    this.io.off('hangup', this.onHangup);
    this.io.off('dtmf', this.onDtmf);
    const end = this.endReason as { reason: CallEndReason; detail?: string };
    // What was said and not yet transcribed goes in as far as it was heard.
    const item = this.item;
    if (item && !item.cut && item.writtenMs > 0 && !item.done) this.cutItem(item);
    try {
      await this.client?.close();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'closing the realtime connection failed');
    }
    try {
      await this.io.close(end.reason);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'closing the transport failed');
    }
    await Promise.allSettled([...this.tasks]);
    this.denoise?.close();
    this.up?.close();
    this.down?.close();
    if (this.turn) this.finishTurn(this.turn, this.turn.firstAudioOutMs !== undefined ? 'answered' : 'cancelled');
    this.record.end(this.now(), end.reason, end.detail);
  }

  // ---- caller audio in ----

  private onFrame(frame: Frame): void {
    assertFrame(frame, this.io.sampleRate, 'realtime call input');
    let clean = frame;
    if (this.denoise) {
      try {
        clean = this.denoise.process(frame);
      } catch (err) {
        this.record.error('denoise', err, this.now());
      }
    }
    this.client?.appendAudio((this.up as Resampler).process(clean.samples));
  }

  private readonly onHangup = (reason: CallEndReason): void => {
    this.requestEnd(reason || 'caller_hangup');
  };

  private readonly onDtmf = (digit: string): void => {
    if (!this.endReason) this.emit({ type: 'dtmf', digit, accepted: false });
  };

  // ---- the model's events ----

  private onServerEvent(e: RealtimeServerEvent | RealtimeOtherEvent): void {
    if (this.endReason) return;
    const ev = e as RealtimeServerEvent;
    switch (ev.type) {
      case 'input_audio_buffer.speech_started':
        return this.onSpeechStarted(ev.item_id);
      case 'input_audio_buffer.speech_stopped': {
        const turn = this.turn;
        if (!turn) return;
        const at = this.now();
        turn.speechEndMs = at;
        turn.endOfTurnMs = at;
        this.emit({ type: 'speech', phase: 'end', startMs: turn.speechStartMs ?? at, endMs: at, reason: 'silence' });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const turn = this.turnsByItem.get(ev.item_id);
        this.turnsByItem.delete(ev.item_id);
        const text = ev.transcript.trim();
        if (turn) {
          turn.text = text;
          turn.sttFinalMs = this.now();
        }
        if (text) this.record.transcript('caller', text, this.now(), turn ? { turn: turn.turn } : {});
        return;
      }
      case 'response.created':
        this.responseActive = true;
        return;
      case 'response.output_item.added':
        if (ev.item.type === 'message' && ev.item.id) this.startItem(ev.item.id);
        return;
      case 'response.output_audio.delta':
        return this.onAudio(ev.item_id, ev.content_index, ev.delta);
      case 'response.output_audio_transcript.delta': {
        const item = this.items.get(ev.item_id);
        if (item && !item.cut) item.transcript += ev.delta;
        return;
      }
      case 'response.output_audio_transcript.done': {
        const item = this.items.get(ev.item_id);
        if (item && !item.cut) item.transcript = ev.transcript;
        return;
      }
      case 'response.output_audio.done': {
        const item = this.items.get(ev.item_id);
        if (item && !item.cut) this.flushItem(item);
        return;
      }
      case 'response.done':
        return this.onResponseDone(ev.response);
      case 'error':
        return this.onError(ev.error);
      default:
        return;
    }
  }

  private onSpeechStarted(itemId: string): void {
    const at = this.now();
    if (this.turn) this.finishTurn(this.turn, this.turn.firstAudioOutMs !== undefined ? 'answered' : 'empty');
    const turn: TurnTimeline = { turn: ++this.turnCount, kind: 'speech', speechStartMs: at, endOfTurnMs: at, endReason: 'silence', outcome: 'answered' };
    this.turn = turn;
    this.turnsByItem.set(itemId, turn);
    this.emit({ type: 'speech', phase: 'start', startMs: at });
    const item = this.item;
    if (!item || item.cut || !this.botStillTalking(item)) return;
    // Barge-in: silence the bot now, then tell the model where it was cut.
    const dropped = this.io.clear();
    this.writtenMs = Math.max(0, this.writtenMs - dropped);
    this.chunker.reset();
    this.down?.flush();
    const stopped = this.now();
    const playedMs = this.playedOf(item);
    this.client?.truncate(item.id, item.contentIndex, playedMs);
    if (this.responseActive) this.client?.cancelResponse();
    turn.bargeIn = { detectedAtMs: at, stoppedAtMs: stopped };
    this.record.bargeIn();
    const heard = this.cutItem(item, playedMs);
    this.emit({ type: 'barge-in', outcome: 'detected', turn: turn.turn, speechStartMs: at, reactionMs: Math.round((stopped - at) * 10) / 10, heard });
    this.setAudible(false);
  }

  private startItem(id: string): void {
    const previous = this.item;
    if (previous && !previous.cut && !previous.done) this.flushItem(previous);
    const item: BotItem = { id, contentIndex: 0, startsAtMs: undefined, writtenMs: 0, transcript: '', done: false, cut: false, recorded: false, turn: this.turn };
    this.items.set(id, item);
    this.item = item;
  }

  private onAudio(itemId: string, contentIndex: number, delta: string): void {
    let item = this.items.get(itemId);
    if (!item) {
      this.startItem(itemId);
      item = this.items.get(itemId) as BotItem;
    }
    if (item.cut) return;
    item.contentIndex = contentIndex;
    const pcm = decodeSlinLe(Buffer.from(delta, 'base64'));
    const frames = this.chunker.push((this.down as Resampler).process(pcm));
    this.write(item, frames);
  }

  private write(item: BotItem, frames: Frame[]): void {
    if (frames.length === 0) return;
    if (item.startsAtMs === undefined) {
      item.startsAtMs = this.writtenMs;
      const turn = item.turn;
      if (turn && turn.firstAudioOutMs === undefined) turn.firstAudioOutMs = this.now();
    }
    for (const f of frames) {
      this.io.write(f);
      this.writtenMs += FRAME_MS;
      item.writtenMs += FRAME_MS;
    }
    this.setAudible(true);
  }

  /** The item's audio is complete: its last partial frame goes out, and its line is transcribed once played. */
  private flushItem(item: BotItem): void {
    if (item.done) return;
    item.done = true;
    const last = this.chunker.flush(true);
    if (last) this.write(item, [last]);
    const played = this.io.waitForPlayout().then(() => {
      if (item.cut || item.recorded) return;
      item.recorded = true;
      const text = item.transcript.trim();
      if (item.writtenMs > 0 && text) this.record.transcript('bot', text, this.now(), item.turn ? { turn: item.turn.turn } : {});
      if (this.item === item) this.setAudible(false);
    });
    this.track(played);
  }

  /** Marks the item cut at `playedMs` and records its line with what was heard; returns that. */
  private cutItem(item: BotItem, playedMs = this.playedOf(item)): string {
    item.cut = true;
    if (item.recorded) return '';
    item.recorded = true;
    const text = item.transcript.trim();
    const heard = wholeWordsWithin(text, charsHeard(text.length, playedMs, Math.max(item.writtenMs, playedMs)));
    if (playedMs > 0 && text) this.record.transcript('bot', text, this.now(), { ...(item.turn ? { turn: item.turn.turn } : {}), cut: true, heard });
    return heard;
  }

  private botStillTalking(item: BotItem): boolean {
    if (!item.done && this.responseActive) return true;
    return this.playedOf(item) < item.writtenMs;
  }

  /** Ms of `item` played so far, from the IO's progress. */
  private playedOf(item: BotItem): number {
    if (item.startsAtMs === undefined) return 0;
    return Math.min(item.writtenMs, Math.max(0, this.io.playedMs() - item.startsAtMs));
  }

  private onResponseDone(response: { status?: string; usage?: RealtimeUsage; status_details?: { error?: { message?: string; code?: string } } | null }): void {
    this.responseActive = false;
    if (response.usage) {
      this.args.usage?.add('llm', ENGINE, { requests: 1, promptTokens: response.usage.input_tokens ?? 0, completionTokens: response.usage.output_tokens ?? 0 });
      this.args.onUsage?.(response.usage);
    }
    const item = this.item;
    if (item && !item.cut && !item.done && response.status !== 'in_progress') this.flushItem(item);
    if (response.status === 'failed') {
      const detail = response.status_details?.error;
      this.record.error('dialog', new PalabreError('engine_failed', `openai realtime: the response failed${detail?.message ? `: ${detail.message}` : ''}`, { details: { engine: ENGINE, retryable: true, code: detail?.code } }), this.now());
    }
  }

  private onError(body: RealtimeErrorBody): void {
    if (body.code && BENIGN_ERRORS.has(body.code)) return;
    const err = serverError(body);
    this.record.error('dialog', err, this.now());
    this.logger.warn({ type: body.type, code: body.code, err: body.message }, 'the realtime API reported an error');
  }

  private setAudible(audible: boolean): void {
    if (audible === this.botAudible) return;
    this.botAudible = audible;
    this.emit({ type: 'bot-audio', phase: audible ? 'start' : 'end' });
  }

  private finishTurn(turn: TurnTimeline, outcome: TurnTimeline['outcome']): void {
    if (this.turn === turn) this.turn = undefined;
    turn.outcome = outcome;
    this.record.turn(turn, this.now());
  }

  private track<T>(work: Promise<T>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.tasks.add(settled);
    void settled.then(() => this.tasks.delete(settled));
  }
}

const END = Symbol('end');

export function createRealtimeSession(args: CreateRealtimeSessionArgs): CallSession {
  return new RealtimeSession(args);
}

/** What the settings of a `mode: realtime` flow and the server's engines.realtime section make for one call. */
export function realtimeSettingsFor(flow: LoadedFlow, config: Config['engines']['realtime'], language: string): RealtimeCallSettings {
  if (!config.apiKey) throw new PalabreError('engine_unavailable', `flow ${flow.id} talks through the OpenAI Realtime API, which is not configured: set engines.realtime.apiKey`);
  const def = flow.definition;
  const rt = def.realtime ?? {};
  const lang = pickLanguage(def, language);
  const instructions = flow.realtimeInstructions?.[lang] ?? '';
  const greeting = rt.greeting === undefined ? undefined : typeof rt.greeting === 'string' ? rt.greeting : (rt.greeting[lang] ?? Object.values(rt.greeting)[0]);
  const td = rt.turn_detection ?? {};
  return {
    url: config.baseUrl,
    apiKey: config.apiKey,
    model: rt.model ?? config.model,
    voice: rt.voice ?? config.voice,
    instructions,
    ...(greeting ? { greeting } : {}),
    transcriptionModel: config.transcriptionModel,
    turnDetection: { threshold: td.threshold ?? 0.5, silenceDurationMs: td.silence_duration_ms ?? 500, prefixPaddingMs: td.prefix_padding_ms ?? 300 },
    connectTimeoutMs: config.connectTimeoutMs,
  };
}

/** The flow's language for a call in `language` (en-US → en), else its default. */
function pickLanguage(def: LoadedFlow['definition'], language: string): FlowLanguage {
  const primary = language.split('-')[0] as FlowLanguage;
  if (def.languages.includes(primary)) return primary;
  return def.default_language ?? def.languages[0];
}
