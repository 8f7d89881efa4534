import { PalabreError } from '../../errors.js';
import type { TtsVoice } from './types.js';

/** A voice as espeak lists it: `languages` in its own order, lower priority = better match. */
export interface RawEspeakVoice {
  name: string;
  /** Voice file path under espeak-ng-data/voices, e.g. `roa/fr`; what both back-ends accept. */
  identifier: string;
  languages: Array<{ priority: number; name: string }>;
}

interface Entry {
  voice: TtsVoice;
  identifier: string;
}

/**
 * Parses `espeak-ng --voices`:
 * ` 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)`
 */
export function parseEspeakVoiceList(output: string): RawEspeakVoice[] {
  const voices: RawEspeakVoice[] = [];
  for (const line of output.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/u);
    if (cols.length < 5) continue;
    const [pty, language, , name, identifier] = cols;
    const languages = [{ priority: Number(pty), name: language }];
    for (const m of cols.slice(5).join(' ').matchAll(/\((\S+) (\d+)\)/gu)) languages.push({ name: m[1], priority: Number(m[2]) });
    voices.push({ name: name.replace(/_/gu, ' '), identifier, languages });
  }
  return voices;
}

/**
 * Voice ids are espeak's primary language tags (`fr-fr`, `en-gb`, `en-us`). Bare language
 * codes (`fr`, `en`) are listed too, as aliases of the voice espeak itself ranks best for
 * them, since that is what callers and the settings (`tts.voices`) usually name.
 */
export class EspeakVoiceCatalogue {
  private readonly byId = new Map<string, Entry>();
  readonly voices: readonly TtsVoice[];
  readonly languages: readonly string[];

  constructor(raw: readonly RawEspeakVoice[]) {
    const list: TtsVoice[] = [];
    const best = new Map<string, { priority: number; entry: Entry }>();
    for (const r of raw) {
      const primary = r.languages[0]?.name.toLowerCase();
      if (!primary || this.byId.has(primary)) continue;
      const entry: Entry = { voice: { id: primary, language: primary, name: r.name }, identifier: r.identifier };
      this.byId.set(primary, entry);
      list.push(entry.voice);
      for (const l of r.languages.slice(1)) {
        const code = l.name.toLowerCase();
        const seen = best.get(code);
        if (!seen || l.priority < seen.priority) best.set(code, { priority: l.priority, entry });
      }
    }
    for (const [code, { entry }] of best) {
      if (this.byId.has(code)) continue;
      const alias: Entry = { voice: { id: code, language: code, name: entry.voice.name }, identifier: entry.identifier };
      this.byId.set(code, alias);
      list.push(alias.voice);
    }
    list.sort((a, b) => a.id.localeCompare(b.id));
    this.voices = list;
    this.languages = [...new Set(list.map((v) => v.language.split('-')[0]))].sort();
  }

  has(id: string): boolean {
    return this.byId.has(id.toLowerCase());
  }

  /** The espeak identifier for a voice id, or a bad_request naming the closest known voices. */
  identifierOf(id: string): string {
    const entry = this.byId.get(id.toLowerCase());
    if (entry) return entry.identifier;
    const prefix = id.toLowerCase().split('-')[0];
    const near = this.voices.filter((v) => v.id.startsWith(prefix)).map((v) => v.id);
    const hint = near.length > 0 ? `; voices for '${prefix}': ${near.slice(0, 12).join(', ')}` : `; ${this.voices.length} voices are installed`;
    throw new PalabreError('bad_request', `espeak-ng has no voice '${id}'${hint}`, { details: { voice: id } });
  }

  /**
   * The voice for a language tag: the configured default for the tag or its base
   * language first, then an exact voice id, then espeak's own alias for the base code.
   */
  voiceForLanguage(language: string, defaults: Readonly<Record<string, string>>): string {
    const tag = language.toLowerCase().replace(/_/gu, '-');
    const base = tag.split('-')[0];
    const candidates = [defaults[tag], this.byId.has(tag) ? tag : undefined, defaults[base], this.byId.has(base) ? base : undefined];
    for (const c of candidates) if (c !== undefined && this.has(c)) return c.toLowerCase();
    throw new PalabreError('bad_request', `espeak-ng has no voice for language '${language}'`, { details: { language } });
  }
}
