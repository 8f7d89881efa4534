/**
 * Slot extraction: typed values read from what the caller said, in French and
 * English. Each extractor returns the value, a confidence (0..1) and the words
 * it came from, or null when the answer holds no such value.
 */
import { PalabreError } from '../../errors.js';
import { extractDateTime } from './date-time.js';
import { extractEmail } from './email.js';
import { extractCompanyName, extractPersonName } from './names.js';
import { extractDigits, extractNumber } from './number.js';
import { extractPhone } from './phone.js';
import type { SlotValue } from './types.js';
import { extractYesNo } from './yes-no.js';
import { extractZipCode } from './zip-code.js';

export const SLOT_TYPES = ['zip_code_fr', 'phone', 'email', 'person_name', 'company_name', 'yes_no', 'number', 'date_time', 'digits', 'text'] as const;
export type SlotType = (typeof SLOT_TYPES)[number];

export interface ExtractOptions {
  /** 'fr', 'en', 'fr-FR'…; other languages use both lexicons. */
  language: string;
  /** Reference for relative dates ("demain"); default: the current time. */
  now?: Date;
  /** For 'digits': only a reading of exactly this many digits (the count a digits state expects). */
  length?: number;
}

export type { SlotValue } from './types.js';
export type { DateTimeValue } from './date-time.js';
export { DAY_PARTS } from './date-time.js';
export { isValidFrenchZip } from './zip-code.js';
export { readYesNo } from './yes-no.js';

/**
 * Reads a slot of `type` from `text`. Values: zip_code_fr, phone, email, digits,
 * person_name, company_name, text → string; yes_no → boolean; number → number;
 * date_time → { date: 'YYYY-MM-DD', from: 'HH:MM', to: 'HH:MM', text }.
 */
export function extractSlot(type: SlotType, text: string, options: ExtractOptions): SlotValue | null {
  const { language } = options;
  switch (type) {
    case 'zip_code_fr':
      return extractZipCode(text, language);
    case 'phone':
      return extractPhone(text, language);
    case 'email':
      return extractEmail(text, language);
    case 'person_name':
      return extractPersonName(text, language);
    case 'company_name':
      return extractCompanyName(text, language);
    case 'yes_no':
      return extractYesNo(text, language);
    case 'number':
      return extractNumber(text, language);
    case 'digits':
      return extractDigits(text, language, options.length);
    case 'date_time':
      return extractDateTime(text, language, options.now);
    case 'text': {
      const clean = text.replace(/\s+/g, ' ').trim();
      return clean ? { value: clean, confidence: 1, text: clean } : null;
    }
    default:
      throw new PalabreError('bad_request', `unknown slot type "${String(type)}"; known: ${SLOT_TYPES.join(', ')}`);
  }
}
