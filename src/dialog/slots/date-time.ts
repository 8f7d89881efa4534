/**
 * Date and time slots for call-backs and appointments: "demain après-midi",
 * "lundi matin", "après-demain vers 14 heures", "jeudi à 10h30", "tomorrow
 * afternoon", "next Monday at 3 pm", "this evening", "entre 14h et 16h".
 * The value is a day and a window, in the local time of the process and
 * relative to `now`:
 *   - parts of the day: morning 09:00–12:00, lunchtime 12:00–14:00, afternoon 14:00–18:00, evening 18:00–20:00
 *     ("début"/"early" is the first hour of the part, "fin"/"late" the last);
 *   - a day alone: 09:00–20:00;
 *   - an exact time ("à 10h30", "at 3 pm"): from = to = that time; "vers"/"around": 30 minutes either side;
 *     "après"/"after": to the end of the part (20:00 with no part); "avant"/"before": from its start (09:00);
 *   - an hour from 1 to 7 with no am/pm and no part of the day is taken in the afternoon ("à 3 heures" → 15:00);
 *   - a weekday is the next such day after today ("lundi" said on a Monday is in a week); "next Monday" too;
 *     "la semaine prochaine"/"next week" is next Monday;
 *   - a time or a part of the day with no day is today, or tomorrow once it has passed.
 */
import { tokenize } from '../intents/normalize.js';
import { formatMinutes, readClockTime, type ClockTime } from './clock-time.js';
import { langOf, readNumbers } from './number-words.js';
import { spanText } from './span.js';
import { roundConfidence, type SlotValue } from './types.js';

export interface DateTimeValue {
  /** YYYY-MM-DD */
  date: string;
  /** HH:MM */
  from: string;
  to: string;
  text: string;
}

interface Part {
  from: number;
  to: number;
}
const H = 60;
export const DAY_PARTS: Record<'morning' | 'lunch' | 'afternoon' | 'evening', Part> = {
  morning: { from: 9 * H, to: 12 * H },
  lunch: { from: 12 * H, to: 14 * H },
  afternoon: { from: 14 * H, to: 18 * H },
  evening: { from: 18 * H, to: 20 * H },
};
const WHOLE_DAY: Part = { from: 9 * H, to: 20 * H };

const WEEKDAYS: Record<string, number> = {
  dimanche: 0, lundi: 1, mardi: 2, mercredi: 3, jeudi: 4, vendredi: 5, samedi: 6,
  sunday: 0, monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6,
};
const MONTHS: Record<string, number> = {
  janvier: 0, fevrier: 1, mars: 2, avril: 3, mai: 4, juin: 5, juillet: 6, aout: 7, septembre: 8, octobre: 9, novembre: 10, decembre: 11,
  january: 0, february: 1, march: 2, april: 3, may: 4, june: 5, july: 6, august: 7, september: 8, october: 9, november: 10, december: 11,
};
const ORDINALS: Record<string, number> = {
  premier: 1, first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10, eleventh: 11, twelfth: 12,
  thirteenth: 13, fourteenth: 14, fifteenth: 15, sixteenth: 16, seventeenth: 17, eighteenth: 18, nineteenth: 19, twentieth: 20, thirtieth: 30,
};
const UNITS: Record<string, number> = { jour: 1, jours: 1, day: 1, days: 1, semaine: 7, semaines: 7, week: 7, weeks: 7 };

type DateSpec = { offset: number } | { weekday: number } | { day: number; month?: number };
type TimeSpec = { kind: 'exact' | 'approx' | 'after' | 'before'; t: ClockTime } | { kind: 'range'; t: ClockTime; t2: ClockTime } | { kind: 'in'; minutes: number };

interface Found<T> {
  value: T;
  start: number;
  end: number;
}

const APPROX = ['vers', 'environ', 'around', 'about', 'approximately', 'roughly'];
const AFTER = [['a', 'partir', 'de'], ['apres'], ['after'], ['from'], ['des'], ['starting', 'at']];
const BEFORE = [['avant'], ['before'], ['until'], ['till'], ['jusque', 'a']];
const EXACT = [['a'], ['at'], ['pour'], ['for'], ['on']];

function startsWith(t: readonly string[], i: number, words: readonly string[]): boolean {
  return words.every((w, k) => t[i + k] === w);
}

function readDate(t: readonly string[], i: number): Found<DateSpec> | null {
  const a = t[i];
  if (a === 'aujourdhui' || a === 'today') return { value: { offset: 0 }, start: i, end: i + 1 };
  if (a === 'apres' && t[i + 1] === 'demain') return { value: { offset: 2 }, start: i, end: i + 2 };
  if (startsWith(t, i, ['the', 'day', 'after', 'tomorrow']) || startsWith(t, i, ['day', 'after', 'tomorrow'])) {
    const n = a === 'the' ? 4 : 3;
    return { value: { offset: 2 }, start: i, end: i + n };
  }
  if (a === 'demain' || a === 'tomorrow') return { value: { offset: 1 }, start: i, end: i + 1 };
  if ((a === 'ce' || a === 'cet' || a === 'cette' || a === 'this') && ['matin', 'apres', 'soir', 'nuit', 'morning', 'afternoon', 'evening'].includes(t[i + 1])) {
    return { value: { offset: 0 }, start: i, end: i + 1 };
  }
  if (a in WEEKDAYS) return { value: { weekday: WEEKDAYS[a] }, start: (t[i - 1] === 'next' || t[i - 1] === 'this' || t[i - 1] === 'on') ? i - 1 : i, end: t[i + 1] === 'prochain' ? i + 2 : i + 1 };
  if (startsWith(t, i, ['la', 'semaine', 'prochaine']) || startsWith(t, i, ['next', 'week'])) {
    return { value: { weekday: 1 }, start: i, end: i + (a === 'la' ? 3 : 2) };
  }
  if (a === 'dans' || a === 'in') {
    const n = t[i + 1] === 'une' || t[i + 1] === 'un' || t[i + 1] === 'a' ? { value: 1, end: i + 2 } : numberReading(t, i + 1);
    if (n && t[n.end] in UNITS) return { value: { offset: n.value * UNITS[t[n.end]] }, start: i, end: n.end + 1 };
  }
  // "le 15", "le quinze mars", "le premier", "the 15th of March", "March 15th", "15 mars".
  const lead = a === 'le' || a === 'the' || a === 'on' ? 1 + (a === 'on' && t[i + 1] === 'the' ? 1 : 0) : 0;
  const day = dayOfMonth(t, i + lead);
  if (day && (lead > 0 || day.ordinal || t[day.end] in MONTHS || (t[day.end] === 'of' && t[day.end + 1] in MONTHS))) {
    let end = day.end;
    const monthAt = t[end] === 'of' ? end + 1 : end;
    const month = MONTHS[t[monthAt]];
    if (month !== undefined) end = monthAt + 1;
    return { value: { day: day.value, month }, start: i, end };
  }
  if (a in MONTHS) {
    const d = dayOfMonth(t, i + 1 + (t[i + 1] === 'the' ? 1 : 0));
    if (d) return { value: { day: d.value, month: MONTHS[a] }, start: i, end: d.end };
  }
  return null;
}

function numberReading(t: readonly string[], i: number): { value: number; end: number } | null {
  if (/^\d+$/.test(t[i] ?? '')) return { value: Number(t[i]), end: i + 1 };
  const r = readNumbers(t, i, langOf(/^[a-z]+$/.test(t[i] ?? '') && ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'].includes(t[i]) ? 'en' : 'fr'));
  return r.length > 0 ? r.reduce((a, b) => (b.end > a.end ? b : a)) : null;
}

function dayOfMonth(t: readonly string[], i: number): { value: number; end: number; ordinal: boolean } | null {
  const a = t[i];
  if (a === undefined) return null;
  if (a in ORDINALS) return { value: ORDINALS[a], end: i + 1, ordinal: true };
  if ((a === 'twenty' || a === 'thirty') && t[i + 1] in ORDINALS && ORDINALS[t[i + 1]] < 10) {
    return { value: (a === 'twenty' ? 20 : 30) + ORDINALS[t[i + 1]], end: i + 2, ordinal: true };
  }
  const suffix = ['st', 'nd', 'rd', 'th', 'er', 'eme'].includes(t[i + 1]);
  const n = numberReading(t, i);
  if (!n || n.value < 1 || n.value > 31) return null;
  if (HOURISH.has(t[n.end])) return null;
  return suffix && /^\d+$/.test(a) ? { value: n.value, end: i + 2, ordinal: true } : { ...n, ordinal: false };
}
const HOURISH = new Set(['h', 'heure', 'heures', 'hour', 'hours', 'pm', 'am', 'oclock', 'minutes']);

function readPart(t: readonly string[], i: number): Found<Part> | null {
  let j = i;
  let edge: 'early' | 'late' | null = null;
  if (t[j] === 'debut' || t[j] === 'early') edge = 'early';
  if (t[j] === 'fin' || t[j] === 'late') edge = 'late';
  if (edge) j += t[j + 1] === 'de' || t[j + 1] === 'in' ? 2 : 1;
  if (t[j] === 'le' || t[j] === 'the' || t[j] === 'this' || t[j] === 'in') j += t[j + 1] === 'the' ? 2 : 1;
  let part: Part | null = null;
  let end = j + 1;
  const w = t[j];
  if (w === 'matin' || w === 'matinee' || w === 'morning') part = DAY_PARTS.morning;
  else if ((w === 'apres' && t[j + 1] === 'midi') || w === 'aprem' || w === 'apresmidi' || w === 'afternoon') {
    part = DAY_PARTS.afternoon;
    if (w === 'apres') end = j + 2;
  } else if (w === 'soir' || w === 'soiree' || w === 'evening' || w === 'tonight' || w === 'nuit') part = DAY_PARTS.evening;
  else if (w === 'lunchtime' || (w === 'lunch' && t[j - 1] !== 'after') || (w === 'heure' && t[j + 1] === 'de' && t[j + 2] === 'dejeuner')) {
    part = DAY_PARTS.lunch;
    if (w === 'heure') end = j + 3;
  }
  if (!part) return null;
  if (edge === 'early') part = { from: part.from, to: Math.min(part.to, part.from + H) };
  if (edge === 'late') part = { from: Math.max(part.from, part.to - H), to: part.to };
  return { value: part, start: i, end };
}

function readTimeSpec(t: readonly string[], i: number, language: string): Found<TimeSpec> | null {
  const lang = langOf(language);
  const timeAt = (j: number, needMark: boolean) => {
    const c = readClockTime(t, j, language);
    if (!c || (needMark && !c.marked)) return null;
    if (!c.marked && (t[c.end] in UNITS || t[c.end] === 'minutes' || t[c.end] === 'mois' || t[c.end] === 'months' || t[c.end] in MONTHS)) return null;
    return c;
  };
  // "dans deux heures", "in an hour".
  if (t[i] === 'dans' || t[i] === 'in') {
    const n = t[i + 1] === 'une' || t[i + 1] === 'an' || t[i + 1] === 'one' ? { value: 1, end: i + 2 } : numberReading(t, i + 1);
    if (n && ['heure', 'heures', 'hour', 'hours'].includes(t[n.end])) return { value: { kind: 'in', minutes: n.value * 60 }, start: i, end: n.end + 1 };
    if (n && ['minutes', 'minute', 'min'].includes(t[n.end])) return { value: { kind: 'in', minutes: n.value }, start: i, end: n.end + 1 };
  }
  const range: Array<[string[], string[]]> = lang === 'fr' ? [[['entre'], ['et']], [['de'], ['a']], [['de'], ['jusque', 'a']]] : [[['between'], ['and']], [['from'], ['to']], [['from'], ['till']], [['from'], ['until']]];
  for (const [open, close] of range) {
    if (!startsWith(t, i, open)) continue;
    const t1 = timeAt(i + open.length, false);
    if (!t1 || !startsWith(t, t1.end, close)) continue;
    const t2 = timeAt(t1.end + close.length, false);
    if (t2 && (t1.marked || t2.marked || open[0] === 'entre' || open[0] === 'between')) return { value: { kind: 'range', t: t1, t2 }, start: i, end: t2.end };
  }
  for (const [kind, preps] of [['approx', APPROX.map((w) => [w])], ['after', AFTER], ['before', BEFORE], ['exact', EXACT]] as const) {
    for (const p of preps) {
      if (!startsWith(t, i, p)) continue;
      const skip = t[i + p.length] === 'de' || t[i + p.length] === 'the' || t[i + p.length] === 'les' ? 1 : 0;
      const c = timeAt(i + p.length + skip, false);
      if (c) return { value: { kind, t: c }, start: i, end: c.end };
    }
  }
  const c = timeAt(i, true);
  if (!c) return null;
  // "14h à 16h", "2 to 4 pm".
  const sep = lang === 'fr' ? ['a', 'jusque'] : ['to', 'till', 'until'];
  if (sep.includes(t[c.end])) {
    const t2 = timeAt(c.end + (t[c.end] === 'jusque' ? 2 : 1), false);
    if (t2) return { value: { kind: 'range', t: c, t2 }, start: i, end: t2.end };
  }
  return { value: { kind: 'exact', t: c }, start: i, end: c.end };
}

/** 24-hour minutes for a time said without am/pm, given the part of the day said with it. */
function resolveHour(c: ClockTime, part: Part | null, meridiem?: 'am' | 'pm'): number {
  const m = c.meridiem ?? meridiem;
  const h = Math.floor(c.minutes / 60);
  if (h >= 13 || h === 0) return c.minutes;
  if (m === 'pm') return h === 12 ? c.minutes : c.minutes + 12 * H;
  if (m === 'am') return h === 12 ? c.minutes - 12 * H : c.minutes;
  if (part) return part.from >= 12 * H && h < 12 ? c.minutes + 12 * H : c.minutes;
  return h >= 1 && h <= 7 ? c.minutes + 12 * H : c.minutes;
}

export function extractDateTime(text: string, language: string, now: Date = new Date()): SlotValue<DateTimeValue> | null {
  const tokens = tokenize(text, { language });
  const t = tokens.map((x) => x.norm);
  let date: Found<DateSpec> | null = null;
  let part: Found<Part> | null = null;
  let time: Found<TimeSpec> | null = null;
  for (let i = 0; i < t.length; ) {
    const d: Found<DateSpec> | null = date ? null : readDate(t, i);
    if (d) {
      date = d;
      i = d.end;
      continue;
    }
    const p: Found<Part> | null = part ? null : readPart(t, i);
    if (p) {
      part = p;
      i = p.end;
      continue;
    }
    const s: Found<TimeSpec> | null = time ? null : readTimeSpec(t, i, language);
    if (s) {
      time = s;
      i = s.end;
      continue;
    }
    i++;
  }
  if (!date && !part && !time) return null;
  const nowMinutes = now.getHours() * H + now.getMinutes();
  const p = part?.value ?? null;
  let from: number;
  let to: number;
  const spec = time?.value;
  if (!spec) ({ from, to } = p ?? WHOLE_DAY);
  else if (spec.kind === 'in') from = to = nowMinutes + spec.minutes;
  else if (spec.kind === 'range') {
    const t2 = resolveHour(spec.t2, p);
    const t1 = resolveHour(spec.t, p, spec.t.meridiem ?? (spec.t2.meridiem && spec.t.minutes <= spec.t2.minutes ? spec.t2.meridiem : undefined));
    from = t1;
    to = t2 < t1 && t2 + 12 * H > t1 ? t2 + 12 * H : t2;
  } else {
    const x = resolveHour(spec.t, p);
    if (spec.kind === 'exact') from = to = x;
    else if (spec.kind === 'approx') [from, to] = [x - 30, x + 30];
    else if (spec.kind === 'after') [from, to] = [x, Math.max(x + H, (p ?? WHOLE_DAY).to)];
    else [from, to] = [Math.min(x - H, (p ?? WHOLE_DAY).from), x];
  }
  let day = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const d = date?.value;
  if (!d) {
    if (spec?.kind === 'in') day = new Date(day.getFullYear(), day.getMonth(), day.getDate() + Math.floor(from / (24 * H)));
    else if (to <= nowMinutes) day = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1);
  } else if ('offset' in d) day = new Date(day.getFullYear(), day.getMonth(), day.getDate() + d.offset);
  else if ('weekday' in d) day = new Date(day.getFullYear(), day.getMonth(), day.getDate() + (((d.weekday - day.getDay() + 7) % 7) || 7));
  else {
    const month = d.month ?? (d.day > day.getDate() ? day.getMonth() : day.getMonth() + 1);
    let candidate = new Date(day.getFullYear(), month, d.day);
    if (candidate < day) candidate = new Date(day.getFullYear() + 1, month, d.day);
    day = candidate;
  }
  const found: Array<{ start: number; end: number }> = [date, part, time].flatMap((x) => (x ? [x] : []));
  const first = Math.min(...found.map((f) => f.start));
  const last = Math.max(...found.map((f) => f.end)) - 1;
  const span = spanText(text, tokens, first, last);
  const value: DateTimeValue = {
    date: `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`,
    from: formatMinutes(from),
    to: formatMinutes(to),
    text: span,
  };
  const confidence = date && (part || time) ? 0.9 : 0.8;
  return { value, confidence: roundConfidence(confidence), text: span };
}
