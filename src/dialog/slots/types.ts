/** What every slot extractor returns: the value, how sure it is (0..1), and the words it came from. */
export interface SlotValue<T = unknown> {
  value: T;
  confidence: number;
  /** The caller's words the value was read from, as they were written in the transcript. */
  text: string;
}

export function roundConfidence(x: number): number {
  return Math.round(Math.min(1, Math.max(0, x)) * 1000) / 1000;
}
