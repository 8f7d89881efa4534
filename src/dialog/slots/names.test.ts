import { describe, expect, it } from 'vitest';
import { extractSlot } from './index.js';

// [language, what the caller said, expected name (null: none), minimum confidence]
const people: Array<[string, string, string | null, number?]> = [
  ['fr', "je m'appelle Jean Dupont", 'Jean Dupont'],
  ['fr', "je m'appelle jean dupont", 'Jean Dupont'],
  ['fr', 'je m appelle jean dupont', 'Jean Dupont'],
  ['fr', "je m'appelle jean-pierre dupont et j'appelle pour ma facture", 'Jean-Pierre Dupont'],
  ['fr', "c'est Madame Martin", 'Madame Martin'],
  ['fr', 'Madame Martin', 'Madame Martin', 0.75],
  ['fr', 'mon nom est hélène lefèvre', 'Hélène Lefèvre'],
  ['fr', "moi c'est paul", 'Paul'],
  ['fr', 'je suis Jean Dupont', 'Jean Dupont', 0.75],
  ['fr', 'je suis monsieur durand', 'Monsieur Durand'],
  ['fr', 'je m appelle dupont d u p o n t', 'Dupont'],
  ['fr', 'de la part de monsieur jean de la fontaine', 'Monsieur Jean de la Fontaine'],
  ['fr', "bonjour, je m'appelle Éric Léger, je vous appelle pour un devis", 'Éric Léger'],
  ['fr', 'Jean Dupont', 'Jean Dupont', 0.55],
  ['fr', 'je suis propriétaire', null],
  ['fr', 'oui', null],
  ['en', 'my name is John Smith', 'John Smith'],
  ['en', 'my name is john smith and I have a problem', 'John Smith'],
  ['en', "I'm Sarah O'Brien", "Sarah O'Brien", 0.75],
  ['en', 'this is mister brown calling from acme', 'Mister Brown'],
  ['en', "hi it's Mary", 'Mary', 0.75],
  ['en', "my name's peter parker", 'Peter Parker'],
  ['en', 'you can call me Bob', 'Bob'],
  ['en', 'Mrs Robinson', 'Mrs Robinson', 0.75],
  ['en', 'john', 'John', 0.55],
  ['en', "i'm calling about my bill", null],
  ['en', 'yes', null],
  ['en', 'I am not sure', null],
];

const companies: Array<[string, string, string | null, number?]> = [
  ['fr', 'je travaille chez Renault', 'Renault'],
  ['fr', 'je travaille chez renault', 'Renault'],
  ['fr', 'de la société dupont et fils', 'Dupont et Fils'],
  ['fr', "je suis de l'entreprise bati sud sarl", 'Bati Sud SARL'],
  ['fr', 'chez EDF', 'EDF', 0.75],
  ['fr', 'je travaille pour la mairie de Lyon', 'La Mairie de Lyon'],
  ['fr', 'la société Acme France', 'Acme France'],
  ['fr', "je vous appelle de la part de la société Martin Frères et c'est urgent", 'Martin Frères'],
  ['fr', 'je travaille à la SNCF', 'La SNCF'],
  ['fr', 'oui', null],
  ['en', 'from Acme Corporation', 'Acme Corporation', 0.75],
  ['en', 'I work for General Electric in Boston', 'General Electric'],
  ['en', 'calling from acme inc', 'Acme Inc'],
  ['en', "i'm with ibm", 'Ibm'],
  ['en', 'I work at Johnson and Johnson', 'Johnson and Johnson'],
  ['en', 'the company is Globex', 'Globex'],
  ['en', 'on behalf of Initech Ltd', 'Initech Ltd'],
  ['en', 'Microsoft', 'Microsoft', 0.55],
  ['en', 'I work for the bank of england and I am calling', 'The Bank of England'],
  ['en', 'I work for myself', 'Myself'],
  ['en', 'no', null],
];

describe('person_name slot', () => {
  it('has a table of at least 20 rows, both languages', () => {
    expect(people.length).toBeGreaterThanOrEqual(20);
  });
  for (const [language, text, expected, minConfidence] of people) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('person_name', text, { language });
      if (expected === null) return expect(got).toBeNull();
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(minConfidence ?? 0.85);
    });
  }
  it('returns the words as they were written', () => {
    expect(extractSlot('person_name', "je m'appelle hélène lefèvre voilà", { language: 'fr' })?.text).toBe('hélène lefèvre');
  });
});

describe('company_name slot', () => {
  it('has a table of at least 20 rows, both languages', () => {
    expect(companies.length).toBeGreaterThanOrEqual(20);
  });
  for (const [language, text, expected, minConfidence] of companies) {
    it(`${language}: ${JSON.stringify(text)} → ${expected}`, () => {
      const got = extractSlot('company_name', text, { language });
      if (expected === null) return expect(got).toBeNull();
      expect(got?.value).toBe(expected);
      expect(got!.confidence).toBeGreaterThanOrEqual(minConfidence ?? 0.85);
    });
  }
});
