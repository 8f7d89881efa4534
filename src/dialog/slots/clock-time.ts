/**
 * Clock times in French and English over normalised tokens: "14h30", "quatorze
 * heures trente", "dix heures et demie", "onze heures moins le quart", "midi",
 * "3 pm", "3:30 pm", "half past two", "quarter to four", "noon", "ten thirty".
 */
import { langOf, readNumbers, type Lang } from './number-words.js';

export interface ClockTime {
  /** Minutes after midnight. */
  minutes: number;
  /** One past the last token read. */
  end: number;
  /** An hour word or a meridiem was said ("heures", "h", "pm", "o'clock"), so this is surely a time. */
  marked: boolean;
  /** am/pm said or implied ("du soir", "in the afternoon"); otherwise the caller of readClockTime decides. */
  meridiem?: 'am' | 'pm';
}

const HOUR_WORDS = new Set(['h', 'heure', 'heures', 'hr', 'hrs', 'hour', 'hours']);

function numberAt(t: readonly string[], i: number, lang: Lang, max: number): { value: number; end: number } | null {
  const tok = t[i];
  if (tok === undefined) return null;
  if (/^\d{1,2}$/.test(tok)) return Number(tok) <= max ? { value: Number(tok), end: i + 1 } : null;
  if (/^\d{3,4}$/.test(tok) && lang === 'en') return null;
  const readings = readNumbers(t, i, lang).filter((r) => r.value <= max && !/^\d/.test(t[i]));
  if (readings.length === 0) return null;
  return readings.reduce((a, b) => (b.end > a.end ? b : a));
}

/** A meridiem or day part right after a time: "pm", "p m", "du soir", "de l'après-midi", "in the morning". */
function meridiemAt(t: readonly string[], i: number): { meridiem: 'am' | 'pm'; end: number } | null {
  const a = t[i];
  const b = t[i + 1];
  if (a === 'pm' || a === 'am') return { meridiem: a, end: i + 1 };
  if ((a === 'p' || a === 'a') && b === 'm') return { meridiem: a === 'p' ? 'pm' : 'am', end: i + 2 };
  if ((a === 'du' || a === 'de') && (b === 'soir' || b === 'matin')) return { meridiem: b === 'soir' ? 'pm' : 'am', end: i + 2 };
  if (a === 'de' && b === 'le' && t[i + 2] === 'apres' && t[i + 3] === 'midi') return { meridiem: 'pm', end: i + 4 };
  if (a === 'in' && b === 'the' && ['morning', 'afternoon', 'evening'].includes(t[i + 2])) return { meridiem: t[i + 2] === 'morning' ? 'am' : 'pm', end: i + 3 };
  if (a === 'at' && b === 'night') return { meridiem: 'pm', end: i + 2 };
  return null;
}

function withMeridiem(time: ClockTime, t: readonly string[]): ClockTime {
  const m = meridiemAt(t, time.end);
  return m ? { ...time, end: m.end, meridiem: m.meridiem, marked: true } : time;
}

/** French minutes after "heures": "trente", "30", "et demie", "et quart", "moins le quart", "moins dix". */
function frMinutes(t: readonly string[], i: number): { delta: number; end: number } | null {
  if (t[i] === 'et' && (t[i + 1] === 'demie' || t[i + 1] === 'demi')) return { delta: 30, end: i + 2 };
  if (t[i] === 'et' && t[i + 1] === 'quart') return { delta: 15, end: i + 2 };
  if (t[i] === 'moins' && t[i + 1] === 'le' && t[i + 2] === 'quart') return { delta: -15, end: i + 3 };
  if (t[i] === 'moins' && t[i + 1] === 'quart') return { delta: -15, end: i + 2 };
  if (t[i] === 'moins') {
    const n = numberAt(t, i + 1, 'fr', 30);
    return n ? { delta: -n.value, end: n.end } : null;
  }
  const n = numberAt(t, i, 'fr', 59);
  if (!n) return null;
  return { delta: n.value, end: t[n.end] === 'minutes' || t[n.end] === 'min' ? n.end + 1 : n.end };
}

/** A clock time starting at token `i`, or null. Bare numbers ("à 10") come back unmarked. */
export function readClockTime(t: readonly string[], i: number, language: string): ClockTime | null {
  const lang = langOf(language);
  const a = t[i];
  if (a === 'midi' || a === 'noon' || a === 'midday' || a === 'minuit' || a === 'midnight') {
    const base = a === 'minuit' || a === 'midnight' ? 0 : 12 * 60;
    const m = a === 'midi' || a === 'minuit' ? frMinutes(t, i + 1) : null;
    // "midi et demi", "midi moins le quart"; a bare number after "midi" is not minutes ("midi 2" is rare, "midi deux" is "midi et deux").
    if (m && (t[i + 1] === 'et' || t[i + 1] === 'moins')) return { minutes: (base + m.delta + 1440) % 1440, end: m.end, marked: true };
    return { minutes: base, end: i + 1, marked: true };
  }
  if (lang === 'en') {
    // "half past two", "quarter to four", "twenty past three", "ten to five".
    const before: { value: number; end: number } | null =
      a === 'half'
        ? { value: 30, end: i + 1 }
        : a === 'quarter' || (a === 'a' && t[i + 1] === 'quarter')
          ? { value: 15, end: a === 'a' ? i + 2 : i + 1 }
          : numberAt(t, i, 'en', 30);
    if (before && (t[before.end] === 'past' || t[before.end] === 'to' || t[before.end] === 'after' || t[before.end] === 'before')) {
      const h = numberAt(t, before.end + 1, 'en', 12) ?? (t[before.end + 1] === 'noon' ? { value: 12, end: before.end + 2 } : null);
      if (h) {
        const sign = t[before.end] === 'past' || t[before.end] === 'after' ? 1 : -1;
        return withMeridiem({ minutes: (h.value * 60 + sign * before.value + 1440) % 1440, end: h.end, marked: true }, t);
      }
    }
  }
  const h = numberAt(t, i, lang, 24);
  if (!h) return null;
  if (HOUR_WORDS.has(t[h.end]) || (t[h.end] === 'oclock' && lang === 'en')) {
    let end = h.end + 1;
    let minutes = h.value * 60;
    const m = lang === 'fr' ? frMinutes(t, end) : t[h.end] === 'oclock' ? null : numberAt(t, end, 'en', 59);
    if (m) {
      minutes += 'delta' in m ? m.delta : m.value;
      end = m.end;
    }
    return withMeridiem({ minutes: (minutes + 1440) % 1440, end, marked: true }, t);
  }
  // "3 30 pm", "ten thirty", "10 45": hour then minutes.
  const mm = h.value <= 12 || lang === 'fr' ? numberAt(t, h.end, lang, 59) : null;
  const minutes = mm && (mm.value >= 10 || t[h.end] === 'oh' || t[h.end] === 'zero') ? mm : null;
  const base: ClockTime = { minutes: h.value * 60 + (minutes?.value ?? 0), end: minutes?.end ?? h.end, marked: false };
  const withM = withMeridiem(base, t);
  return withM.marked ? withM : { ...base, marked: minutes !== null && h.value <= 24 && lang === 'en' };
}

export function formatMinutes(minutes: number): string {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}
