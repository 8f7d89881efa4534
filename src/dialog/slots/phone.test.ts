import { describe, expect, it } from 'vitest';
import { extractSlot } from './index.js';

const rows: Array<[string, string, string, number?]> = [
  ['fr', 'zéro six douze trente-quatre cinquante-six soixante-dix-huit', '0612345678'],
  ['fr', 'zero six douze trente quatre cinquante six soixante dix huit', '0612345678'],
  ['fr', '06 12 34 56 78', '0612345678'],
  ['fr', '0612345678', '0612345678'],
  ['fr', '06.12.34.56.78', '0612345678'],
  ['fr', '06-12-34-56-78', '0612345678'],
  ['fr', '+33 6 12 34 56 78', '0612345678'],
  ['fr', 'plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit', '0612345678'],
  ['fr', 'zéro zéro trente-trois six douze trente-quatre cinquante-six soixante-dix-huit', '0612345678'],
  ['fr', 'plus trente-trois zéro six douze trente-quatre cinquante-six soixante-dix-huit', '0612345678'],
  ['fr', 'zéro un quarante-cinq soixante-sept quatre-vingt-neuf dix', '0145678910'],
  ['fr', 'zéro six quatre-vingt-dix-sept zéro deux trente et un quarante', '0697023140'],
  ['fr', 'zéro sept, euh, vingt-deux, onze, zéro neuf, quatre-vingt-dix-neuf', '0722110999'],
  ['fr', "c'est le zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit, voilà", '0612345678'],
  ['fr', 'zéro six un deux trois quatre cinq six sept huit', '0612345678'],
  ['fr', 'zéro quatre septante-deux nonante et un zéro zéro dix', '0472910010'],
  ['en', 'five five five one two three four', '5551234', 0.7],
  ['en', 'oh seven seven double oh nine one two three four five', '07700912345'],
  ['en', 'plus four four seven seven zero zero nine zero zero one two three', '+447700900123'],
  ['en', 'my number is 415 555 0132', '4155550132'],
  ['en', 'four one five five five five oh one three two', '4155550132'],
  ['en', 'two one two triple five double one two two', '2125551122'],
  ['en', '+1 212 555 0199', '+12125550199'],
  ['en', 'one eight hundred five five five one two one two', '18005551212'],
  ['en', 'plus thirty three six twelve thirty four fifty six seventy eight', '0612345678', 0.7],
];

describe('phone slot', () => {
  it('has a table of at least 20 rows, both languages', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows.filter((r) => r[0] === 'en').length).toBeGreaterThanOrEqual(7);
  });
  for (const [language, text, expected, minConfidence] of rows) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('phone', text, { language });
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(minConfidence ?? 0.85);
    });
  }
  it('finds no phone number in a short number or in words', () => {
    expect(extractSlot('phone', 'douze', { language: 'fr' })).toBeNull();
    expect(extractSlot('phone', 'je ne sais pas', { language: 'fr' })).toBeNull();
    expect(extractSlot('phone', 'call me tomorrow', { language: 'en' })).toBeNull();
  });
  it('is less sure of a French number that is not ten digits from 0', () => {
    const got = extractSlot('phone', 'six douze trente-quatre cinquante-six', { language: 'fr' });
    expect(got === null || got.confidence < 0.6).toBe(true);
  });
  it('returns the words, "plus" included', () => {
    expect(extractSlot('phone', 'oui alors plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit merci', { language: 'fr' })?.text).toBe(
      'plus trente-trois six douze trente-quatre cinquante-six soixante-dix-huit',
    );
  });
});
