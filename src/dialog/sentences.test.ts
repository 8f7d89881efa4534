import { describe, expect, it } from 'vitest';
import { SentenceSplitter } from './sentences.js';

function split(deltas: string[], minChars?: number): string[] {
  const s = new SentenceSplitter(minChars);
  const out = deltas.flatMap((d) => s.push(d));
  const rest = s.end();
  return rest ? [...out, rest] : out;
}

describe('SentenceSplitter', () => {
  it('gives each sentence as soon as the space after its end arrives', () => {
    const s = new SentenceSplitter();
    expect(s.push('Bonjour et bienvenue')).toEqual([]);
    expect(s.push(' chez nous.')).toEqual([]);
    expect(s.push(' Que puis-je')).toEqual(['Bonjour et bienvenue chez nous.']);
    expect(s.push(' faire pour vous ? Dites')).toEqual(['Que puis-je faire pour vous ?']);
    expect(s.end()).toBe('Dites');
  });

  it('does not cut after abbreviations, initials or decimals, and joins sentences too short to say alone', () => {
    expect(split(['M. Dupont vous rappelle demain à 9h30. ', 'Le tarif est de 3.5 euros par mois, etc. Merci.'])).toEqual([
      'M. Dupont vous rappelle demain à 9h30.',
      'Le tarif est de 3.5 euros par mois, etc. Merci.',
    ]);
    expect(split(['Mr. J. Smith called yesterday. Yes. ', 'That is right!'])).toEqual(['Mr. J. Smith called yesterday.', 'Yes. That is right!']);
  });

  it('handles ellipses, closing quotes, line breaks and text split in the middle of a word', () => {
    expect(split(['Hmm… let me th', 'ink about it… Sure', ', I can "help you." A list follows\nand the last line'])).toEqual(['Hmm… let me think about it…', 'Sure, I can "help you."', 'A list follows', 'and the last line']);
  });

  it('with minChars 1 every sentence stands alone; an empty stream gives nothing', () => {
    expect(split(['Oui. Non. Peut-être.'], 1)).toEqual(['Oui.', 'Non.', 'Peut-être.']);
    expect(split([])).toEqual([]);
    expect(split(['   '])).toEqual([]);
  });
});
