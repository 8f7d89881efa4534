/**
 * Shared by the call tests and bench: the real engines (Silero VAD,
 * PocketSphinx, flite through the phrase cache), a scripted dialog of our own
 * (the DialogRuntime interface, no flow file), an STT wrapper that records what
 * reached the engine, and helpers to place real speech on a timeline.
 */
import { PIPELINE_RATE, type AudioChunk, type Frame } from '../audio/frame.js';
import { loadResampler, type ResamplerFactory } from '../audio/resample.js';
import { createStt } from '../engines/stt/index.js';
import type { Stt, SttEvent, SttOptions, SttResult, SttStream } from '../engines/stt/types.js';
import { fliteSpeech } from '../engines/stt/test-support.js';
import { PhraseCache } from '../engines/tts/phrase-cache.js';
import { createTts } from '../engines/tts/index.js';
import { canResolveVoice, type Tts, type TtsOptions } from '../engines/tts/types.js';
import { createSileroVad } from '../engines/vad/silero.js';
import type { Vad, VadStream } from '../engines/vad/types.js';
import type { DialogEvent, DialogOutput, DialogRuntime, DialogSnapshot, ListenSpec } from '../dialog/types.js';
import { PalabreError } from '../errors.js';
import { silentLogger } from '../log.js';
import { createFastClock, type Clock } from './clock.js';
import type { CallEvent, CallSummary } from './events.js';
import { createMemoryIO, type MemoryIO } from './memory-io.js';
import { createCallSession, type CallSession, type CallSessionOptions, type SessionEngines } from './session.js';
import { defaultListen } from './turn-taking.js';

export interface TestEngines {
  vad: Vad;
  stt: Stt;
  tts: Tts;
  resampler: ResamplerFactory;
  close(): Promise<void>;
}

export async function loadTestEngines(): Promise<TestEngines> {
  const [vad, stt, tts, resampler] = await Promise.all([createSileroVad(), createStt('pocketsphinx', { pocketsphinx: { poolSize: 2 } }), createTts('flite'), loadResampler()]);
  return {
    vad,
    stt,
    tts,
    resampler,
    async close() {
      await Promise.allSettled([vad.close(), stt.close(), tts.close()]);
    },
  };
}

export function sessionEngines(e: TestEngines, stt: Stt = e.stt, cache = new PhraseCache({ resampler: e.resampler })): SessionEngines {
  return { vad: e.vad, stt, tts: e.tts, cache, resampler: e.resampler };
}

// ---- dialog ----

export function say(text: string): DialogOutput {
  return { type: 'say', text, language: 'en', cacheable: true };
}

export function listen(over: Partial<ListenSpec> = {}): DialogOutput {
  return { type: 'listen', spec: { ...defaultListen(), ...over } };
}

export const hangup: DialogOutput = { type: 'hangup', reason: 'done' };

/** A DialogRuntime answering from a function: what the session's tests need of a dialog, and no more. */
export class ScriptedDialog implements DialogRuntime {
  /** Events handled, the final `hangup` aside (see `hangups`). */
  readonly events: DialogEvent[] = [];
  /** Reasons given by `hangup` events: the call ended without the dialog ending it. */
  readonly hangups: string[] = [];
  /** Signals handed to handle(), to check they are aborted when the call ends. */
  readonly signals: AbortSignal[] = [];
  private ended = false;

  constructor(
    private readonly first: DialogOutput[],
    private readonly answer: (event: DialogEvent, count: number) => DialogOutput[] | Promise<DialogOutput[]>,
    private readonly onHangup: (reason: string) => DialogOutput[] = () => [],
  ) {}

  async start(): Promise<DialogOutput[]> {
    return this.first;
  }

  async handle(event: DialogEvent, signal?: AbortSignal): Promise<DialogOutput[]> {
    if (event.type === 'hangup') {
      this.hangups.push(event.reason);
      this.ended = true;
      return this.onHangup(event.reason);
    }
    this.events.push(event);
    if (signal) this.signals.push(signal);
    const out = await this.answer(event, this.events.length);
    if (out.some((o) => o.type === 'hangup')) this.ended = true;
    return out;
  }

  snapshot(): DialogSnapshot {
    return { flow: 'scripted', state: 'any', language: 'en', slots: {}, variables: {}, counters: {}, ended: this.ended, records: [] };
  }

  utterances(): string[] {
    return this.events.flatMap((e) => (e.type === 'utterance' ? [e.text] : []));
  }
}

// ---- STT spy ----

export interface SttCall {
  kind: 'batch' | 'stream';
  /** Audio the engine received, in ms. */
  audioMs: number;
  startedAt: number;
  text?: string;
}

/**
 * Wraps a real engine and records every request (batch or stream) with how
 * much audio reached it; can be told to fail, as an engine that breaks would.
 */
export class SpyStt implements Stt {
  readonly calls: SttCall[] = [];
  failWith: Error | undefined;
  /** Streams opened and not yet closed or finished. */
  openStreams = 0;

  constructor(private readonly inner: Stt) {}

  get name(): string {
    return this.inner.name;
  }
  get sampleRate(): number {
    return this.inner.sampleRate;
  }
  get languages(): readonly string[] {
    return this.inner.languages;
  }
  get streaming(): boolean {
    return this.inner.streaming;
  }

  /** Total caller audio that reached the engine, in ms. */
  get audioMs(): number {
    return this.calls.reduce((n, c) => n + c.audioMs, 0);
  }

  async transcribe(audio: AudioChunk, options?: SttOptions): Promise<SttResult> {
    const call: SttCall = { kind: 'batch', audioMs: (audio.samples.length * 1000) / audio.sampleRate, startedAt: performance.now() };
    this.calls.push(call);
    if (this.failWith) throw this.failWith;
    const r = await this.inner.transcribe(audio, options);
    call.text = r.text;
    return r;
  }

  stream(options?: SttOptions): SttStream {
    if (this.failWith) throw this.failWith;
    const inner = this.inner.stream?.(options);
    if (!inner) throw new PalabreError('bad_request', `${this.inner.name} does not stream`);
    const call: SttCall = { kind: 'stream', audioMs: 0, startedAt: performance.now() };
    this.calls.push(call);
    this.openStreams++;
    let open = true;
    const done = (): void => {
      if (open) this.openStreams--;
      open = false;
    };
    return {
      push: (frame: Frame) => {
        call.audioMs += (frame.samples.length * 1000) / frame.sampleRate;
        inner.push(frame);
      },
      events: (): AsyncIterable<SttEvent> => inner.events(),
      finish: async () => {
        try {
          const r = await inner.finish();
          call.text = r.text;
          return r;
        } finally {
          done();
        }
      },
      close: () => {
        done();
        inner.close();
      },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// ---- TTS and VAD spies ----

/** Wraps a TTS: counts syntheses under way and those that were aborted. */
export class SpyTts implements Tts {
  active = 0;
  started = 0;
  aborted = 0;
  failWith: Error | undefined;
  /** Present when the wrapped engine has it, so the phrase cache keys phrases by the same voice. */
  readonly resolveVoice?: (options?: TtsOptions) => string;

  constructor(private readonly inner: Tts) {
    if (canResolveVoice(inner)) this.resolveVoice = (options) => inner.resolveVoice(options);
  }

  get name(): string {
    return this.inner.name;
  }
  get sampleRate(): number {
    return this.inner.sampleRate;
  }
  get languages(): readonly string[] {
    return this.inner.languages;
  }
  voices(): ReturnType<Tts['voices']> {
    return this.inner.voices();
  }

  async *synthesize(text: string, options?: TtsOptions): AsyncGenerator<AudioChunk, void, undefined> {
    this.active++;
    this.started++;
    try {
      if (this.failWith) throw this.failWith;
      yield* this.inner.synthesize(text, options);
    } finally {
      this.active--;
      if (options?.signal?.aborted) this.aborted++;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Wraps a VAD: counts streams created and closed. */
export function countingVad(inner: Vad): Vad & { created: number; closed: number } {
  const counts = { created: 0, closed: 0 };
  return Object.assign(counts, {
    name: inner.name,
    sampleRate: inner.sampleRate,
    createStream: (options?: Parameters<Vad['createStream']>[0]): VadStream => {
      const s = inner.createStream(options);
      counts.created++;
      let closed = false;
      return {
        process: (f: Frame) => s.process(f),
        reset: () => s.reset(),
        close: () => {
          if (!closed) counts.closed++;
          closed = true;
          s.close();
        },
      };
    },
    close: () => Promise.resolve(),
  });
}

// ---- speech on a timeline ----

export function speech(text: string): Promise<AudioChunk> {
  return fliteSpeech(text, 'slt');
}

/** Where the sound in a chunk starts and ends (10 ms windows above about -40 dBFS), in ms. */
export function soundBounds(chunk: AudioChunk): { startMs: number; endMs: number } {
  const win = chunk.sampleRate / 100;
  let first = -1;
  let last = -1;
  for (let i = 0; i + win <= chunk.samples.length; i += win) {
    let e = 0;
    for (let k = 0; k < win; k++) e += chunk.samples[i + k] ** 2;
    if (Math.sqrt(e / win) > 300) {
      if (first < 0) first = i;
      last = i + win;
    }
  }
  return { startMs: (first * 1000) / chunk.sampleRate, endMs: (last * 1000) / chunk.sampleRate };
}

export function silenceChunk(ms: number): AudioChunk {
  return { samples: new Int16Array((PIPELINE_RATE * ms) / 1000), sampleRate: PIPELINE_RATE };
}

// ---- running a call ----

export interface TestCall {
  session: CallSession;
  io: MemoryIO;
  clock: Clock;
  events: CallEvent[];
  summary: Promise<CallSummary>;
  /** IO time (ms since the IO was created) of session time 0. */
  offset: () => number;
  of<T extends CallEvent['type']>(type: T): Array<Extract<CallEvent, { type: T }>>;
}

export function startCall(engines: SessionEngines, dialog: DialogRuntime, options: CallSessionOptions = {}, clock: Clock = createFastClock()): TestCall {
  const io = createMemoryIO({ clock });
  const session = createCallSession({ io, dialog, engines, language: 'en', logger: silentLogger, clock, options });
  const events: CallEvent[] = [];
  let offset = NaN;
  session.on('event', (e) => {
    if (e.type === 'call-started') offset = io.nowMs() - e.atMs;
    events.push(e);
  });
  const summary = session.run();
  return {
    session,
    io,
    clock,
    events,
    summary,
    offset: () => offset,
    of: <T extends CallEvent['type']>(type: T) => events.filter((e): e is Extract<CallEvent, { type: T }> => e.type === type),
  };
}
