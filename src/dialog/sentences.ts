/**
 * Cuts a streamed reply into sentences as the text arrives, so the first one
 * can be spoken while the model is still writing the rest. A sentence ends at
 * . ! ? … (or a line break) followed by a space, unless what came before is an
 * abbreviation (M., Mme, Dr, e.g.) or the sentence would be too short to be
 * worth a separate synthesis request.
 */

/** Abbreviations whose final dot does not end a sentence (lower case, without the dot). */
const ABBREVIATIONS = new Set(['m', 'mm', 'mme', 'mmes', 'mlle', 'dr', 'pr', 'st', 'ste', 'mr', 'mrs', 'ms', 'prof', 'etc', 'e.g', 'i.e', 'cf', 'vs', 'p', 'n°', 'no', 'tel', 'tél', 'av', 'bd', 'env', 'approx']);

const END = /[.!?…]+["»”')\]]*\s|\n+/g;

export class SentenceSplitter {
  private text = '';

  /** @param minChars sentences shorter than this are joined to the next one ("Oui." alone is a poor unit to synthesise). */
  constructor(private readonly minChars = 12) {}

  /** Adds a delta; returns the sentences it completed, trimmed. */
  push(delta: string): string[] {
    this.text += delta;
    const out: string[] = [];
    let start = 0;
    END.lastIndex = 0;
    for (let m = END.exec(this.text); m; m = END.exec(this.text)) {
      const end = m.index + m[0].length;
      const candidate = this.text.slice(start, end).trim();
      if (candidate.length < this.minChars || this.endsWithAbbreviation(this.text.slice(start, m.index + 1))) continue;
      out.push(candidate);
      start = end;
    }
    this.text = this.text.slice(start);
    return out;
  }

  /** The rest once the stream is done (empty string when nothing is left). */
  end(): string {
    const rest = this.text.trim();
    this.text = '';
    return rest;
  }

  private endsWithAbbreviation(upToDot: string): boolean {
    if (!upToDot.endsWith('.')) return false;
    const word = /([\p{L}°.]+)\.$/u.exec(upToDot)?.[1]?.toLowerCase();
    if (!word) return false;
    // A single capital letter followed by a dot is an initial ("J. Smith").
    return ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word);
  }
}
