/**
 * The demo page in a real browser: headless Debian chromium, driven by
 * playwright-core, with a flite WAV as its microphone. The page starts a
 * support-desk call in English; while the bot greets, the "caller" cuts in
 * with "no I do not". The page must show the greeting (as cut), the caller's
 * line as the server heard it, the barge-in, the new state and the next
 * prompt, must have played the bot's audio, and must have dropped what it
 * had buffered when the server said `clear`.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_RATE } from '../src/audio/frame.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { fliteWav, startServer, type TestServer } from './support/server.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT_DIR = join(import.meta.dirname, '..', 'test-output');

let server: TestServer;
let browser: Browser | undefined;
let workDir: string;

/** The fake microphone: 1.5 s of quiet, "no I do not" over the 3.5 s greeting, then quiet (chromium loops the file). */
function callerWav(dir: string): string {
  const no = decodeWav(fliteWav('no I do not'));
  expect(no.sampleRate).toBe(PIPELINE_RATE);
  const lead = 1.5 * PIPELINE_RATE;
  const tail = 12 * PIPELINE_RATE;
  const samples = new Int16Array(lead + no.samples.length + tail);
  samples.set(no.samples, lead);
  const file = join(dir, 'caller.wav');
  writeFileSync(file, encodeWav({ samples, sampleRate: PIPELINE_RATE }));
  return file;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser test needs Debian's chromium (apt-get install chromium); it does not skip`);
  }
  workDir = mkdtempSync(join(tmpdir(), 'palabre-browser-'));
  const wav = callerWav(workDir);
  server = await startServer({}, { kinds: ['vad', 'tts', 'stt'] });
  // launch() gives every run a fresh temporary profile.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('demo page in headless chromium', () => {
  it('talks with support-desk through the fake microphone and shows the call', async () => {
    const page = await (browser as Browser).newPage({ viewport: { width: 1200, height: 820 } });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    page.on('response', (r) => {
      if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`);
    });

    await page.goto(server.url + '/');
    await expect.poll(() => page.locator('#flow option[value="support-desk"]').count()).toBe(1);
    await page.selectOption('#flow', 'support-desk');
    await page.selectOption('#language', 'en');
    await page.click('#start');

    const transcript = page.locator('#transcript');
    const greeting = 'Welcome to technical support. Do you already have a ticket number?';
    // The greeting is cut: what was heard stays, the rest is struck through, and the line says so.
    const cutLine = page.locator('#transcript .line.bot.cut').first();
    await cutLine.waitFor({ timeout: 15_000 });
    expect(await cutLine.locator('.text').textContent()).toBe(`${greeting} cut`);
    const heard = (await cutLine.locator('.text').evaluate((el) => el.firstChild?.textContent ?? '')) as string;
    const dropped = (await cutLine.locator('del').textContent()) ?? '';
    expect(heard.length).toBeGreaterThan(0);
    expect(dropped.length).toBeGreaterThan(0);
    expect(greeting.startsWith(heard)).toBe(true);
    expect(greeting.endsWith(dropped)).toBe(true);

    await page.locator('#transcript .line.caller').first().waitFor({ timeout: 15_000 });
    const callerLine = await page.locator('#transcript .line.caller .text').first().textContent();
    expect(callerLine).toMatch(/^no\b/i);
    await expect.poll(() => page.locator('#state').textContent(), { timeout: 10_000 }).toBe('IDENTIFICATION');
    await transcript.getByText('May I have your name, please?').waitFor({ timeout: 15_000 });
    await expect(page.locator('#intent').textContent()).resolves.toMatch(/^NO · \d+ %/);
    await expect(page.locator('#connection').textContent()).resolves.toBe('In a call · support-desk (en)');
    await expect(page.locator('#transcript .state-change').allTextContents()).resolves.toEqual(['→ WELCOME', '→ IDENTIFICATION']);

    type Debug = { botFrames: number; botBytes: number; micFrames: number; clears: number; lastClearDroppedMs: number; bufferedAfterClearMs: number; events: Array<{ type: string; outcome?: string }> };
    const debug = await page.evaluate(() => (globalThis as unknown as { palabreDebug: Debug }).palabreDebug);
    // The greeting's first second and the next prompt reached the page as 20 ms frames of 16 kHz PCM16.
    expect(debug.botFrames).toBeGreaterThan(100);
    expect(debug.botBytes).toBe(debug.botFrames * 640);
    expect(debug.micFrames).toBeGreaterThan(150);
    // On the barge-in the server said `clear`, and the page dropped the audio it had scheduled.
    expect(debug.events.filter((e) => e.type === 'barge-in').map((e) => e.outcome)).toEqual(['detected', 'confirmed']);
    expect(debug.clears).toBeGreaterThanOrEqual(1);
    expect(debug.lastClearDroppedMs).toBeGreaterThan(0);
    expect(debug.bufferedAfterClearMs).toBe(0);
    expect(await page.locator('#barge-in').textContent()).toMatch(/\(1\)|1 so far/);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'browser-demo.png'), fullPage: true });

    await page.click('#hangup');
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { palabreDebug: { ended: string | null } }).palabreDebug.ended)).toBe('caller_hangup');
    await expect(page.locator('#connection').textContent()).resolves.toBe('Call ended (caller hangup)');
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});
