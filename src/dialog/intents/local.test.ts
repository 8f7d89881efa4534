import { describe, expect, it } from 'vitest';
import { isPalabreError } from '../../errors.js';
import { createLocalClassifier } from './local.js';
import { HEATING_LEADS, SUPPORT_DESK } from './test-support.js';

// [what the caller said, expected intent (null: unknown), minimum confidence for a match]
type Row = [string, string | null, number?];

// Transcripts as PocketSphinx and friends write them: misheard words, repeats, no punctuation.
const supportEn: Row[] = [
  ['my internet is not walking', 'INTERNET_ISSUE'],
  ['yes yeah', 'YES'],
  ['yeah', 'YES'],
  ['uh yes', 'YES'],
  ['I guess so', 'YES'],
  ['sure thing', 'YES'],
  ['no', 'NO'],
  ['not really', 'NO'],
  ["I don't think so", 'NO'],
  ['nope', 'NO'],
  ['no thank you', 'NO'],
  ['the internet is done', 'INTERNET_ISSUE'],
  ['my why fi keeps dropping', 'INTERNET_ISSUE'],
  ['the router light is red', 'INTERNET_ISSUE'],
  ['the internet connection keeps cutting out', 'INTERNET_ISSUE'],
  ['yes my internet is not working', 'INTERNET_ISSUE'],
  ['no my internet is down', 'INTERNET_ISSUE'],
  ["I can't make calls on my mobile", 'MOBILE_ISSUE'],
  ['i can not make cause on my mobile', 'MOBILE_ISSUE'],
  ['my cell phone has no signal', 'MOBILE_ISSUE'],
  ['my phone is not working', 'MOBILE_ISSUE', 0.5],
  ['I want to change my plan', 'MODIFICATION_REQUEST'],
  ['i want to change my plane', 'MODIFICATION_REQUEST'],
  ["I'd like to upgrade my subscription", 'MODIFICATION_REQUEST'],
  ['my name is john smith', 'IDENTITY_PROVIDED'],
  ["it's john dot smith at gmail dot com", 'EMAIL_PROVIDED'],
  ['can I talk to a real person', 'HUMAN'],
  ['let me speak to an agent please', 'HUMAN'],
  ['say that again please', 'REPEAT'],
  ['bye bye', 'GOODBYE'],
  ["what's the weather like tomorrow", null],
  ['I like pizza', null],
  ['the cat sat on the mat', null],
  ['how old are you', null],
];

const supportFr: Row[] = [
  ['internet marche pas', 'INTERNET_ISSUE'],
  ['ma box elle marche plus', 'INTERNET_ISSUE'],
  ['ca marche pas internet', 'INTERNET_ISSUE'],
  ['oui bien sur', 'YES'],
  ['ouais', 'YES'],
  ['euh oui', 'YES'],
  ['non pas du tout', 'NO'],
  ['pas vraiment', 'NO'],
  ['non merci', 'NO'],
  ['je voudrais changer de forfait', 'MODIFICATION_REQUEST'],
  ['je veux resilier mon abonnement', 'MODIFICATION_REQUEST'],
  ['mon portable capte plus', 'MOBILE_ISSUE'],
  ['je veux parler a un conseiller', 'HUMAN'],
  ['vous pouvez repeter', 'REPEAT'],
  ['au revoir', 'GOODBYE'],
  ["je m'appelle jean dupont", 'IDENTITY_PROVIDED'],
  ['mon mail c est jean arobase free point fr', 'EMAIL_PROVIDED'],
  ['il fait beau aujourd hui', null],
  ["j'aime les pommes", null],
];

// The lead line: 30 intents, all candidates at once (the hardest case).
const leads: Row[] = [
  ['je suis proprietaire', 'ok_proprio'],
  ['oui je suis propriétaire', 'ok_proprio'],
  ['je suis pas proprio', 'not_proprio'],
  ['non je suis locataire', 'not_proprio'],
  ['on est en location', 'not_proprio'],
  ['je me chauffe au fioul', 'heating_oil'],
  ['au gaz', 'heating_gas'],
  ['on a une chaudiere au gaz', 'heating_gas'],
  ['je me chauffe avec des radiateurs electriques', 'heating_electric'],
  ["c'est une arnaque votre truc", 'faq_scam'],
  ['combien ça coûte', 'faq_price'],
  ['comment vous avez eu mon numéro', 'faq_how_got_number'],
  ['je suis en Belgique', 'not_in_france'],
  ["j'ai pas le temps là", 'busy'],
  ['rappelez moi plus tard je suis occupe', 'busy'],
  ["ça m'intéresse pas", 'not_interested'],
  ['pourquoi vous voulez mon code postal', 'zipcode_why'],
  ["c'est quoi ces aides", 'which_help'],
  ['oui rappelez moi', 'ok_callback'],
  ['non ne me rappelez pas', 'no_callback'],
  ['vous etes un robot', 'human'],
  ["c'est gratuit", 'faq_is_it_free'],
  ["pompe a chaleur c'est quoi", 'faq_heat_pump'],
  ['ça prend combien de temps les travaux', 'faq_works_duration'],
  ['supprimez moi de votre liste', 'faq_remove_list'],
  ["il fait beau aujourd'hui", null],
  ['le chat dort sur le canapé', null],
];

describe('local classifier', () => {
  const tables: Array<[string, string, Row[], ReturnType<typeof createLocalClassifier>, string[]]> = [
    ['support desk', 'en', supportEn, createLocalClassifier(SUPPORT_DESK), SUPPORT_DESK.map((d) => d.name)],
    ['support desk', 'fr', supportFr, createLocalClassifier(SUPPORT_DESK), SUPPORT_DESK.map((d) => d.name)],
    ['heating leads', 'fr', leads, createLocalClassifier(HEATING_LEADS), HEATING_LEADS.map((d) => d.name)],
  ];
  it('is tested on tables of at least 20 rows in English and French', () => {
    expect(supportEn.length).toBeGreaterThanOrEqual(20);
    expect(supportFr.length + leads.length).toBeGreaterThanOrEqual(20);
    expect(HEATING_LEADS.length).toBe(30);
  });
  for (const [flow, language, rows, classifier, candidates] of tables) {
    describe(`${flow} (${language})`, () => {
      for (const [text, expected, minConfidence] of rows) {
        it(`${JSON.stringify(text)} → ${expected ?? 'unknown'}`, async () => {
          const got = await classifier.classify(text, { language, candidates });
          expect(got.intent).toBe(expected);
          expect(got.source).toBe('local');
          // Calibration: a clear match above 0.7, unrelated text below 0.4.
          if (expected === null) expect(got.confidence).toBeLessThan(0.4);
          else expect(got.confidence).toBeGreaterThanOrEqual(minConfidence ?? 0.7);
        });
      }
      it('gets every row of the table right', async () => {
        let right = 0;
        for (const [text, expected] of rows) if ((await classifier.classify(text, { language, candidates })).intent === expected) right++;
        expect(right).toBe(rows.length);
      });
    });
  }

  const support = createLocalClassifier(SUPPORT_DESK);
  it('chooses only among the candidates of the state', async () => {
    const all = await support.classify('my internet is down', { language: 'en', candidates: SUPPORT_DESK.map((d) => d.name) });
    expect(all.intent).toBe('INTERNET_ISSUE');
    const yesNo = await support.classify('my internet is down', { language: 'en', candidates: ['YES', 'NO'] });
    expect(yesNo.intent).toBeNull();
    expect(yesNo.confidence).toBeLessThan(0.4);
    expect(await support.classify('yes', { language: 'en', candidates: [] })).toEqual({ intent: null, confidence: 0, source: 'local' });
    expect((await support.classify('yes', { language: 'en', candidates: ['NOT_DEFINED_HERE', 'YES'] })).intent).toBe('YES');
  });
  it('is accent- and case-insensitive', async () => {
    const candidates = HEATING_LEADS.map((d) => d.name);
    const leadsClassifier = createLocalClassifier(HEATING_LEADS);
    const a = await leadsClassifier.classify('JE SUIS PROPRIÉTAIRE', { language: 'fr', candidates });
    const b = await leadsClassifier.classify('je suis proprietaire', { language: 'fr', candidates });
    expect(a).toEqual(b);
    expect(a.intent).toBe('ok_proprio');
  });
  it('reads a negated statement as the opposite intent', async () => {
    const candidates = ['ok_proprio', 'not_proprio'];
    const c = createLocalClassifier(HEATING_LEADS);
    expect((await c.classify('je ne suis pas propriétaire', { language: 'fr', candidates })).intent).toBe('not_proprio');
    // Without a negated example to match, the negation still keeps the plain intent below the threshold.
    const only = createLocalClassifier([{ name: 'ok_proprio', examples: { fr: ['je suis propriétaire'] }, keywords: { fr: ['propriétaire'] } }]);
    expect((await only.classify('je suis pas propriétaire', { language: 'fr', candidates: ['ok_proprio'] })).intent).toBeNull();
    expect((await only.classify('je suis propriétaire', { language: 'fr', candidates: ['ok_proprio'] })).intent).toBe('ok_proprio');
  });
  it('lets a keyword alone point to its intent', async () => {
    const c = createLocalClassifier([
      { name: 'billing', examples: { en: ['I have a question about my invoice'] }, keywords: { en: ['refund'] } },
      { name: 'other', examples: { en: ['something else'] } },
    ]);
    const got = await c.classify('hmm refund', { language: 'en', candidates: ['billing', 'other'] });
    expect(got.intent).toBe('billing');
    expect(got.confidence).toBeGreaterThan(0.8);
  });
  it('lowers its confidence when two intents match alike', async () => {
    const c = createLocalClassifier([
      { name: 'a', examples: { en: ['open an account'] } },
      { name: 'b', examples: { en: ['open an account'] } },
      { name: 'c', examples: { en: ['close my account'] } },
    ]);
    const tie = await c.classify('open an account', { language: 'en', candidates: ['a', 'b'] });
    const clear = await c.classify('open an account', { language: 'en', candidates: ['a', 'c'] });
    expect(tie.confidence).toBeLessThan(clear.confidence);
    expect(tie.intent).toBe('a');
  });
  it('falls back to examples in other languages for an intent without any in the caller’s', async () => {
    const c = createLocalClassifier([{ name: 'internet', examples: { fr: ['internet ne marche pas'] } }]);
    expect((await c.classify('internet ne marche pas', { language: 'en', candidates: ['internet'] })).intent).toBe('internet');
  });
  it('is deterministic', async () => {
    const candidates = HEATING_LEADS.map((d) => d.name);
    const a = createLocalClassifier(HEATING_LEADS);
    const b = createLocalClassifier(HEATING_LEADS);
    for (const [text] of leads) expect(await a.classify(text, { language: 'fr', candidates })).toEqual(await b.classify(text, { language: 'fr', candidates }));
  });
  it('applies its threshold', async () => {
    const strict = createLocalClassifier(SUPPORT_DESK, { threshold: 0.99 });
    const got = await strict.classify('the router light is red', { language: 'en', candidates: SUPPORT_DESK.map((d) => d.name) });
    expect(got.intent).toBeNull();
    expect(got.confidence).toBeGreaterThan(0.7);
  });
  it('answers unknown for empty text and refuses a cancelled call', async () => {
    expect(await support.classify('  ', { language: 'en', candidates: ['YES'] })).toEqual({ intent: null, confidence: 0, source: 'local' });
    await expect(support.classify('yes', { language: 'en', candidates: ['YES'], signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'aborted' });
  });
  it('refuses duplicate intents and a threshold out of range', () => {
    for (const make of [
      () => createLocalClassifier([{ name: 'x', examples: {} }, { name: 'x', examples: {} }]),
      () => createLocalClassifier([], { threshold: 2 }),
    ]) {
      try {
        make();
        expect.unreachable();
      } catch (err) {
        expect(isPalabreError(err) && err.code).toBe('config_invalid');
      }
    }
  });
});
