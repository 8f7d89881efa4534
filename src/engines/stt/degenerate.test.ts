import { describe, expect, it } from 'vitest';
import { applyDegenerateGuard, checkDegenerate } from './degenerate.js';
import type { SttResult } from './types.js';

function result(text: string): SttResult {
  return {
    text,
    language: 'en',
    engine: 'test',
    duration: 3,
    confidence: 0.8,
    segments: [{ id: 0, start: 0, end: 3, text }],
    words: text.split(' ').map((word, i) => ({ word, start: i * 0.1, end: i * 0.1 + 0.1 })),
  };
}

describe('checkDegenerate flags the loops recognisers fall into', () => {
  // Shapes taken from Whisper output on silence, hold music and line noise.
  const hallucinations: [string, RegExp][] = [
    ['Thank you. Thank you. Thank you. Thank you. Thank you. Thank you.', /phrase "thank you" repeated 6 times/],
    [' thank you thank you thank you', /phrase "thank you" repeated 3 times/],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', /character "a" repeated 30 times/],
    ['Oh, ééééééééééééééééé', /character "é" repeated 17 times/],
    ['!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!', /character "!"/],
    ['the the the the the the the the the the', /word "the" repeated 10 times/],
    ['Merci. Merci. Merci. Merci. Merci. Merci. Merci.', /word "merci" repeated 7 times/],
    ["I'm going to go to the store. I'm going to go to the store. I'm going to go to the store.", /phrase "i'm going to go to the store" repeated 3 times/],
    ['Sous-titres réalisés par la communauté d\'Amara.org Sous-titres réalisés par la communauté d\'Amara.org Sous-titres réalisés par la communauté d\'Amara.org', /repeated 3 times/],
    ['so um so um so um so um', /phrase "so um" repeated 4 times/],
    ['1 1 1 1 1 1 1 1 1 1 1 1 1', /word "1" repeated 13 times/],
    ['哈哈哈哈哈哈哈哈哈哈哈哈', /character "哈" repeated 12 times/],
  ];
  for (const [text, reason] of hallucinations) {
    it(`flags ${JSON.stringify(text.slice(0, 40))}`, () => {
      const check = checkDegenerate(text);
      expect(check.degenerate).toBe(true);
      expect(check.reason).toMatch(reason);
    });
  }
});

describe('checkDegenerate leaves real speech alone', () => {
  const legitimate = [
    'no no no',
    'no no no no no',
    'yes',
    '',
    'thank you thank you',
    '1 1 1 2',
    'my number is 1 1 1 1 1 1 2 3',
    'the account is 1000000000',
    'call me at 0000000000',
    'hmmmm let me think',
    'Noooooon je ne veux pas',
    'please press 1 to mute or unmute yourself, 2 to lock or unlock the conference, 3 to eject the last user',
    'the quick brown fox jumps over the lazy dog',
    'bye bye',
    'one two three one two three',
    'very very very very good',
    "I said no, I said no, that's all",
    'Wait...',
  ];
  for (const text of legitimate) {
    it(`keeps ${JSON.stringify(text)}`, () => {
      expect(checkDegenerate(text)).toEqual({ degenerate: false });
    });
  }
});

describe('checkDegenerate honours maxRepeats', () => {
  it('flags at exactly the limit and not below', () => {
    expect(checkDegenerate('no no no no no', { maxRepeats: 5 }).degenerate).toBe(true);
    expect(checkDegenerate('no no no no', { maxRepeats: 5 }).degenerate).toBe(false);
    expect(checkDegenerate('no no no', { maxRepeats: 3 }).degenerate).toBe(true);
  });
  it('a stricter limit still needs three turns of a phrase', () => {
    expect(checkDegenerate('thank you thank you', { maxRepeats: 2 }).degenerate).toBe(false);
    expect(checkDegenerate('thank you thank you thank you', { maxRepeats: 2 }).degenerate).toBe(true);
  });
  it('long phrases need more than two turns however long they are', () => {
    const phrase = 'for a company directory press four';
    expect(checkDegenerate(`${phrase} ${phrase}`).degenerate).toBe(false);
    expect(checkDegenerate(`${phrase} ${phrase} ${phrase}`).degenerate).toBe(true);
  });
});

describe('applyDegenerateGuard', () => {
  it('returns a clean result unchanged', () => {
    const r = result('hello world');
    expect(applyDegenerateGuard(r, { action: 'flag', maxRepeats: 6 })).toBe(r);
  });
  it('flag keeps the text and sets degenerate', () => {
    const r = result('no no no no no no no');
    const out = applyDegenerateGuard(r, { action: 'flag', maxRepeats: 6 });
    expect(out.degenerate).toBe(true);
    expect(out.text).toBe(r.text);
    expect(out.words).toHaveLength(7);
  });
  it('drop empties text, segments and words and keeps the duration', () => {
    const out = applyDegenerateGuard(result('no no no no no no no'), { action: 'drop', maxRepeats: 6 });
    expect(out).toMatchObject({ text: '', segments: [], words: [], degenerate: true, duration: 3, engine: 'test' });
    expect(out.confidence).toBeUndefined();
  });
});
