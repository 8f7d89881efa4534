import { describe, expect, it } from 'vitest';
import { normalizeText, tokenize } from './normalize.js';

const rows: Array<[string, string, string]> = [
  ['fr', 'Je suis PROPRIÉTAIRE !', 'je suis proprietaire'],
  ['fr', 'je suis proprietaire', 'je suis proprietaire'],
  ['fr', "J'ai l'impression qu'il n'y a plus d'internet", 'je ai le impression que il ne y a plus de internet'],
  ['fr', "C’est ça, d’accord.", 'ce est ca de accord'],
  ['fr', "s'il vous plaît", 'si il vous plait'],
  ['fr', 'daccord', 'de accord'],
  ['fr', 'ouai ouaip', 'ouais ouais'],
  ['fr', 'nan', 'non'],
  ['fr', 'chuis pas là', 'je suis pas la'],
  ['fr', "aujourd'hui", 'aujourdhui'],
  ['fr', 'mon e-mail', 'mon email'],
  ['fr', 'le wi-fi', 'le wifi'],
  ['fr', 'quatre-vingt-dix-sept', 'quatre vingt dix sept'],
  ['fr', '14h30', '14 h 30'],
  ['fr', 'Œuvre à cœur', 'oeuvre a coeur'],
  ['en', "I don't think so", 'i do not think so'],
  ['en', 'I dont think so', 'i do not think so'],
  ['en', "it's fine, I'm OK", 'it is fine i am ok'],
  ['en', "can't won't isn't", 'can not will not is not'],
  ['en', "let's go, we're done, I'll call, I've paid, I'd like", 'let us go we are done i will call i have paid i would like'],
  ['en', 'okay gonna wanna', 'ok going to want to'],
  ['en', 'my e mail', 'my email'],
  ['en', 'Yea, uh huh', 'yeah mhm'],
  ['en', "John's car", 'john car'],
  ['en', '3pm', '3 pm'],
];

describe('normalizeText', () => {
  it('has a table of at least 20 rows', () => expect(rows.length).toBeGreaterThanOrEqual(20));
  for (const [language, text, expected] of rows) {
    it(`${language}: ${JSON.stringify(text)} → ${JSON.stringify(expected)}`, () => {
      expect(normalizeText(text, language)).toBe(expected);
    });
  }
  it('keeps "dont" French when the language is French', () => {
    expect(normalizeText('la maison dont je parle', 'fr')).toBe('la maison dont je parle');
  });
});

describe('tokenize', () => {
  it('keeps each token’s span in the original text', () => {
    const text = "Je m'appelle Hélène";
    const tokens = tokenize(text, { language: 'fr' });
    expect(tokens.map((t) => t.norm)).toEqual(['je', 'me', 'appelle', 'helene']);
    expect(tokens.map((t) => text.slice(t.start, t.end))).toEqual(['Je', 'm', 'appelle', 'Hélène']);
  });
  it('keeps symbols on request, for addresses and numbers', () => {
    expect(tokenize('jean.dupont@free.fr +33', { symbols: true }).map((t) => t.norm)).toEqual(['jean', '.', 'dupont', '@', 'free', '.', 'fr', '+', '33']);
    expect(tokenize('jean.dupont@free.fr +33').map((t) => t.norm)).toEqual(['jean', 'dupont', 'free', 'fr', '33']);
  });
});
