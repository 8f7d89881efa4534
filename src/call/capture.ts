/**
 * The caller's audio for speech-to-text. Keeps the last few seconds of inbound
 * frames (speech is confirmed a little after it began, so a turn starts with
 * some audio from before), collects a turn's frames from its start to its end,
 * and gets the transcript: from the engine's stream when it has one (frames go
 * to it while the caller speaks, the final comes at end of turn), else with one
 * batch request on the turn's audio. A stream that fails falls back to the
 * batch request on the same audio.
 *
 * A stream is opened with the listening state's endpointing (sttEndpointing),
 * so an engine that endpoints itself (Deepgram) waits for the pauses the state
 * waits for. When the engine reports that it heard speech start (`speech-started`),
 * onSpeechStarted says so in call time; the session may take it as a second
 * opinion for barge-in (TurnDetector.sttSpeechStarted). The VAD stays the
 * detector that opens turns: it runs locally on every frame with no network
 * delay, works with every engine, and a turn's stream only exists once the VAD
 * has heard speech, so the engine cannot hear a turn begin before the VAD does.
 */
import type { AudioChunk, Frame } from '../audio/frame.js';
import { resampleWith, type Resampler, type ResamplerFactory } from '../audio/resample.js';
import type { Endpointing, ListenSpec } from '../dialog/types.js';
import type { Stt, SttOptions, SttResult, SttStream } from '../engines/stt/types.js';
import { PalabreError } from '../errors.js';
import type { Logger } from '../log.js';
import { TimedAudio } from './timed-audio.js';

export interface CaptureOptions {
  stt: Stt;
  resampler: ResamplerFactory;
  /** Rate of the frames pushed. */
  sampleRate: number;
  language: string;
  /** Use stt.stream() when the engine has it. */
  streaming: boolean;
  /** Audio kept before the speech start (default 300 ms). */
  prerollMs?: number;
  /** Audio kept after the end of speech for a batch request (default 200 ms). */
  trailMs?: number;
  /** How much recent audio is kept for the pre-roll and the start of a turn (default 3000 ms). */
  historyMs?: number;
  logger: Logger;
  onPartial?: (turn: number, text: string) => void;
  /** The STT engine heard speech start in `turn`, at `atMs` (ms since the call started). */
  onSpeechStarted?: (turn: number, atMs: number) => void;
}

/** What a turn's STT request takes from the listening state. */
export type TurnListen = Pick<Partial<ListenSpec>, 'hints' | 'endpointing'>;

/** Deepgram does not advise an utterance end under a second: its interim results come about once a second. */
const MIN_UTTERANCE_END_MS = 1000;

/**
 * The state's endpointing as STT options. Silence endpointing: the engine ends a
 * segment after the same silence that ends the turn, and marks an utterance end no
 * sooner. Digits: spoken chunks are cut by the turn detector itself, so only the
 * utterance end follows the wait for the next digit; the engine keeps its own endpointing.
 */
export function sttEndpointing(endpointing: Endpointing | undefined): Pick<SttOptions, 'endpointingMs' | 'utteranceEndMs'> {
  if (!endpointing) return {};
  if (endpointing.mode === 'silence') return { endpointingMs: endpointing.silenceMs, utteranceEndMs: Math.max(MIN_UTTERANCE_END_MS, endpointing.silenceMs) };
  return { utteranceEndMs: Math.max(MIN_UTTERANCE_END_MS, endpointing.interDigitMs) };
}

export interface TurnAudio {
  /** Audio from the pre-roll to the end of speech (plus trailMs). */
  readonly audio: AudioChunk;
  /** The transcript; rejects when the STT fails or the signal fires. */
  final(signal: AbortSignal): Promise<SttResult>;
  /** Closes the stream if it is still open. */
  close(): void;
}

interface Active {
  turn: number;
  /** The turn's audio so far, each frame with its end (ms since the call started). */
  audio: TimedAudio;
  stream?: SttStream;
  resampler?: Resampler;
  hints?: string[];
  /** Call time of the first audio sent to the stream (where the engine's times count from). */
  streamStartMs: number;
  events?: Promise<void>;
}

export class SpeechCapture {
  /** Recent audio for the pre-roll, as samples: frames held for seconds would all outlive the GC's young generation. */
  private readonly history: TimedAudio;
  private readonly historyMs: number;
  private readonly prerollMs: number;
  private readonly trailMs: number;
  private active: Active | undefined;
  private readonly open = new Set<SttStream>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: CaptureOptions) {
    this.prerollMs = options.prerollMs ?? 300;
    this.trailMs = options.trailMs ?? 200;
    this.historyMs = Math.max(options.historyMs ?? 3000, this.prerollMs + 1000);
    this.history = new TimedAudio(options.sampleRate, this.historyMs + 500);
  }

  /** Streams still open (0 once every turn has ended or been cancelled). */
  get openStreams(): number {
    return this.open.size;
  }

  push(frame: Frame, endMs: number): void {
    this.history.append(frame.samples, endMs);
    this.history.dropWhile((at) => endMs - at > this.historyMs);
    const a = this.active;
    if (!a) return;
    a.audio.append(frame.samples, endMs);
    if (a.stream) this.feed(a, frame);
  }

  /**
   * Starts collecting a turn whose speech began at `speechStartMs`, pre-roll
   * included but nothing from before `notBeforeMs` (audio the STT must not hear),
   * for the listening state `listen` (its hints and endpointing go to the STT).
   */
  begin(turn: number, speechStartMs: number, notBeforeMs: number, listen: TurnListen | undefined, signal: AbortSignal): void {
    this.cancel();
    const from = Math.max(speechStartMs - this.prerollMs, notBeforeMs);
    const audio = new TimedAudio(this.options.sampleRate);
    this.history.forEach(from, (samples, endMs) => audio.append(samples, endMs));
    const hints = listen?.hints;
    const streamStartMs = audio.firstStartMs ?? speechStartMs;
    const a: Active = { turn, audio, hints, streamStartMs };
    this.active = a;
    const stt = this.options.stt;
    if (!this.options.streaming || !stt.streaming || !stt.stream) return;
    try {
      a.stream = stt.stream({ language: this.options.language, hints, ...sttEndpointing(listen?.endpointing), signal });
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'STT stream did not open; this turn is transcribed in one request');
      return;
    }
    this.open.add(a.stream);
    if (stt.sampleRate !== this.options.sampleRate) a.resampler = this.options.resampler.create(this.options.sampleRate, stt.sampleRate);
    // Copies: a stream may queue what it is given, and these are views of the turn's buffer.
    a.audio.forEach(-Infinity, (samples) => this.feed(a, { samples: samples.slice(), sampleRate: this.options.sampleRate }));
    a.events = this.readPartials(a, a.stream);
    this.pending.add(a.events);
    void a.events.finally(() => this.pending.delete(a.events as Promise<void>));
  }

  /** Ends the turn at `speechEndMs`: stops collecting and returns its audio and transcript. */
  end(speechEndMs: number): TurnAudio {
    const a = this.active;
    if (!a) throw new PalabreError('internal', 'speech capture ended with no turn begun');
    this.active = undefined;
    const audio = a.audio.until(speechEndMs + this.trailMs);
    const stream = a.stream;
    const close = (): void => this.closeStream(a);
    const batch = (signal: AbortSignal): Promise<SttResult> => {
      const stt = this.options.stt;
      const input = audio.sampleRate === stt.sampleRate ? audio : resampleWith(this.options.resampler, audio, stt.sampleRate);
      return stt.transcribe(input, { language: this.options.language, hints: a.hints, signal });
    };
    return {
      audio,
      close,
      final: async (signal) => {
        if (!stream) return batch(signal);
        try {
          const tail = a.resampler?.flush();
          if (tail && tail.length > 0) stream.push({ samples: tail, sampleRate: this.options.stt.sampleRate });
          return await stream.finish();
        } catch (err) {
          if (signal.aborted || (err instanceof PalabreError && err.code === 'aborted')) throw err;
          this.options.logger.warn({ err: (err as Error).message }, 'STT stream failed; transcribing the turn in one request');
          return batch(signal);
        } finally {
          close();
        }
      },
    };
  }

  /** Drops the turn being collected (its speech was ignored after all, or the call ended). */
  cancel(): void {
    const a = this.active;
    this.active = undefined;
    if (a) this.closeStream(a);
  }

  /** Ends everything; resolves once the partial readers have stopped. */
  async close(): Promise<void> {
    this.cancel();
    for (const s of [...this.open]) {
      try {
        s.close();
      } catch {
        // Closing is best effort: the stream is dropped either way.
      }
    }
    this.open.clear();
    this.history.clear();
    await Promise.allSettled([...this.pending]);
  }

  private feed(a: Active, frame: Frame): void {
    const stream = a.stream;
    if (!stream) return;
    try {
      if (a.resampler) {
        const samples = a.resampler.process(frame.samples);
        if (samples.length > 0) stream.push({ samples, sampleRate: this.options.stt.sampleRate });
      } else {
        stream.push(frame);
      }
    } catch (err) {
      // The stream refused audio (closed, too long): finish() will fail and the batch request takes over.
      this.options.logger.debug({ err: (err as Error).message }, 'STT stream refused a frame');
    }
  }

  private async readPartials(a: Active, stream: SttStream): Promise<void> {
    try {
      for await (const e of stream.events()) {
        if (e.type === 'partial') this.options.onPartial?.(a.turn, e.text);
        // Only while the turn is still collecting: a late event for an ended turn says nothing about now.
        else if (e.type === 'speech-started' && this.active === a) this.options.onSpeechStarted?.(a.turn, a.streamStartMs + Math.max(0, e.at ?? 0) * 1000);
      }
    } catch {
      // A failed stream reports through finish(); partials simply stop.
    }
  }

  private closeStream(a: Active): void {
    if (a.stream) {
      try {
        a.stream.close();
      } catch {
        // Best effort, as in close().
      }
      this.open.delete(a.stream);
    }
    a.resampler?.close();
    a.resampler = undefined;
  }
}
