import type { AudioChunk } from '../../audio/frame.js';

/** Speaking styles of the coaching product; each maps to rate, pitch and volume. */
export const SPEAKING_STYLES = ['neutre', 'encouragement', 'empathie', 'enthousiasme_modere', 'curiosite', 'reflexion'] as const;
export type SpeakingStyle = (typeof SPEAKING_STYLES)[number];

export interface TtsVoice {
  id: string;
  language: string;
  name?: string;
  gender?: 'female' | 'male';
}

export interface TtsOptions {
  voice?: string;
  language?: string;
  style?: SpeakingStyle;
  signal?: AbortSignal;
}

export interface Tts {
  readonly name: string;
  /** Rate of the chunks synthesize() yields. */
  readonly sampleRate: number;
  readonly languages: readonly string[];
  voices(): readonly TtsVoice[];
  /**
   * Yields audio as it is synthesised, so the first chunk can be played before the text is done.
   * Engines that know when each word is spoken attach the timings (see TimedAudioChunk).
   */
  synthesize(text: string, options?: TtsOptions): AsyncIterable<AudioChunk>;
  close(): Promise<void>;
}

/** An engine that can say which voice a request would be spoken with, without speaking it. */
export interface VoiceResolvingTts extends Tts {
  /** The voice id the options select; throws bad_request for an unknown voice or language. */
  resolveVoice(options?: TtsOptions): string;
}

export function canResolveVoice(tts: Tts): tts is VoiceResolvingTts {
  return typeof (tts as Partial<VoiceResolvingTts>).resolveVoice === 'function';
}

/**
 * Formats an engine may deliver directly, named `<codec>_<rate>` (ElevenLabs' names, which
 * say all a transport needs): pcm_* is little-endian signed 16-bit mono, ulaw/alaw G.711.
 * A telephone line asks for ulaw_8000 and plays the bytes as they come, with no resampling.
 */
export const TTS_OUTPUT_FORMATS = ['pcm_8000', 'pcm_16000', 'pcm_22050', 'pcm_24000', 'pcm_32000', 'pcm_44100', 'pcm_48000', 'ulaw_8000', 'alaw_8000'] as const;
export type TtsOutputFormat = (typeof TTS_OUTPUT_FORMATS)[number];
export type TtsEncoding = 'pcm16' | 'ulaw' | 'alaw';

/** Encoding and rate of a named format. */
export function outputFormatInfo(format: TtsOutputFormat): { encoding: TtsEncoding; sampleRate: number; bytesPerSample: number } {
  const [codec, rate] = format.split('_');
  const encoding: TtsEncoding = codec === 'pcm' ? 'pcm16' : (codec as TtsEncoding);
  return { encoding, sampleRate: Number(rate), bytesPerSample: encoding === 'pcm16' ? 2 : 1 };
}

/** The named format for an encoding and rate, if there is one. */
export function outputFormatOf(encoding: TtsEncoding, sampleRate: number): TtsOutputFormat | undefined {
  const name = `${encoding === 'pcm16' ? 'pcm' : encoding}_${sampleRate}`;
  return (TTS_OUTPUT_FORMATS as readonly string[]).includes(name) ? (name as TtsOutputFormat) : undefined;
}

/** When one word of the spoken text is heard. */
export interface TtsWordTiming {
  word: string;
  /** [charStart, charEnd) of the word in the text as synthesised (whitespace-normalised). */
  charStart: number;
  charEnd: number;
  /** From the start of this synthesis's audio, in ms. */
  startMs: number;
  endMs: number;
}

/** A chunk that may carry the timings of the words that became complete with it. */
export interface TimedAudioChunk extends AudioChunk {
  readonly words?: readonly TtsWordTiming[];
}

/** Audio in a named format, with the timings of the words that became complete with it. */
export interface EncodedTtsChunk {
  readonly bytes: Uint8Array;
  readonly format: TtsOutputFormat;
  readonly words?: readonly TtsWordTiming[];
}

/** An engine that delivers other formats than PCM at its own rate without converting them. */
export interface DirectFormatTts extends Tts {
  readonly outputFormats: readonly TtsOutputFormat[];
  /** Like synthesize(), in `format`; pcm chunks always hold whole samples. */
  synthesizeAs(text: string, format: TtsOutputFormat, options?: TtsOptions): AsyncIterable<EncodedTtsChunk>;
}

export function canSynthesizeAs(tts: Tts, format: TtsOutputFormat): tts is DirectFormatTts {
  const d = tts as Partial<DirectFormatTts>;
  return typeof d.synthesizeAs === 'function' && Array.isArray(d.outputFormats) && d.outputFormats.includes(format);
}

/**
 * An engine that speaks text while it is still being written (an LLM's reply, one
 * sentence at a time) as one utterance, keeping the prosody across pieces.
 */
export interface TextStreamTts extends Tts {
  /** Word offsets refer to the pieces joined with single spaces. Default format: pcm at `sampleRate`. */
  synthesizeTextStream(pieces: AsyncIterable<string>, options?: TtsOptions & { format?: TtsOutputFormat }): AsyncIterable<EncodedTtsChunk>;
}

export function canStreamText(tts: Tts): tts is TextStreamTts {
  return typeof (tts as Partial<TextStreamTts>).synthesizeTextStream === 'function';
}
