import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PalabreError } from '../../errors.js';
import { createTts, type TtsEngineName } from './index.js';
import { collect, seconds } from './test-support.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('createTts', () => {
  it('loads espeak with its WASM back-end (the optional package is installed) and flite', async () => {
    const espeak = await createTts('espeak', { warmUp: false });
    const flite = await createTts('flite');
    try {
      expect(espeak.backend).toBe('wasm');
      expect(flite.backend).toBe('wasm');
      expect(seconds(await collect(espeak.synthesize('Bonjour.', { language: 'fr' })))).toBeGreaterThan(0.3);
      expect(seconds(await collect(flite.synthesize('Hello.')))).toBeGreaterThan(0.3);
    } finally {
      await Promise.all([espeak.close(), flite.close()]);
    }
  });

  it('refuses an unknown engine by name', async () => {
    const err = await createTts('festival' as TtsEngineName).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe('engine_unavailable');
    expect((err as PalabreError).message).toMatch(/unknown text-to-speech engine 'festival'; available: espeak, flite/u);
  });

  it('says why an engine is unavailable', async () => {
    const err = await createTts('espeak', { backend: 'cli', program: 'espeak-ng-not-installed' }).catch((e: unknown) => e);
    expect((err as PalabreError).code).toBe('engine_unavailable');
    expect((err as PalabreError).message).toMatch(/not on PATH/u);
  });

  it('keeps GPL espeak out of static imports: only index.ts reaches it, through import()', () => {
    const files = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('espeak'));
    for (const f of files) {
      const src = readFileSync(join(here, f), 'utf8');
      const staticImports = [...src.matchAll(/^import\s+(?!type\b)[^;]*from\s+'([^']+)'/gmu)].map((m) => m[1]);
      expect(staticImports.filter((s) => /espeak/u.test(s)), f).toEqual([]);
    }
    expect(readFileSync(join(here, 'index.ts'), 'utf8')).toMatch(/await import\('\.\/espeak\.js'\)/u);
  });
});
