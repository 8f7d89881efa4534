/** Writes docs/configuration.md from the config schema (`npm run docs:config`); a test keeps it current. */
import { writeFileSync } from 'node:fs';
import { configDocument } from '../src/config-docs.js';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configDocument());
