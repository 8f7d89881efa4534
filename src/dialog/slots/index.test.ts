import { describe, expect, it } from 'vitest';
import { isPalabreError } from '../../errors.js';
import { extractSlot, SLOT_TYPES, type SlotType } from './index.js';

describe('extractSlot', () => {
  it('knows every slot type it advertises', () => {
    const samples: Record<SlotType, [string, string]> = {
      zip_code_fr: ['fr', 'soixante-quinze zéro zéro un'],
      phone: ['fr', '06 12 34 56 78'],
      email: ['en', 'bob at example dot com'],
      person_name: ['en', 'my name is Ann Lee'],
      company_name: ['fr', 'je travaille chez Renault'],
      yes_no: ['fr', 'oui'],
      number: ['en', 'forty two'],
      date_time: ['en', 'tomorrow'],
      digits: ['fr', 'un deux trois'],
      text: ['fr', '  un   texte libre '],
    };
    expect(Object.keys(samples).sort()).toEqual([...SLOT_TYPES].sort());
    for (const type of SLOT_TYPES) {
      const [language, text] = samples[type];
      expect(extractSlot(type, text, { language }), type).not.toBeNull();
    }
    expect(extractSlot('text', '  un   texte libre ', { language: 'fr' })?.value).toBe('un texte libre');
    expect(extractSlot('text', '   ', { language: 'fr' })).toBeNull();
  });
  it('refuses an unknown slot type with a message naming it', () => {
    try {
      extractSlot('colour' as SlotType, 'red', { language: 'en' });
      expect.unreachable();
    } catch (err) {
      expect(isPalabreError(err) && err.code).toBe('bad_request');
      expect((err as Error).message).toMatch(/unknown slot type "colour"/);
    }
  });
  it('accepts region subtags and reads other languages with both lexicons', () => {
    expect(extractSlot('number', 'vingt et un', { language: 'fr-FR' })?.value).toBe(21);
    expect(extractSlot('number', 'twenty one', { language: 'en-GB' })?.value).toBe(21);
    expect(extractSlot('yes_no', 'oui', { language: 'de' })?.value).toBe(true);
  });
});
