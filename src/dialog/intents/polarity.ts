/**
 * Whether what the caller says is negated ("je ne suis pas propriétaire",
 * "my internet is not working"), as opposed to an answer particle in front of a
 * statement ("non, je suis locataire", "no, my internet is down") or an idiom
 * whose negation means yes ("pas de problème", "no worries").
 */
import { compilePhrases, matchPhrases } from './phrases.js';

const NEGATORS = new Set(['ne', 'pas', 'jamais', 'aucun', 'aucune', 'rien', 'ni', 'not', 'never', 'no', 'non', 'none', 'nothing', 'neither', 'nor', 'nope', 'nah', 'sans', 'without']);

/** Particles that answer a question rather than negate what follows. */
const PARTICLES = new Set(['non', 'no', 'nope', 'nah']);

/** What may follow an answer particle: a new clause starts ("non, je…", "no, my…"). */
const CLAUSE_START = new Set([
  'je', 'tu', 'il', 'elle', 'on', 'nous', 'vous', 'ils', 'elles', 'ce', 'ca', 'cela', 'mon', 'ma', 'mes', 'le', 'la', 'les', 'merci', 'mais', 'pas',
  'non', 'c', 'euh', 'en', 'i', 'you', 'he', 'she', 'it', 'we', 'they', 'my', 'your', 'that', 'this', 'the', 'thanks', 'thank', 'but', 'well',
  'actually', 'no', 'sorry', 'desole', 'alors', 'ben', 'bah', 'sir', 'monsieur', 'madame',
]);

const IDIOMS = compilePhrases(
  [
    'pas de problème', 'pas de probleme', 'pas de souci', 'pas de soucis', 'sans problème', 'sans souci', 'sans doute', 'pourquoi pas', 'pas mal',
    "n'importe", 'ne dis pas non', 'dis pas non', 'no problem', 'not a problem', 'no worries', 'why not', 'not bad', "can't complain", 'no doubt',
    'without a doubt', 'not only', 'non seulement', 'ne manquez pas',
  ].map((p) => [p, true] as const),
  'und',
);

/** True when the statement itself is negated. */
export function isNegated(tokens: readonly string[]): boolean {
  const skip = new Uint8Array(tokens.length);
  for (const m of matchPhrases(tokens, IDIOMS)) skip.fill(1, m.start, m.end);
  let i = 0;
  // Leading particles ("non non, je…") answer the question.
  while (i < tokens.length && PARTICLES.has(tokens[i]) && (i + 1 === tokens.length || CLAUSE_START.has(tokens[i + 1]))) i++;
  for (; i < tokens.length; i++) if (skip[i] === 0 && NEGATORS.has(tokens[i])) return true;
  return false;
}
