import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeWav } from '../../audio/wav.js';
import { PalabreError } from '../../errors.js';
import { Channel } from './channel.js';
import { Limiter } from './limiter.js';
import { splitSentences, checkText } from './text.js';
import { WavStreamReader } from './wav-stream.js';

describe('WavStreamReader', () => {
  it('reads espeak-ng --stdout as it arrives, whatever the split, to the same samples as the whole file', () => {
    const bytes = spawnSync('espeak-ng', ['--stdout', '-v', 'en-us', 'Streaming a header and samples.']).stdout;
    const whole = decodeWav(bytes);
    for (const step of [1, 7, 44, 45, 1000]) {
      const reader = new WavStreamReader('espeak-ng');
      const parts: number[] = [];
      for (let at = 0; at < bytes.length; at += step) parts.push(...reader.push(bytes.subarray(at, at + step)));
      expect(reader.sampleRate).toBe(22_050);
      expect(parts.length).toBe(whole.samples.length);
      expect(Int16Array.from(parts)).toEqual(whole.samples);
    }
  });

  it('fails clearly on output that is not a WAV stream', () => {
    const reader = new WavStreamReader('some-program');
    expect(() => reader.push(new Uint8Array(5000).fill(65))).toThrow(/some-program wrote 5000 bytes without a readable streaming WAV header/u);
  });
});

describe('Channel', () => {
  it('hands pushed items to a waiting reader and ends', async () => {
    const ch = new Channel<number>(() => undefined);
    const first = ch.next();
    ch.push(1);
    ch.push(2);
    ch.end();
    expect(await first).toEqual({ value: 1, done: false });
    expect(await ch.next()).toEqual({ value: 2, done: false });
    expect((await ch.next()).done).toBe(true);
  });

  it('fails a pending read at once on abort and tells the producer to stop', async () => {
    const ac = new AbortController();
    let cancelled = 0;
    const ch = new Channel<number>(() => cancelled++, ac.signal);
    const pending = ch.next();
    ac.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
    ch.push(3);
    expect(cancelled).toBe(1);
  });

  it('tells the producer to stop when the reader leaves early', async () => {
    let cancelled = 0;
    const ch = new Channel<number>(() => cancelled++);
    ch.push(1);
    ch.push(2);
    for await (const _v of ch) break;
    expect(cancelled).toBe(1);
  });
});

describe('Limiter', () => {
  it('runs up to its concurrency, queues up to its bound and refuses beyond', async () => {
    const lim = new Limiter(1, 1, 'test engine');
    const release = await lim.acquire();
    const queued = lim.acquire();
    await expect(lim.acquire()).rejects.toThrow(/test engine is busy: 1 running and 1 waiting/u);
    release();
    (await queued)();
    expect(lim.active).toBe(0);
  });

  it('lets an aborted waiter leave the line', async () => {
    const lim = new Limiter(1, 5, 'test engine');
    const release = await lim.acquire();
    const ac = new AbortController();
    const waiting = lim.acquire(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(PalabreError);
    expect(lim.queued).toBe(0);
    release();
    expect(lim.active).toBe(0);
  });
});

describe('text checks', () => {
  it('normalises whitespace, refuses empty or oversized text and splits sentences keeping punctuation', () => {
    expect(checkText(' a\n\tb  ', 'e')).toBe('a b');
    expect(() => checkText(' \n', 'espeak-ng')).toThrow(/espeak-ng: text to speak is empty/u);
    expect(() => checkText(42, 'e')).toThrow(/must be a string, got number/u);
    expect(() => checkText('abcdef', 'e', 5)).toThrow(/6 characters, more than the limit of 5/u);
    expect(splitSentences('Oui. Non ? Peut-être ! Fin')).toEqual(['Oui.', 'Non ?', 'Peut-être !', 'Fin']);
  });
});
