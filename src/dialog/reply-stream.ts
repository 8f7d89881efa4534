/**
 * A model's reply as it streams in, cut into sentences to speak: the leading
 * "[style]" tag comes off before splitting, so that it neither counts towards
 * a sentence's length nor is spoken.
 */
import type { SpeakingStyle } from '../engines/tts/types.js';
import { parseStyledReply } from './llm.js';
import { SentenceSplitter } from './sentences.js';

export class ReplyStream {
  private readonly splitter = new SentenceSplitter();
  private head: string | null = '';

  constructor(
    /** A complete sentence, tag already removed. */
    private readonly sentence: (text: string) => void,
    /** The style the reply's tag names. */
    private readonly styled: (style: SpeakingStyle) => void,
  ) {}

  push(delta: string): void {
    if (this.head === null) return this.feed(delta);
    this.head += delta;
    const start = this.head.trimStart();
    if (start === '' || (start.startsWith('[') && !start.includes(']') && start.length < 40)) return;
    const tagged = parseStyledReply(start.startsWith('[') ? start.slice(0, start.indexOf(']') + 1) : '');
    if (tagged.style) this.styled(tagged.style);
    this.feed(start.startsWith('[') && start.includes(']') ? start.slice(start.indexOf(']') + 1).trimStart() : start);
    this.head = null;
  }

  /** The reply is complete: what is left is the last sentence. */
  end(): void {
    if (this.head !== null) this.feed(this.head);
    this.head = null;
    const rest = this.splitter.end();
    if (rest) this.sentence(rest);
  }

  private feed(text: string): void {
    for (const sentence of this.splitter.push(text)) this.sentence(sentence);
  }
}
