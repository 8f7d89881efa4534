/**
 * Function words and hesitations weigh little when matching an utterance to
 * examples: "je suis en vacances" must not match "je suis propriétaire" on
 * "je suis". Negations are not in these lists: they change the meaning.
 */
import { FILLERS } from './normalize.js';

const FR = new Set([
  'je', 'tu', 'il', 'elle', 'on', 'nous', 'vous', 'ils', 'elles', 'le', 'la', 'les', 'un', 'une', 'des', 'de', 'du', 'au', 'aux', 'a', 'et', 'ou',
  'est', 'suis', 'es', 'sont', 'etes', 'ai', 'as', 'avez', 'ont', 'ce', 'ca', 'cela', 'que', 'qui', 'quoi', 'en', 'y', 'me', 'te', 'se', 'mon', 'ma',
  'mes', 'ton', 'ta', 'tes', 'son', 'sa', 'ses', 'notre', 'votre', 'vos', 'nos', 'leur', 'pour', 'par', 'sur', 'dans', 'avec', 'si', 'mais', 'tres',
  'c', 'j', 'l', 'd', 'qu', 'lui', 'moi', 'toi', 'cette', 'cet', 'ces', 'tout', 'fait', 'etre', 'avoir', 'va', 'vais',
]);
const EN = new Set([
  'i', 'you', 'he', 'she', 'it', 'we', 'they', 'me', 'him', 'her', 'us', 'them', 'a', 'an', 'the', 'is', 'am', 'are', 'was', 'were', 'be', 'been',
  'to', 'of', 'in', 'on', 'at', 'for', 'by', 'with', 'my', 'your', 'his', 'its', 'our', 'their', 'and', 'or', 'but', 'do', 'does', 'did', 'that',
  'this', 'these', 'those', 'have', 'has', 'had', 'will', 'would', 'can', 'could', 'there', 'here', 'what', 'some', 'any', 'just', 'really', 'very',
  'get', 'got', 'if', 'as', 'about', 'from', 'up', 'out', 'would',
]);

/** Multiplier of a word's weight: 0.15 for fillers, 0.3 for function words, 1 otherwise. */
export function weightFactor(word: string, language: string): number {
  if (FILLERS.has(word)) return 0.15;
  if (language === 'fr' ? FR.has(word) : language === 'en' ? EN.has(word) : FR.has(word) || EN.has(word)) return 0.3;
  return 1;
}
