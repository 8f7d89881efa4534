import { readFileSync } from 'node:fs';

/** From package.json (one level above both src/ and dist/), so the version is written in one place. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
