import { PalabreError } from '../../errors.js';
import { SPEAKING_STYLES, type SpeakingStyle } from './types.js';

/**
 * How a speaking style shapes the voice, in units no engine uses directly so that
 * each engine converts them into its own (espeak words/min and 0–99 pitch, flite
 * duration stretch and target F0 in Hz).
 */
export interface Prosody {
  /** Multiplier of the voice's normal speaking rate (1 = normal, 0.8 = 20 % slower). */
  rate: number;
  /** Shift of the voice's mean pitch, in semitones (+12 = one octave up). */
  pitch: number;
  /** Gain applied to the voice's normal level (1 = unchanged, 0.7 ≈ −3 dB). */
  volume: number;
  /** Multiplier of the pitch range, i.e. how much the intonation moves (applied by espeak WASM only). */
  range: number;
  /** Silence added between sentences, in milliseconds, on top of the engine's own pause. */
  sentencePauseMs: number;
}

export const NEUTRAL_PROSODY: Readonly<Prosody> = Object.freeze({ rate: 1, pitch: 0, volume: 1, range: 1, sentencePauseMs: 0 });

/**
 * The coaching product's styles. Differences are kept moderate: a listener should hear
 * warmth or interest, not a caricature, and every style must stay intelligible on a
 * telephone line (rates stay within ±20 %, pitch within ±3 semitones).
 */
export const STYLE_PROSODY: Readonly<Record<SpeakingStyle, Readonly<Prosody>>> = Object.freeze({
  neutre: NEUTRAL_PROSODY,
  encouragement: Object.freeze({ rate: 1.05, pitch: 2, volume: 1.1, range: 1.2, sentencePauseMs: 0 }),
  empathie: Object.freeze({ rate: 0.85, pitch: -2, volume: 0.7, range: 0.8, sentencePauseMs: 150 }),
  enthousiasme_modere: Object.freeze({ rate: 1.12, pitch: 3, volume: 1.15, range: 1.3, sentencePauseMs: 0 }),
  // A wider range lets espeak's question contour rise further; the text itself carries the question.
  curiosite: Object.freeze({ rate: 1, pitch: 2, volume: 1, range: 1.5, sentencePauseMs: 0 }),
  reflexion: Object.freeze({ rate: 0.8, pitch: -1, volume: 0.85, range: 0.7, sentencePauseMs: 400 }),
});

/** The prosody of a style; no style means neutral. Unknown names are refused rather than spoken flat. */
export function prosodyFor(style: SpeakingStyle | undefined): Readonly<Prosody> {
  if (style === undefined) return NEUTRAL_PROSODY;
  const p = (STYLE_PROSODY as Record<string, Readonly<Prosody> | undefined>)[style];
  if (!p) {
    throw new PalabreError('bad_request', `unknown speaking style '${String(style)}'; known styles: ${SPEAKING_STYLES.join(', ')}`, {
      details: { style },
    });
  }
  return p;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** espeak-ng's defaults: -s 175 words/min, -p 50, -a 100, pitch range 50. */
export const ESPEAK_DEFAULTS = Object.freeze({ rate: 175, pitch: 50, amplitude: 100, range: 50 });

export interface EspeakParams {
  /** Words per minute, 80–450. */
  rate: number;
  /** 0–99. */
  pitch: number;
  /** 0–200. */
  amplitude: number;
  /** 0–99. */
  range: number;
}

/**
 * Measured on espeak-ng 1.51 (en-us): -p 20/50/80 gives a median F0 of 73/98/134 Hz,
 * about 5.5 pitch units per semitone around the default.
 */
const ESPEAK_PITCH_UNITS_PER_SEMITONE = 5.5;

export function espeakParams(p: Readonly<Prosody>): EspeakParams {
  return {
    rate: Math.round(clamp(ESPEAK_DEFAULTS.rate * p.rate, 80, 450)),
    pitch: Math.round(clamp(ESPEAK_DEFAULTS.pitch + p.pitch * ESPEAK_PITCH_UNITS_PER_SEMITONE, 0, 99)),
    amplitude: Math.round(clamp(ESPEAK_DEFAULTS.amplitude * p.volume, 0, 200)),
    range: Math.round(clamp(ESPEAK_DEFAULTS.range * p.range, 0, 99)),
  };
}

/**
 * Mean F0 (Hz) each built-in flite voice speaks at, measured on its own output, so a
 * semitone shift can be turned into flite's absolute int_f0_target_mean.
 */
export const FLITE_BASE_F0: Readonly<Record<string, number>> = Object.freeze({ slt: 168, kal: 92, kal16: 93, awb: 123, rms: 101 });

/** flite `--setf` features for a prosody; neutral values are left out so the voice keeps its own. */
export function fliteFeatures(p: Readonly<Prosody>, voice: string): string[] {
  const args: string[] = [];
  if (p.rate !== 1) args.push('--setf', `duration_stretch=${(1 / clamp(p.rate, 0.25, 4)).toFixed(4)}`);
  const base = FLITE_BASE_F0[voice];
  if (p.pitch !== 0 && base !== undefined) {
    args.push('--setf', `int_f0_target_mean=${(base * 2 ** (p.pitch / 12)).toFixed(1)}`);
  }
  return args;
}

/** Scales samples in place, saturating rather than wrapping at full scale. */
export function applyGain(samples: Int16Array, gain: number): Int16Array {
  if (gain === 1) return samples;
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round(samples[i] * gain);
    samples[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return samples;
}

/** ElevenLabs `voice_settings`, as sent on the wire. */
export interface ElevenLabsVoiceSettings {
  stability: number;
  similarity_boost: number;
  style: number;
  use_speaker_boost: boolean;
  speed: number;
}

/**
 * ElevenLabs has no pitch or volume control, so a style is carried by three settings:
 * - speed: the style's rate (the same numbers as the local engines), kept within
 *   ElevenLabs' 0.7–1.2;
 * - stability (0–1, ElevenLabs' default 0.5): lower lets the voice move more between
 *   words, which sounds warmer and livelier (encouragement, enthusiasm, curiosity);
 *   higher keeps it even, which sounds calm and considered (empathy, reflection);
 * - style (0–1, default 0): exaggerates the voice's own manner. It stays at 0.3 or
 *   less: beyond that voices turn theatrical, and any value above 0 costs latency.
 * similarity_boost 0.75 and use_speaker_boost are ElevenLabs' defaults and the same for
 * every style, so the caller hears one voice whatever its mood.
 */
export const ELEVENLABS_STYLE_SETTINGS: Readonly<Record<SpeakingStyle, Readonly<{ stability: number; style: number }>>> = Object.freeze({
  neutre: Object.freeze({ stability: 0.5, style: 0 }),
  encouragement: Object.freeze({ stability: 0.4, style: 0.2 }),
  empathie: Object.freeze({ stability: 0.6, style: 0.15 }),
  enthousiasme_modere: Object.freeze({ stability: 0.35, style: 0.3 }),
  curiosite: Object.freeze({ stability: 0.45, style: 0.15 }),
  reflexion: Object.freeze({ stability: 0.7, style: 0.05 }),
});

/** The voice settings a style is spoken with on ElevenLabs; no style means neutral. */
export function elevenLabsVoiceSettings(style: SpeakingStyle | undefined): ElevenLabsVoiceSettings {
  const prosody = prosodyFor(style);
  const s = ELEVENLABS_STYLE_SETTINGS[style ?? 'neutre'];
  return { stability: s.stability, similarity_boost: 0.75, style: s.style, use_speaker_boost: true, speed: Math.round(clamp(prosody.rate, 0.7, 1.2) * 100) / 100 };
}
