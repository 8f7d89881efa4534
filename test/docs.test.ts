import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configDocument } from '../src/config-docs.js';

describe('docs/configuration.md', () => {
  it('matches the config schema (regenerate with `npm run docs:config`)', () => {
    expect(readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8')).toBe(configDocument());
  });
});
