import { describe, expect, it } from 'vitest';
import { normalizeWords, normalizedEditDistance, wordErrorRate } from './wer.js';

describe('normalizeWords', () => {
  it('lowercases, drops punctuation and spells lone digits', () => {
    expect(normalizeWords('Please press 1, then #.  Call-Forward on Busy!')).toEqual(['please', 'press', 'one', 'then', 'call', 'forward', 'on', 'busy']);
  });
  it("keeps apostrophes inside words and multi-digit numbers as they are", () => {
    expect(normalizeWords("Waldo's party's 2011")).toEqual(["waldo's", "party's", '2011']);
  });
});

describe('wordErrorRate', () => {
  it('is 0 for the same words whatever the case and punctuation', () => {
    expect(wordErrorRate('The quick brown fox.', 'the quick brown fox')).toBe(0);
  });
  it('counts a substitution, a deletion and an insertion', () => {
    expect(wordErrorRate('a b c d', 'a x c')).toBeCloseTo(2 / 4);
    expect(wordErrorRate('a b c d', 'a b c d e')).toBeCloseTo(1 / 4);
  });
  it('handles empty texts', () => {
    expect(wordErrorRate('', '')).toBe(0);
    expect(wordErrorRate('a b', '')).toBe(1);
  });
});

describe('normalizedEditDistance', () => {
  it('is 0 when equal, 1 when disjoint, in between otherwise', () => {
    expect(normalizedEditDistance('Hello, world', 'hello world')).toBe(0);
    expect(normalizedEditDistance('abc', 'xyz')).toBe(1);
    expect(normalizedEditDistance('hello world', 'hello word')).toBeCloseTo(1 / 11);
  });
});
