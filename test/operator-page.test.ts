/**
 * The operator page in a real browser (headless Debian chromium driven by
 * playwright-core) against a real server with a seeded store: it asks for
 * the admin token, lists the calls, filters them, opens one, shows its
 * transcript and record, and plays its recording through the range route.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { buildApp } from '../src/server/app.js';
import { type TestDatabase, storeTargets } from '../src/store/test-support.js';
import type { Store } from '../src/store/types.js';
import { SEED, seedCalls } from './support/store.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT_DIR = join(import.meta.dirname, '..', 'test-output');
const ADMIN_TOKEN = 'operator-page-secret';

/** The bits of HTMLMediaElement the test reads (the project's TypeScript has no DOM library). */
interface MediaLike {
  readyState: number;
  duration: number;
  currentTime: number;
  error: { code: number; message: string } | null;
  play(): Promise<void>;
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}

let engines: Engines;
let database: TestDatabase;
let store: Store;
let recordingsDir: string;
let app: FastifyInstance;
let url: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the page test needs Debian's chromium (apt-get install chromium); it does not skip`);
  const config = loadConfig({ env: {}, overrides: { server: { port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN }, log: { level: 'silent' } } });
  engines = await loadEngines(config, silentLogger, { kinds: [] });
  database = await storeTargets()[0].create();
  store = await database.open();
  await store.migrate();
  recordingsDir = mkdtempSync(join(tmpdir(), 'palabre-recordings-'));
  await seedCalls(store, recordingsDir);
  app = await buildApp({ config, engines, logger: silentLogger, store, recordingsDir });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await store?.close();
  await database?.dispose();
  await engines?.close();
  if (recordingsDir) rmSync(recordingsDir, { recursive: true, force: true });
});

describe('operator page in headless chromium', () => {
  it('asks for the token, lists and filters calls, opens one and plays its recording', async () => {
    const page = await (browser as Browser).newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const recordingStatuses: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/recording')) recordingStatuses.push(r.status());
    });

    await page.goto(`${url}/operator.html`);
    // No token yet: the API refuses and the page says so.
    await expect.poll(() => page.textContent('#status'), { timeout: 15_000 }).toBe('Token needed');
    expect(await page.textContent('#error')).toMatch(/Authorization: Bearer <adminToken>/);

    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.waitForFunction(() => (globalThis as unknown as { palabreOperator: { loaded: boolean } }).palabreOperator.loaded, undefined, { timeout: 15_000 });
    expect(await page.isHidden('#error')).toBe(true);

    // The list: the first page of every call, newest first, and today's figures.
    const rows = page.locator('#calls tbody tr');
    expect(await rows.count()).toBe(Math.min(50, SEED.length));
    expect(await page.textContent('#count')).toBe(`${SEED.length} calls`);
    expect(await rows.first().getAttribute('data-id')).toBe('call-f6');
    expect(await page.textContent('#stats')).toMatch(/Calls\s*3/);

    // Filters: transcript words and outcome.
    await page.fill('#f-q', 'boiler');
    await page.click('#filters button[type=submit]');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-id')).toBe('call-a1');

    // One call: transcript, record, and the recording through the signed range route.
    await rows.first().click();
    await page.waitForFunction(() => (globalThis as unknown as { palabreOperator: { openedCall: string | null } }).palabreOperator.openedCall === 'call-a1');
    expect(await page.textContent('#transcript')).toContain('the boiler makes a terrible noise');
    expect(await page.textContent('#records')).toContain('no_heating');
    const src = await page.getAttribute('#audio', 'src');
    expect(src).toMatch(/\/api\/calls\/call-a1\/recording\?exp=\d+&sig=/);

    const played = await page.locator('#audio').evaluate(async (element) => {
      const audio = element as unknown as MediaLike;
      const canplay = new Promise<boolean>((resolve) => {
        if (audio.readyState >= 3) resolve(true);
        audio.addEventListener('canplay', () => resolve(true), { once: true });
        audio.addEventListener('error', () => resolve(false), { once: true });
      });
      const ok = await canplay;
      if (!ok) return { ok, duration: NaN, currentTime: 0, error: audio.error?.message ?? String(audio.error?.code) };
      await audio.play();
      const started = performance.now();
      while (audio.currentTime < 0.3 && performance.now() - started < 15_000) await new Promise((r) => setTimeout(r, 100));
      return { ok, duration: audio.duration, currentTime: audio.currentTime, error: null };
    });
    expect(played.error).toBeNull();
    expect(played.ok).toBe(true);
    expect(played.duration).toBeCloseTo(3, 1);
    expect(played.currentTime).toBeGreaterThan(0.3);
    // The browser fetched the media with Range requests.
    expect(recordingStatuses).toContain(206);
    expect(pageErrors).toEqual([]);
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'operator-page.png'), fullPage: true });
    await page.close();
  }, 90_000);
});
