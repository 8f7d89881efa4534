/**
 * How many digits a transcript holds, in English and French, so a spoken
 * digits turn ("seven five zero zero one", "soixante-quinze zéro zéro un")
 * can be checked against the expected count before it goes to the dialog.
 * An estimate for turn-taking only: the dialog's slot extractors read the
 * actual value. Compound numbers count their digits ("seventy five" → 2,
 * "quatre-vingt-dix-sept" → 2, "deux cent" → 3); other words count nothing.
 */

const UNITS = new Set([
  'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
  'un', 'une', 'deux', 'trois', 'quatre', 'cinq', 'six', 'sept', 'huit', 'neuf',
]);
const ZEROS = new Set(['zero', 'oh', 'o']);
const TEENS = new Set([
  'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen',
  'dix', 'onze', 'douze', 'treize', 'quatorze', 'quinze', 'seize',
]);
const TENS = new Set(['twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety', 'vingt', 'vingts', 'trente', 'quarante', 'cinquante', 'soixante']);
const HUNDREDS = new Set(['hundred', 'cent', 'cents']);
const JOINERS = new Set(['and', 'et']);

function words(text: string): string[] {
  return text
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

export function countSpokenDigits(text: string): number {
  let count = 0;
  /** Trailing digits of a number said so far that later words fill ("seventy" leaves 1 open, "hundred" 2). */
  let open = 0;
  /** "dix" just said: "sept", "huit", "neuf" complete it (dix-sept) rather than adding a digit. */
  let afterDix = false;
  let previous = '';
  for (const w of words(text)) {
    const dix = afterDix;
    afterDix = false;
    if (/^\d+$/.test(w)) {
      count += w.length;
      open = 0;
    } else if (ZEROS.has(w)) {
      count += 1;
      open = 0;
    } else if (UNITS.has(w)) {
      if (dix && (w === 'sept' || w === 'huit' || w === 'neuf')) continue;
      if (open > 0) open = 0;
      else count += 1;
    } else if (TEENS.has(w)) {
      if (open > 0) open = 0;
      else count += 2;
      afterDix = w === 'dix';
    } else if (TENS.has(w)) {
      if (open === 2) open = 1;
      else {
        // "quatre vingt" is eighty: the "quatre" already counted one digit.
        count += (w === 'vingt' || w === 'vingts') && previous === 'quatre' ? 1 : 2;
        open = 1;
      }
    } else if (HUNDREDS.has(w)) {
      count += UNITS.has(previous) ? 2 : 3;
      open = 2;
    } else if (!JOINERS.has(w)) {
      open = 0;
    }
    previous = w;
  }
  return count;
}
