/**
 * Real speech for the STT tests, conformance suite and bench: English
 * sentences spoken by the Debian `flite` program and the Asterisk English
 * prompts with their published transcripts. Nothing here is mocked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { concatChunks, PIPELINE_RATE, type AudioChunk } from '../../audio/frame.js';
import { resample } from '../../audio/resample.js';
import { decodeWav } from '../../audio/wav.js';
import { normalizeWords } from './wer.js';

/** Sentences a phone bot hears, spoken by flite's slt voice in the tests. */
export const FLITE_SENTENCES = [
  'please enter your account number followed by the pound key',
  'i would like to speak to an agent please',
  'your call cannot be completed as dialed',
  'i want to cancel my subscription',
  'the quick brown fox jumps over the lazy dog',
  'my phone number is five five five one two three four',
] as const;

export const ASTERISK_EN_DIR = '/usr/share/asterisk/sounds/en';
export const ASTERISK_EN_TRANSCRIPTS = '/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz';

export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

let workDir: string | undefined;
function dir(): string {
  workDir ??= mkdtempSync(join(tmpdir(), 'palabre-stt-'));
  return workDir;
}

/** Removes the temporary WAVs; safe to call more than once. */
export function cleanupSpeech(): void {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
}

async function toPipeline(wav: Uint8Array): Promise<AudioChunk> {
  const decoded = decodeWav(wav);
  return resample({ samples: decoded.samples, sampleRate: decoded.sampleRate }, PIPELINE_RATE);
}

const spoken = new Map<string, Promise<AudioChunk>>();

/** `text` spoken by flite (16 kHz for slt), at the pipeline rate. */
export function fliteSpeech(text: string, voice = 'slt'): Promise<AudioChunk> {
  const key = `${voice}\u0000${text}`;
  let p = spoken.get(key);
  if (!p) {
    const file = join(dir(), `flite-${spoken.size}.wav`);
    const run = spawnSync('flite', ['-voice', voice, '-t', text, '-o', file], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`flite failed: ${run.stderr || run.error?.message}`);
    p = toPipeline(readFileSync(file));
    spoken.set(key, p);
  }
  return p;
}

/** Sentences joined by `gapMs` of digital silence. */
export async function withPauses(parts: AudioChunk[], gapMs: number): Promise<AudioChunk> {
  const gap: AudioChunk = { samples: new Int16Array(Math.round((PIPELINE_RATE * gapMs) / 1000)), sampleRate: PIPELINE_RATE };
  const chunks: AudioChunk[] = [gap];
  for (const p of parts) chunks.push(p, gap);
  return concatChunks(chunks, PIPELINE_RATE);
}

let transcripts: Map<string, string> | undefined;

/** name → transcript from the asterisk-core-sounds-en documentation. */
export function asteriskTranscripts(): Map<string, string> {
  if (!transcripts) {
    const text = gunzipSync(readFileSync(ASTERISK_EN_TRANSCRIPTS)).toString('utf8');
    transcripts = new Map();
    for (const line of text.split('\n')) {
      const m = /^([a-z0-9-]+): (.+)$/.exec(line.trim());
      if (m) transcripts.set(m[1], m[2]);
    }
  }
  return transcripts;
}

export function hasAsteriskPrompts(): boolean {
  return existsSync(ASTERISK_EN_TRANSCRIPTS) && existsSync(join(ASTERISK_EN_DIR, 'agent-pass.wav'));
}

/**
 * The first `count` prompts, in the transcript file's order, whose transcript
 * is plain speech (no "[tones]") of 5 to 14 words: a fixed rule, not a pick
 * of prompts the recogniser happens to do well on.
 */
export function asteriskPromptNames(count: number): string[] {
  const names: string[] = [];
  for (const [name, text] of asteriskTranscripts()) {
    const words = normalizeWords(text).length;
    if (/[[\]]/.test(text) || words < 5 || words > 14 || !existsSync(join(ASTERISK_EN_DIR, `${name}.wav`))) continue;
    names.push(name);
    if (names.length === count) break;
  }
  return names;
}

/** An 8 kHz Asterisk prompt upsampled to the pipeline rate, with its transcript. */
export async function asteriskPrompt(name: string): Promise<{ audio: AudioChunk; transcript: string }> {
  const transcript = asteriskTranscripts().get(name);
  if (!transcript) throw new Error(`no transcript for Asterisk prompt ${name}`);
  return { audio: await toPipeline(readFileSync(join(ASTERISK_EN_DIR, `${name}.wav`))), transcript };
}
