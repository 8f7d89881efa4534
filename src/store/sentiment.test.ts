import { describe, expect, it } from 'vitest';
import { callerSentiment, lineValence, scoreOf, tokenize } from './sentiment.js';

const caller = (...texts: string[]) => texts.map((text) => ({ role: 'caller' as const, text }));

describe('sentiment lexicon', () => {
  it('tokenizes accents, elisions and contractions', () => {
    expect(tokenize("Ça n'est PAS réglé, l’imprimante!")).toEqual(['ca', 'n', 'est', 'pas', 'regle', 'l', 'imprimante']);
    expect(tokenize("It doesn't work")).toEqual(['it', "doesn't", 'work']);
  });

  describe('English', () => {
    it('labels happy, unhappy and plain callers', () => {
      expect(callerSentiment(caller('Great, that was really helpful, thank you so much')).label).toBe('positive');
      expect(callerSentiment(caller('This is ridiculous', 'I have been waiting for hours and it still does not work')).label).toBe('negative');
      expect(callerSentiment(caller('My order number is four five six', 'Yes')).label).toBe('neutral');
    });

    it('flips negated words and weighs intensifiers', () => {
      expect(lineValence('it is good')).toBeGreaterThan(0);
      expect(lineValence('it is not good')).toBeLessThan(0);
      expect(lineValence("that's not bad at all")).toBeGreaterThan(0);
      expect(lineValence("it doesn't work")).toBeLessThan(0);
      expect(lineValence('very bad')).toBeLessThan(lineValence('bad'));
      expect(lineValence('a bit slow')).toBeGreaterThan(lineValence('slow'));
    });
  });

  describe('French', () => {
    it('labels happy, unhappy and plain callers', () => {
      expect(callerSentiment(caller('Super, merci beaucoup, c’est parfait')).label).toBe('positive');
      expect(callerSentiment(caller("J'en ai marre, ça ne marche toujours pas", "c'est inadmissible")).label).toBe('negative');
      expect(callerSentiment(caller('Mon numéro de client est le douze', 'oui')).label).toBe('neutral');
    });

    it('understands ne … pas, a dropped ne, and pas mal', () => {
      expect(lineValence('je suis content')).toBeGreaterThan(0);
      expect(lineValence('je ne suis pas content')).toBeLessThan(0);
      expect(lineValence("ce n'est plus bon")).toBeLessThan(0);
      expect(lineValence('ça marche pas')).toBeLessThan(0);
      expect(lineValence('ça ne fonctionne pas')).toBeLessThan(0);
      expect(lineValence("c'est pas mal")).toBeGreaterThan(0);
      expect(lineValence("c'est bien pas de souci")).toBeGreaterThan(0);
      expect(lineValence('très mauvais')).toBeLessThan(lineValence('mauvais'));
      expect(lineValence('un peu lent')).toBeGreaterThan(lineValence('lent'));
    });
  });

  it('ignores the bot and stays within −1…1', () => {
    const bot = { role: 'bot' as const, text: 'Great! Perfect! Wonderful! Thank you!' };
    expect(callerSentiment([bot, ...caller('ok')]).score).toBeLessThan(0.25);
    const furious = callerSentiment(caller(...Array.from({ length: 20 }, () => 'this is terrible and unacceptable, I hate it')));
    expect(furious.score).toBeGreaterThanOrEqual(-1);
    expect(furious.score).toBeLessThan(-0.95);
    expect(scoreOf(0)).toEqual({ score: 0, label: 'neutral' });
  });
});
