/**
 * End to end through the full audio pipeline: a synthesised English caller
 * (flite) talks to `support-desk` over an in-memory line; Silero hears the
 * turns, PocketSphinx transcribes them, the flow answers through espeak, and
 * the ticket is saved. Time is simulated (idle stretches skipped).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { loadFlowFile } from '../src/dialog/index.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { simulate } from '../src/simulate/run.js';
import { parseCallerScript } from '../src/simulate/script.js';

const ROOT = new URL('..', import.meta.url).pathname;
const config = loadConfig({ env: {}, overrides: { log: { level: 'silent' } } });
let engines: Engines;

beforeAll(async () => {
  engines = await loadEngines(config, silentLogger, { kinds: ['vad', 'stt', 'tts'] });
});
afterAll(async () => engines?.close());

async function run(scriptText: string) {
  const script = parseCallerScript(scriptText);
  const flow = await loadFlowFile(join(ROOT, 'flows', `${script.flow}.yaml`), { llmAvailable: false });
  return simulate({ flow, script, baseDir: ROOT, language: script.language ?? 'en', engines, config, logger: silentLogger });
}

describe('simulate support-desk in English', () => {
  it('a caller solves an internet problem; the ticket is saved with what was said and typed', async () => {
    const report = await run(readFileSync(join(ROOT, 'examples/callers/support-desk.en.yaml'), 'utf8'));
    expect(report.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(report.summary.records).toEqual([
      { kind: 'ticket', data: expect.objectContaining({ ticket_number: '123456', name: 'John Smith', problem: 'internet', solved: true, sentiment: 'positive', language: 'en' }) },
    ]);
    expect(report.summary.endReason).toBe('bot_hangup');
    // Every answered spoken turn has its timeline; the figures themselves are measured by `npm run bench -- call`.
    const spoken = report.latencies.filter((l) => l.endOfTurnMs !== undefined && l.firstAudioMs !== undefined);
    expect(spoken.length).toBeGreaterThanOrEqual(7);
    for (const l of spoken) expect(Number.isFinite(l.palabreMs) && l.sttMs !== undefined).toBe(true);
    // 500 ms endpointing on the yes/no question, 1200 ms on the open ones.
    expect(spoken[0].endOfTurnMs!).toBeLessThan(800);
    expect(spoken[1].endOfTurnMs!).toBeGreaterThanOrEqual(1100);
  });

  it('a caller who talks over the greeting cuts it, and the transcript keeps what was heard', async () => {
    const report = await run(`
flow: support-desk
language: en
turns:
  - when: bot_speaking
    after_ms: 1500
    say: "no i do not"
  - say: "i want to speak to an agent"
expect:
  states: [WELCOME, IDENTIFICATION, TRANSFER]
`);
    expect(report.expectations.filter((e) => !e.ok)).toEqual([]);
    expect(report.summary.bargeIns.total).toBeGreaterThanOrEqual(1);
    const cut = report.summary.transcript.find((l) => l.role === 'bot' && l.cut);
    expect(cut?.text).toMatch(/^Welcome to technical support/);
    expect(cut?.heard && cut.heard.length).toBeGreaterThan(0);
    expect(cut!.heard!.length).toBeLessThan(cut!.text.length);
    expect(report.summary.endReason).toBe('transfer');
  });
});
