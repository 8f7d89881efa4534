import { describe, expect, it } from 'vitest';
import { extractSlot } from './index.js';

const numbers: Array<[string, string, number]> = [
  ['fr', 'soixante-quinze', 75],
  ['fr', 'soixante quinze', 75],
  ['fr', 'quatre-vingt-dix-sept', 97],
  ['fr', 'quatre-vingts', 80],
  ['fr', 'quatre vingt un', 81],
  ['fr', 'soixante et onze', 71],
  ['fr', 'vingt et un', 21],
  ['fr', 'trente-deux', 32],
  ['fr', 'cent un', 101],
  ['fr', 'deux cents', 200],
  ['fr', 'mille deux cent', 1200],
  ['fr', 'deux mille vingt-quatre', 2024],
  ['fr', 'dix-neuf cent quatre-vingt-quatre', 1984],
  ['fr', 'trois millions deux cent mille', 3200000],
  ['fr', 'septante-deux', 72],
  ['fr', 'huitante', 80],
  ['fr', 'nonante-neuf', 99],
  ['fr', 'septante et un', 71],
  ['fr', "j'ai trois enfants", 3],
  ['fr', 'douze virgule cinq', 12.5],
  ['fr', '12,5', 12.5],
  ['fr', '1 200', 1200],
  ['fr', 'moins trois', -3],
  ['fr', 'euh quarante-deux', 42],
  ['en', 'twenty one', 21],
  ['en', 'twenty-one', 21],
  ['en', 'one hundred and five', 105],
  ['en', 'a hundred', 100],
  ['en', 'a thousand', 1000],
  ['en', 'two thousand and twenty four', 2024],
  ['en', 'twelve hundred', 1200],
  ['en', 'forty two', 42],
  ['en', 'ninety nine', 99],
  ['en', 'three point one four', 3.14],
  ['en', 'minus five', -5],
  ['en', '1,200', 1200],
  ['en', 'seventeen', 17],
  ['en', 'I have 3 kids', 3],
  ['en', 'one million two hundred thousand', 1200000],
  ['en', 'about fifteen', 15],
];

const digits: Array<[string, string, string, number?]> = [
  ['fr', 'un deux trois quatre', '1234'],
  ['fr', 'douze trente-quatre', '1234'],
  ['fr', '1 2 3 4', '1234'],
  ['fr', '1234#', '1234'],
  ['fr', 'zéro zéro sept', '007'],
  ['fr', 'quatre-vingt-dix-neuf zéro un', '9901'],
  ['fr', 'euh cinq euh six sept', '567'],
  ['fr', 'mon code est le neuf huit sept six', '9876'],
  ['fr', 'soixante-dix-huit', '78'],
  ['fr', 'trois cent douze', '312'],
  ['fr', '12 34 56', '123456'],
  ['en', 'one two three four', '1234'],
  ['en', 'double seven three', '773'],
  ['en', 'oh one two', '012'],
  ['en', 'triple five', '555'],
  ['en', 'five five five one two one two', '5551212'],
  ['en', 'my pin is four three two one', '4321'],
  ['en', 'twelve thirty four', '1234'],
  ['en', 'nine eight seven', '987'],
  ['en', 'zero', '0'],
  ['en', '0 4 2', '042'],
];

describe('number slot', () => {
  it('has a table of at least 20 rows, both languages', () => {
    expect(numbers.length).toBeGreaterThanOrEqual(20);
    expect(new Set(numbers.map((r) => r[0]))).toEqual(new Set(['fr', 'en']));
  });
  for (const [language, text, expected] of numbers) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('number', text, { language });
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(0.8);
    });
  }
  it('finds nothing in words without a number', () => {
    expect(extractSlot('number', 'je ne sais pas', { language: 'fr' })).toBeNull();
    expect(extractSlot('number', 'no idea', { language: 'en' })).toBeNull();
  });
  it('is less sure of an article than of a number ("un chien")', () => {
    expect(extractSlot('number', "j'ai un chien", { language: 'fr' })!.confidence).toBeLessThan(0.7);
  });
  it('is less sure when several numbers are said ("deux ou trois")', () => {
    const got = extractSlot('number', 'deux ou trois', { language: 'fr' });
    expect(got?.value).toBe(2);
    expect(got!.confidence).toBeLessThan(0.7);
  });
});

describe('digits slot', () => {
  it('has a table of at least 20 rows, both languages', () => {
    expect(digits.length).toBeGreaterThanOrEqual(20);
  });
  for (const [language, text, expected] of digits) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('digits', text, { language });
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(0.8);
    });
  }
  it('keeps a reading of the expected length when told the count', () => {
    // "quatre-vingt" is 80, but a caller typing four digits by voice said 4 and 20.
    expect(extractSlot('digits', 'quatre vingt', { language: 'fr', length: 3 })?.value).toBe('420');
    expect(extractSlot('digits', 'quatre vingt', { language: 'fr' })?.value).toBe('80');
    expect(extractSlot('digits', 'un deux', { language: 'fr', length: 4 })).toBeNull();
  });
});
