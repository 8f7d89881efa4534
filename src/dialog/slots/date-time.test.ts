import { describe, expect, it } from 'vitest';
import { extractSlot, type DateTimeValue } from './index.js';

// Wednesday 15 January 2025, 10:00 local time.
const now = new Date(2025, 0, 15, 10, 0);

// [language, what the caller said, date, from, to]
const rows: Array<[string, string, string, string, string]> = [
  ['fr', 'demain après-midi', '2025-01-16', '14:00', '18:00'],
  ['fr', 'demain apres midi', '2025-01-16', '14:00', '18:00'],
  ['fr', 'lundi matin', '2025-01-20', '09:00', '12:00'],
  ['fr', 'après-demain vers 14 heures', '2025-01-17', '13:30', '14:30'],
  ['fr', 'jeudi à 10h30', '2025-01-16', '10:30', '10:30'],
  ['fr', 'ce soir', '2025-01-15', '18:00', '20:00'],
  ['fr', "aujourd'hui à 16h", '2025-01-15', '16:00', '16:00'],
  ['fr', 'entre 14h et 16h', '2025-01-15', '14:00', '16:00'],
  ['fr', 'mercredi', '2025-01-22', '09:00', '20:00'],
  ['fr', 'à 3 heures', '2025-01-15', '15:00', '15:00'],
  ['fr', 'demain à dix heures et demie', '2025-01-16', '10:30', '10:30'],
  ['fr', 'vendredi en fin de matinée', '2025-01-17', '11:00', '12:00'],
  ['fr', 'le 20 janvier à 9h', '2025-01-20', '09:00', '09:00'],
  ['fr', 'à partir de 17 heures', '2025-01-15', '17:00', '20:00'],
  ['fr', 'la semaine prochaine', '2025-01-20', '09:00', '20:00'],
  ['fr', 'dans deux jours le matin', '2025-01-17', '09:00', '12:00'],
  ['fr', 'demain midi', '2025-01-16', '12:00', '12:00'],
  ['fr', 'lundi prochain entre deux et quatre', '2025-01-20', '14:00', '16:00'],
  ['fr', 'demain avant 11h', '2025-01-16', '09:00', '11:00'],
  ['fr', 'à 9 heures', '2025-01-16', '09:00', '09:00'],
  ['fr', 'le premier février', '2025-02-01', '09:00', '20:00'],
  ['fr', 'samedi à onze heures moins le quart', '2025-01-18', '10:45', '10:45'],
  ['fr', 'oui rappelez-moi jeudi en début d’après-midi', '2025-01-16', '14:00', '15:00'],
  ['en', 'tomorrow afternoon', '2025-01-16', '14:00', '18:00'],
  ['en', 'next Monday at 3 pm', '2025-01-20', '15:00', '15:00'],
  ['en', 'this evening', '2025-01-15', '18:00', '20:00'],
  ['en', 'tonight at 7', '2025-01-15', '19:00', '19:00'],
  ['en', 'friday morning at ten thirty', '2025-01-17', '10:30', '10:30'],
  ['en', 'the day after tomorrow around 2 pm', '2025-01-17', '13:30', '14:30'],
  ['en', 'between 2 and 4 pm', '2025-01-15', '14:00', '16:00'],
  ['en', 'half past two tomorrow', '2025-01-16', '14:30', '14:30'],
  ['en', 'on the 20th at noon', '2025-01-20', '12:00', '12:00'],
  ['en', 'March 3rd in the morning', '2025-03-03', '09:00', '12:00'],
  ['en', 'at 9', '2025-01-16', '09:00', '09:00'],
  ['en', 'tomorrow', '2025-01-16', '09:00', '20:00'],
  ['en', 'wednesday', '2025-01-22', '09:00', '20:00'],
  ['en', 'thursday at 3:30 pm', '2025-01-16', '15:30', '15:30'],
  ['en', 'next week', '2025-01-20', '09:00', '20:00'],
  ['en', 'late afternoon on friday', '2025-01-17', '17:00', '18:00'],
  ['en', 'in two days', '2025-01-17', '09:00', '20:00'],
  ['en', 'after 5 pm today', '2025-01-15', '17:00', '20:00'],
  ['en', 'quarter to four tomorrow', '2025-01-16', '15:45', '15:45'],
  ['en', 'in two hours', '2025-01-15', '12:00', '12:00'],
];

describe('date_time slot', () => {
  it('has a table of at least 20 rows per language', () => {
    expect(rows.filter((r) => r[0] === 'fr').length).toBeGreaterThanOrEqual(20);
    expect(rows.filter((r) => r[0] === 'en').length).toBeGreaterThanOrEqual(20);
  });
  for (const [language, text, date, from, to] of rows) {
    it(`${language}: ${JSON.stringify(text)} → ${date} ${from}–${to}`, () => {
      const got = extractSlot('date_time', text, { language, now });
      const value = got?.value as DateTimeValue | undefined;
      expect(value && { date: value.date, from: value.from, to: value.to }).toEqual({ date, from, to });
      expect(got!.confidence).toBeGreaterThanOrEqual(0.75);
    });
  }
  it('finds nothing without a day or a time', () => {
    expect(extractSlot('date_time', 'je ne sais pas', { language: 'fr', now })).toBeNull();
    expect(extractSlot('date_time', 'I have three kids', { language: 'en', now })).toBeNull();
    expect(extractSlot('date_time', 'dans trois jours', { language: 'fr', now })).not.toBeNull();
  });
  it('moves a time already past today to tomorrow', () => {
    const evening = new Date(2025, 0, 15, 19, 0);
    expect((extractSlot('date_time', 'le matin', { language: 'fr', now: evening })?.value as DateTimeValue).date).toBe('2025-01-16');
    expect((extractSlot('date_time', 'à 21h', { language: 'fr', now: evening })?.value as DateTimeValue).date).toBe('2025-01-15');
  });
  it('takes a weekday said on that day as next week', () => {
    expect((extractSlot('date_time', 'mercredi', { language: 'fr', now })?.value as DateTimeValue).date).toBe('2025-01-22');
  });
  it('rolls a day of the month already past to the next month, and a past date to next year', () => {
    expect((extractSlot('date_time', 'le 10', { language: 'fr', now })?.value as DateTimeValue).date).toBe('2025-02-10');
    const december = new Date(2025, 11, 30, 10, 0);
    expect((extractSlot('date_time', 'le 3 janvier', { language: 'fr', now: december })?.value as DateTimeValue).date).toBe('2026-01-03');
  });
  it('carries the words it read in the value', () => {
    const got = extractSlot('date_time', 'oui alors demain après-midi si possible', { language: 'fr', now });
    expect(got?.text).toBe('demain après-midi');
    expect((got?.value as DateTimeValue).text).toBe('demain après-midi');
  });
});
