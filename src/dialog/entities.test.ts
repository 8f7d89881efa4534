/** Flow-defined slot types: synonyms in the caller's words, forgiving a recogniser's slip. */
import { describe, expect, it } from 'vitest';
import { createEntityMatcher } from './entities.js';

const HEATING = {
  values: {
    fioul: { fr: ['fioul', 'mazout'], en: ['oil', 'heating oil'] },
    pompe_a_chaleur: { fr: ['pompe à chaleur', 'PAC'], en: ['heat pump'] },
    gaz: { fr: ['gaz', 'gaz de ville'], en: ['gas'] },
  },
};

describe('entity matcher', () => {
  const fr = createEntityMatcher(HEATING, 'fr');
  const en = createEntityMatcher(HEATING, 'en');

  it('finds a synonym among other words, whatever the case and accents, and returns the words said', () => {
    expect(fr.match('Chez nous c’est une POMPE A CHALEUR')).toEqual({ value: 'pompe_a_chaleur', confidence: 1, text: 'POMPE A CHALEUR' });
    expect(fr.match('au mazout')).toEqual({ value: 'fioul', confidence: 1, text: 'mazout' });
    expect(en.match('we have a heat pump')).toEqual({ value: 'pompe_a_chaleur', confidence: 1, text: 'heat pump' });
  });

  it('is less sure when two values are named', () => {
    expect(fr.match('du gaz ou du fioul je crois')).toEqual({ value: 'gaz', confidence: 0.55, text: 'gaz' });
  });

  it('forgives a one-letter slip on a long enough word, with lower confidence', () => {
    const match = fr.match('au mazoute');
    expect(match?.value).toBe('fioul');
    expect(match!.confidence).toBeGreaterThan(0.6);
    expect(match!.confidence).toBeLessThan(1);
  });

  it('finds nothing in an unrelated answer, or in another language\'s synonyms', () => {
    expect(fr.match('je ne sais pas')).toBeNull();
    expect(en.match('mazout')).toBeNull();
  });
});
