import { describe, expect, it } from 'vitest';
import { extractSlot } from './index.js';

// [language, what the caller said, expected value (null: neither yes nor no), minimum confidence]
const rows: Array<[string, string, boolean | null, number?]> = [
  ['fr', 'oui', true],
  ['fr', 'oui bien sûr', true],
  ['fr', 'ouais', true],
  ['fr', 'ouai', true],
  ['fr', 'absolument', true],
  ['fr', "d'accord", true],
  ['fr', 'daccord', true],
  ['fr', 'tout à fait', true],
  ['fr', 'euh oui oui', true],
  ['fr', 'pas de problème', true],
  ['fr', 'mais si', true],
  ['fr', 'je pense', true, 0.6],
  ['fr', 'non', false],
  ['fr', 'non pas du tout', false],
  ['fr', 'pas vraiment', false],
  ['fr', 'non merci', false],
  ['fr', 'absolument pas', false],
  ['fr', 'nan', false],
  ['fr', 'je ne pense pas', false],
  ['fr', 'je crois pas', false],
  ['fr', "ça m'intéresse pas", false],
  ['fr', 'oui euh non', false, 0.5],
  ['fr', 'je sais pas', null],
  ['fr', 'peut-être', null],
  ['fr', 'il fait beau', null],
  ['fr', 'si vous voulez', true, 0.7],
  ['en', 'yes', true],
  ['en', 'yes yeah', true],
  ['en', 'yeah', true],
  ['en', 'yep', true],
  ['en', 'sure', true],
  ['en', 'of course', true],
  ['en', 'I guess so', true, 0.65],
  ['en', 'no problem', true],
  ['en', "that's right", true],
  ['en', 'uh huh', true],
  ['en', 'no', false],
  ['en', 'nope', false],
  ['en', 'not really', false],
  ['en', "I don't think so", false],
  ['en', 'I dont think so', false],
  ['en', 'no thank you', false],
  ['en', 'absolutely not', false],
  ['en', 'nah', false],
  ['en', "I don't know", null],
  ['en', 'maybe', null],
  ['en', 'the weather is nice', null],
  ['en', 'right now I am busy', null],
];

describe('yes_no slot', () => {
  it('has a table of at least 20 rows per language', () => {
    expect(rows.filter((r) => r[0] === 'fr').length).toBeGreaterThanOrEqual(20);
    expect(rows.filter((r) => r[0] === 'en').length).toBeGreaterThanOrEqual(20);
  });
  for (const [language, text, expected, minConfidence] of rows) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('yes_no', text, { language });
      if (expected === null) {
        expect(got).toBeNull();
        return;
      }
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(minConfidence ?? 0.8);
      expect(got!.confidence).toBeLessThanOrEqual(1);
    });
  }
  it('gives hedges and self-corrections less confidence than a plain answer', () => {
    const plain = extractSlot('yes_no', 'yes', { language: 'en' })!.confidence;
    expect(extractSlot('yes_no', 'I guess so', { language: 'en' })!.confidence).toBeLessThan(plain);
    expect(extractSlot('yes_no', 'oui euh non', { language: 'fr' })!.confidence).toBeLessThan(plain);
  });
  it('returns the words that decided', () => {
    expect(extractSlot('yes_no', 'Non, pas du tout !', { language: 'fr' })?.text).toBe('Non, pas du tout');
  });
});
