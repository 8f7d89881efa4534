/**
 * A stand-in for recognition in the call benchmark, so the figures measure the
 * media path (transport, VAD, turn-taking, dialog, phrase-cache TTS) and not a
 * recogniser. It does not listen: the simulated caller announces each line it
 * is about to say (a cue, keyed by the call's transport id), and the next final
 * transcript of that call is that line. Not an engine, and never one: it lives
 * with the benchmark only.
 *
 * The seam is `SttSource` (call id → Stt): a network STT (the Deepgram-compatible
 * loopback server, once it exists) plugs in as a source that returns the same
 * shared engine for every call.
 */
import type { AudioChunk, Frame } from '../../src/audio/frame.js';
import { PIPELINE_RATE } from '../../src/audio/frame.js';
import type { Stt, SttEvent, SttOptions, SttResult, SttStream } from '../../src/engines/stt/types.js';

/** The STT a call uses, by the transport's call id. */
export type SttSource = (callId: string) => Stt | Promise<Stt>;

export class ScriptedRecognition {
  private readonly cues = new Map<string, string>();
  /** Finals answered from a cue, and those that found none (speech the script did not announce). */
  readonly stats = { answered: 0, uncued: 0 };

  /** The caller of `callId` is about to say `text`. */
  cue(callId: string, text: string): void {
    this.cues.set(callId, text);
  }

  /** Forgets a call's pending cue (the call ended). */
  forget(callId: string): void {
    this.cues.delete(callId);
  }

  readonly source: SttSource = (callId) => new ScriptedStt(this, callId);

  /** The cued line, once: a second turn cut from the same line gets nothing rather than the line again. */
  take(callId: string): string {
    const text = this.cues.get(callId);
    this.cues.delete(callId);
    if (text === undefined) this.stats.uncued++;
    else this.stats.answered++;
    return text ?? '';
  }
}

function result(text: string, samples: number, language: string): SttResult {
  const duration = samples / PIPELINE_RATE;
  return { text, language, segments: text ? [{ id: 0, start: 0, end: duration, text }] : [], duration, engine: 'scripted' };
}

class ScriptedStream implements SttStream {
  private samples = 0;
  private done!: () => void;
  private readonly ended = new Promise<void>((resolve) => (this.done = resolve));

  constructor(
    private readonly owner: ScriptedStt,
    private readonly language: string,
  ) {}

  push(frame: Frame): void {
    this.samples += frame.samples.length;
  }

  /** No partials: the stream's events end with it. */
  events(): AsyncIterable<SttEvent> {
    const ended = this.ended;
    return {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<SttEvent>> => {
          await ended;
          return { done: true, value: undefined };
        },
      }),
    };
  }

  async finish(): Promise<SttResult> {
    this.done();
    return result(this.owner.take(), this.samples, this.language);
  }

  close(): void {
    this.done();
  }
}

class ScriptedStt implements Stt {
  readonly name = 'scripted';
  readonly sampleRate = PIPELINE_RATE;
  readonly languages: readonly string[] = [];
  readonly streaming = true;

  constructor(
    private readonly recognition: ScriptedRecognition,
    private readonly callId: string,
  ) {}

  take(): string {
    return this.recognition.take(this.callId);
  }

  async transcribe(audio: AudioChunk, options?: SttOptions): Promise<SttResult> {
    return result(this.take(), audio.samples.length, options?.language ?? 'en');
  }

  stream(options?: SttOptions): SttStream {
    return new ScriptedStream(this, options?.language ?? 'en');
  }

  async close(): Promise<void> {}
}
