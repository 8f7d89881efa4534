import { describe, expect, it } from 'vitest';
import { extractSlot } from './index.js';

const rows: Array<[string, string, string]> = [
  ['fr', 'jean point dupont arobase gmail point com', 'jean.dupont@gmail.com'],
  ['fr', "mon email c'est jean point dupont arobase gmail point com", 'jean.dupont@gmail.com'],
  ['fr', 'jean.dupont arobase gmail.com', 'jean.dupont@gmail.com'],
  ['fr', 'Jean.Dupont@Gmail.com', 'jean.dupont@gmail.com'],
  ['fr', 'b comme Bernard o b arobase orange point fr', 'bob@orange.fr'],
  ['fr', 'jean tiret pierre underscore martin arobase free point fr', 'jean-pierre_martin@free.fr'],
  ['fr', 'marie tiret du bas curie arobase laposte point net', 'marie_curie@laposte.net'],
  ['fr', 'marie tiret bas curie arobase laposte point net', 'marie_curie@laposte.net'],
  ['fr', 'jean quatre-vingt-douze arobase hotmail point fr', 'jean92@hotmail.fr'],
  ['fr', 'j i comme Irène l l e s arobase wanadoo point fr', 'jilles@wanadoo.fr'],
  ['fr', 'paul arrobase sfr point fr', 'paul@sfr.fr'],
  ['fr', 'double v a t t arobase yahoo point fr', 'watt@yahoo.fr'],
  ['fr', "mon adresse mail c'est contact arobase ma boîte point fr", 'contact@maboite.fr'],
  ['fr', 'sophie deux mille arobase gmail point com merci', 'sophie2000@gmail.com'],
  ['en', 'j e a n dot smith at example dot com', 'jean.smith@example.com'],
  ['en', 'my email is john.smith@example.com', 'john.smith@example.com'],
  ['en', 'bob underscore jones at gmail dot com thanks', 'bob_jones@gmail.com'],
  ['en', 'it is double u i l l at acme dot co dot uk', 'will@acme.co.uk'],
  ['en', 'em a r k at example dot org', 'mark@example.org'],
  ['en', 'jay oh aitch en at mail dot com', 'john@mail.com'],
  ['en', 'mary dash ann at outlook dot com', 'mary-ann@outlook.com'],
  ['en', 'p as in papa e t e at icloud dot com', 'pete@icloud.com'],
  ['en', 'sales at acme hyphen corp dot com', 'sales@acme-corp.com'],
  ['en', 'tom seventy seven at gmail dot com', 'tom77@gmail.com'],
];

describe('email slot', () => {
  it('has a table of at least 20 rows, both languages', () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(rows.filter((r) => r[0] === 'en').length).toBeGreaterThanOrEqual(8);
  });
  for (const [language, text, expected] of rows) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('email', text, { language });
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(0.75);
    });
  }
  it('finds no address without an at sign or a domain', () => {
    for (const [language, text] of [
      ['fr', 'jean point dupont'],
      ['fr', 'paul arobase'],
      ['fr', 'je ne sais pas'],
      ['en', 'at home'],
      ['en', 'john at example'],
    ]) {
      expect(extractSlot('email', text, { language })).toBeNull();
    }
  });
  it('returns the spoken words', () => {
    expect(extractSlot('email', "c'est jean point dupont arobase gmail point com merci", { language: 'fr' })?.text).toBe('jean point dupont arobase gmail point com');
  });
});
