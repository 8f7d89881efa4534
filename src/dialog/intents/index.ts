/** Intent classifiers (local, embeddings, LLM) and the chain that tries them in order. */
export { createLocalClassifier, type LocalClassifierOptions } from './local.js';
export { createEmbeddingsClassifier, type EmbeddingsClassifier, type EmbeddingsClassifierOptions } from './embeddings.js';
export { createLlmClassifier, intentSchema, type LlmClassifierOptions } from './llm.js';
export { createIntentChain, type ChainOptions, type ChainStep } from './chain.js';
export { normalizeText, tokenize, foldWord, primaryLanguage, type Token, type TokenizeOptions } from './normalize.js';
