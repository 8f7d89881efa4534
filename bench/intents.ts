/**
 * Cost of understanding one caller turn offline: the local intent classifier
 * on a 30-intent flow (10 examples each) and each slot extractor, in µs per
 * call, against the 20 ms of audio a frame carries and against a named
 * alternative measured in the same run (a plain exact-match lookup).
 */
import { createLocalClassifier } from '../src/dialog/intents/local.js';
import { normalizeText } from '../src/dialog/intents/normalize.js';
import { HEATING_LEADS } from '../src/dialog/intents/test-support.js';
import { extractSlot, type SlotType } from '../src/dialog/slots/index.js';
import type { IntentDefinition } from '../src/dialog/types.js';

const FILLERS = ['euh', 'alors', 'ben', 'oui', 'bah', 'donc', 'voilà', 'en fait', 'bon', 'hmm'];

/** The lead line's 30 intents, each brought to exactly 10 examples with hesitation-prefixed variants. */
function thirtyByTen(): IntentDefinition[] {
  return HEATING_LEADS.map((d) => {
    const own = d.examples.fr;
    const ten = Array.from({ length: 10 }, (_, i) => (i < own.length ? own[i] : `${FILLERS[i]} ${own[i % own.length]}`));
    return { ...d, examples: { fr: ten } };
  });
}

const UTTERANCES = [
  'je suis proprietaire',
  'non je suis locataire',
  'euh je me chauffe au fioul',
  "c'est une arnaque votre truc",
  'comment vous avez eu mon numéro',
  'oui rappelez moi demain matin',
  "j'ai pas le temps là je conduis",
  'il fait beau aujourd’hui',
  'pourquoi vous voulez mon code postal',
  'non merci ça ne m’intéresse pas du tout',
  'vous êtes un robot',
  'ça va me coûter combien cette histoire',
];

const SLOTS: Array<[SlotType, string, string]> = [
  ['zip_code_fr', 'fr', 'euh soixante-quinze zéro zéro un'],
  ['phone', 'fr', 'zéro six douze trente-quatre cinquante-six soixante-dix-huit'],
  ['email', 'fr', 'jean point dupont arobase gmail point com'],
  ['person_name', 'fr', "je m'appelle Jean-Pierre Dupont"],
  ['company_name', 'en', 'I work for General Electric in Boston'],
  ['yes_no', 'fr', 'non pas du tout'],
  ['number', 'fr', 'mille deux cent quatre-vingt-dix-sept'],
  ['date_time', 'fr', 'après-demain vers 14 heures'],
  ['digits', 'en', 'oh seven seven double oh nine one two three'],
];

/** Median over `rounds` of the mean µs per call: robust to another process taking the CPU for a moment. */
async function timeAsync(iterations: number, fn: (i: number) => Promise<unknown>, rounds = 7): Promise<number> {
  const per = Math.max(1, Math.round(iterations / rounds));
  const means: number[] = [];
  for (let r = 0, i = 0; r < rounds; r++) {
    const start = performance.now();
    for (let k = 0; k < per; k++, i++) await fn(i);
    means.push(((performance.now() - start) * 1000) / per);
  }
  return median(means);
}

function time(iterations: number, fn: (i: number) => unknown, rounds = 7): number {
  const per = Math.max(1, Math.round(iterations / rounds));
  const means: number[] = [];
  for (let r = 0, i = 0; r < rounds; r++) {
    const start = performance.now();
    for (let k = 0; k < per; k++, i++) fn(i);
    means.push(((performance.now() - start) * 1000) / per);
  }
  return median(means);
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export default async function bench(ctx: { quick: boolean; print: (line: string) => void }): Promise<void> {
  const intents = thirtyByTen();
  const candidates = intents.map((d) => d.name);
  const examples = intents.reduce((n, d) => n + d.examples.fr.length, 0);
  const n = ctx.quick ? 2000 : 20000;

  // Cold: a classifier built for the measure, so the first calls also build the model and fill the word cache.
  const buildStart = performance.now();
  const cold = createLocalClassifier(intents);
  await cold.classify(UTTERANCES[0], { language: 'fr', candidates });
  const firstMs = performance.now() - buildStart;

  const classifier = createLocalClassifier(intents);
  // Warm up for a fixed time so the JIT has compiled the scoring loops before the measure.
  for (let i = 0, until = performance.now() + (ctx.quick ? 300 : 1000); performance.now() < until; i++) {
    await classifier.classify(UTTERANCES[i % UTTERANCES.length], { language: 'fr', candidates });
  }
  const warm = await timeAsync(n, (i) => classifier.classify(UTTERANCES[i % UTTERANCES.length], { language: 'fr', candidates }));
  // Unseen words every time: the word-similarity cache never hits.
  const unseen = await timeAsync(Math.round(n / 4), (i) => classifier.classify(`${UTTERANCES[i % UTTERANCES.length]} mot${i}x inconnu${i}z`, { language: 'fr', candidates }));

  // The named alternative: exact lookup of the normalised utterance among the examples (what a keyword table costs).
  const table = new Map<string, string>();
  for (const d of intents) for (const e of d.examples.fr) table.set(normalizeText(e, 'fr'), d.name);
  const exact = time(n, (i) => table.get(normalizeText(UTTERANCES[i % UTTERANCES.length], 'fr')));

  ctx.print(`local classifier, ${intents.length} intents × ${examples / intents.length} examples (${examples} examples), French:`);
  ctx.print(`  model build + first call: ${firstMs.toFixed(1)} ms`);
  ctx.print(`  per classification (warm, median of 7 rounds): ${warm.toFixed(1)} µs — ${(warm / 20000).toFixed(4)}× a 20 ms frame; ${(warm / exact).toFixed(1)}× an exact-match lookup (${exact.toFixed(1)} µs)`);
  ctx.print(`  per classification with 2 unseen words (no cache hit): ${unseen.toFixed(1)} µs`);

  ctx.print('slot extraction, µs per call (median of 7 rounds):');
  const m = ctx.quick ? 500 : 5000;
  const now = new Date(2025, 0, 15, 10, 0);
  for (const [type, language, text] of SLOTS) {
    const got = extractSlot(type, text, { language, now });
    if (!got) throw new Error(`${type} found nothing in "${text}"`);
    for (let i = 0; i < 50; i++) extractSlot(type, text, { language, now });
    const us = time(m, () => extractSlot(type, text, { language, now }));
    ctx.print(`  ${type.padEnd(13)} ${us.toFixed(1).padStart(7)} µs  "${text}" → ${JSON.stringify(got.value)}`);
  }
}
