import { describe, expect, it } from 'vitest';
import { extractSlot, isValidFrenchZip } from './index.js';

// [language, what the caller said, expected code]
const rows: Array<[string, string, string]> = [
  ['fr', 'soixante-quinze zéro zéro un', '75001'],
  ['fr', 'soixante quinze zero zero un', '75001'],
  ['fr', '7 5 0 0 1', '75001'],
  ['fr', '75 001', '75001'],
  ['fr', '75001', '75001'],
  ['fr', "mon code postal c'est le 75001", '75001'],
  ['fr', 'euh soixante-quinze euh zéro zéro un', '75001'],
  ['fr', 'sept cinq zéro zéro un', '75001'],
  ['fr', 'soixante-quinze zéro dix-sept', '75017'],
  ['fr', 'treize cent', '13100'],
  ['fr', 'treize cent dix', '13110'],
  ['fr', 'trente et un deux cents', '31200'],
  ['fr', 'trente et un mille', '31000'],
  ['fr', 'quatre-vingt-treize cent', '93100'],
  ['fr', 'soixante-neuf zéro zéro trois', '69003'],
  ['fr', 'quarante-quatre mille', '44000'],
  ['fr', 'zéro un deux cents', '01200'],
  ['fr', 'vingt mille', '20000'],
  ['fr', 'quatre-vingt-dix-sept quatre cent', '97400'],
  ['fr', 'neuf sept un zéro zéro', '97100'],
  ['fr', 'septante-cinq zéro zéro un', '75001'],
  ['fr', "j'habite à Lyon, 69 003", '69003'],
  ['fr', 'soixante-sept, zéro, zéro, zéro', '67000'],
  ['en', 'seventy five oh oh one', '75001'],
  ['en', 'my zip code is 33000', '33000'],
  ['en', 'three three zero zero zero', '33000'],
];

const refused: Array<[string, string]> = [
  ['fr', 'quatre-vingt-seize mille'], // 96 is not a département
  ['fr', 'zéro zéro un deux trois'],
  ['fr', 'neuf neuf zéro zéro zéro'],
  ['fr', 'soixante-quinze'],
  ['fr', 'je ne sais pas'],
  ['fr', 'un deux trois'],
];

describe('zip_code_fr slot', () => {
  it('has a table of at least 20 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
  });
  for (const [language, text, expected] of rows) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('zip_code_fr', text, { language });
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(0.85);
    });
  }
  for (const [language, text] of refused) {
    it(`${language}: ${JSON.stringify(text)} gives no confident zip code`, () => {
      const got = extractSlot('zip_code_fr', text, { language });
      expect(got === null || got.confidence < 0.5).toBe(true);
    });
  }
  it('is less sure when the words had to be split unnaturally ("quatre | vingt un")', () => {
    const got = extractSlot('zip_code_fr', 'quatre vingt un zéro zéro', { language: 'fr' });
    expect(got?.value).toBe('42100');
    expect(got!.confidence).toBeLessThan(0.5);
  });
  it('returns the words the code was read from', () => {
    expect(extractSlot('zip_code_fr', "Alors c'est le soixante-quinze zéro zéro un, voilà", { language: 'fr' })?.text).toBe('soixante-quinze zéro zéro un');
  });
  it('checks the département prefix', () => {
    const valid = ['01000', '13100', '20000', '75001', '95000', '97100', '97600', '98800'];
    const invalid = ['00100', '96000', '97700', '98000', '99000', '1234', '123456', '7500A'];
    expect(valid.filter(isValidFrenchZip)).toEqual(valid);
    expect(invalid.filter(isValidFrenchZip)).toEqual([]);
  });
});
