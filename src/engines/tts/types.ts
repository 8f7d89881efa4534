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
  /** Yields audio as it is synthesised, so the first chunk can be played before the text is done. */
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
