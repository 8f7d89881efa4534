import { describe, expect, it } from 'vitest';
import type { ListenSpec } from '../dialog/types.js';
import { countSpokenDigits } from './digits.js';
import { TurnDetector, defaultListen, type TurnSignal } from './turn-taking.js';

function spec(over: Partial<ListenSpec> = {}): ListenSpec {
  return {
    ...defaultListen(),
    endpointing: { mode: 'silence', silenceMs: 500 },
    minSpeechMs: 200,
    maxUtteranceMs: 10_000,
    noInputMs: 3000,
    bargeIn: { allowed: true, minSpeechMs: 300, minWords: 1 },
    dtmf: true,
    ...over,
  };
}

/**
 * Feeds a synthetic timeline: [duration ms, speech probability] pieces, one
 * frame every 20 ms, frame times being frame ends. `at` hooks run before the
 * frame ending at that time (to switch the bot on and off, press keys).
 */
function run(d: TurnDetector, pieces: Array<[number, number]>, at: Record<number, (t: number) => TurnSignal[] | void> = {}, startMs = 0): TurnSignal[] {
  const out: TurnSignal[] = [];
  let t = startMs;
  for (const [ms, p] of pieces) {
    for (let k = 0; k < ms; k += 20) {
      t += 20;
      const hooked = at[t]?.(t);
      if (hooked) out.push(...hooked);
      out.push(...d.frame(t, p));
    }
  }
  return out;
}

const types = (signals: TurnSignal[]): string[] => signals.map((s) => s.type);

describe('endpointing by silence', () => {
  for (const silenceMs of [500, 1200]) {
    it(`ends the turn ${silenceMs} ms after the last speech frame`, () => {
      const d = new TurnDetector();
      d.listen(spec({ endpointing: { mode: 'silence', silenceMs } }), 0);
      const s = run(d, [
        [400, 0],
        [1000, 0.9],
        [2000, 0.05],
      ]);
      expect(types(s)).toEqual(['speech-start', 'end-of-turn']);
      expect(s[0]).toMatchObject({ startMs: 400, atMs: 600 });
      expect(s[1]).toMatchObject({ reason: 'silence', startMs: 400, endMs: 1400, atMs: 1400 + silenceMs, bargeIn: false });
    });
  }

  it('does not end the turn on pauses shorter than silenceMs, and keeps speech going on a probability just under the threshold', () => {
    const d = new TurnDetector();
    d.listen(spec({ endpointing: { mode: 'silence', silenceMs: 500 } }), 0);
    const s = run(d, [
      [500, 0.9],
      [300, 0.4], // under 0.5 but above the stay threshold 0.35: still speech
      [400, 0.1], // a pause shorter than silenceMs
      [500, 0.9],
      [600, 0],
    ]);
    expect(types(s)).toEqual(['speech-start', 'end-of-turn']);
    expect(s[1]).toMatchObject({ startMs: 0, endMs: 1700, atMs: 2200 });
  });
});

describe('minimum speech', () => {
  it('ignores speech shorter than minSpeechMs (a click, a breath)', () => {
    const d = new TurnDetector();
    d.listen(spec({ minSpeechMs: 250 }), 0);
    const s = run(d, [
      [200, 0],
      [160, 0.95],
      [1000, 0],
    ]);
    expect(s).toEqual([{ type: 'speech-ignored', reason: 'too-short', startMs: 200, endMs: 360, atMs: 480 }]);
  });

  it('counts speech with short gaps towards the minimum', () => {
    const d = new TurnDetector();
    d.listen(spec({ minSpeechMs: 250 }), 0);
    const s = run(d, [
      [100, 0.9],
      [60, 0],
      [200, 0.9],
      [600, 0],
    ]);
    expect(types(s)).toEqual(['speech-start', 'end-of-turn']);
    expect(s[0]).toMatchObject({ startMs: 0, atMs: 260 });
  });
});

describe('maximum utterance', () => {
  it('cuts a turn at maxUtteranceMs and hands it over as is', () => {
    const d = new TurnDetector();
    d.listen(spec({ maxUtteranceMs: 3000 }), 0);
    const s = run(d, [
      [100, 0],
      [5000, 0.9],
    ]);
    expect(s[0]).toMatchObject({ type: 'speech-start', startMs: 100 });
    expect(s[1]).toMatchObject({ type: 'end-of-turn', reason: 'max-length', startMs: 100, endMs: 3100, atMs: 3100 });
  });
});

describe('no-input', () => {
  it('fires noInputMs after the bot stopped speaking when nobody spoke, once', () => {
    const d = new TurnDetector();
    d.listen(spec({ noInputMs: 2000 }), 0);
    d.setBotSpeaking(true, 0);
    const s = run(d, [[5000, 0]], { 1000: (t) => d.setBotSpeaking(false, t) });
    expect(s).toEqual([{ type: 'no-input', atMs: 3000, sinceMs: 1000 }]);
  });

  it('waits while the session is busy and is cancelled by a turn', () => {
    const d = new TurnDetector();
    d.listen(spec({ noInputMs: 1000 }), 0);
    d.setBusy(true, 0);
    expect(d.nextDeadline()).toBeUndefined();
    d.setBusy(false, 500);
    expect(d.nextDeadline()).toBe(1500);
    const s = run(d, [
      [200, 0],
      [400, 0.9],
      [2000, 0],
    ]);
    expect(types(s)).toEqual(['speech-start', 'end-of-turn']);
  });

  it('is not held off by ignored noise', () => {
    const d = new TurnDetector();
    d.listen(spec({ noInputMs: 1000, minSpeechMs: 300 }), 0);
    const s = run(d, [
      [400, 0],
      [100, 0.9],
      [1000, 0],
    ]);
    expect(types(s)).toEqual(['speech-ignored', 'no-input']);
    expect(s[1]).toMatchObject({ atMs: 1000 });
  });

  it('fires from tick() when no frames come', () => {
    const d = new TurnDetector();
    d.listen(spec({ noInputMs: 1000 }), 200);
    expect(d.tick(1199)).toEqual([]);
    expect(d.tick(1200)).toEqual([{ type: 'no-input', atMs: 1200, sinceMs: 200 }]);
    expect(d.nextDeadline()).toBeUndefined();
  });
});

describe('barge-in', () => {
  it('reports a barge-in once the caller has spoken over the bot for bargeIn.minSpeechMs', () => {
    const d = new TurnDetector();
    d.listen(spec({ minSpeechMs: 150, bargeIn: { allowed: true, minSpeechMs: 400, minWords: 1 } }), 0);
    d.setBotSpeaking(true, 0);
    const s = run(d, [
      [1000, 0],
      [1500, 0.9],
      [800, 0],
    ]);
    expect(types(s)).toEqual(['speech-start', 'barge-in', 'end-of-turn']);
    expect(s[1]).toMatchObject({ startMs: 1000, atMs: 1400 });
    expect(s[2]).toMatchObject({ bargeIn: true });
  });

  it('ignores speech over the bot shorter than bargeIn.minSpeechMs (the bot keeps talking)', () => {
    const d = new TurnDetector();
    d.listen(spec({ minSpeechMs: 150, bargeIn: { allowed: true, minSpeechMs: 400, minWords: 1 } }), 0);
    d.setBotSpeaking(true, 0);
    const s = run(d, [
      [1000, 0],
      [300, 0.9],
      [800, 0],
    ]);
    expect(s).toEqual([{ type: 'speech-ignored', reason: 'bot-speaking', startMs: 1000, endMs: 1300, atMs: 1420 }]);
  });

  it('with barge-in off, speech over the bot never starts a turn, and a turn starts only once the bot is done', () => {
    const d = new TurnDetector();
    d.listen(spec({ bargeIn: { allowed: false, minSpeechMs: 300, minWords: 1 } }), 0);
    d.setBotSpeaking(true, 0);
    const s = run(
      d,
      [
        [500, 0],
        [2000, 0.9],
        [600, 0],
        [600, 0.9],
        [600, 0],
      ],
      { 1500: (t) => d.setBotSpeaking(false, t) },
    );
    // The caller talks from 500 to 2500 over a bot that stops at 1500: that speech is ignored,
    // its tail after 1500 too (no answer on its own); the next utterance, at 3100, is a turn.
    expect(types(s)).toEqual(['speech-ignored', 'speech-start', 'end-of-turn']);
    expect(s[0]).toMatchObject({ reason: 'bot-speaking', startMs: 500, endMs: 2500 });
    expect(s[1]).toMatchObject({ startMs: 3100 });
  });

  it('drops a turn under way when the bot starts speaking and barge-in is off', () => {
    const d = new TurnDetector();
    d.listen(spec({ bargeIn: { allowed: false, minSpeechMs: 300, minWords: 1 } }), 0);
    const s = run(
      d,
      [
        [200, 0],
        [1000, 0.9],
        [800, 0],
      ],
      { 800: (t) => d.setBotSpeaking(true, t) },
    );
    expect(types(s)).toEqual(['speech-start', 'speech-ignored', 'speech-ignored']);
    expect(s[1]).toMatchObject({ reason: 'bot-speaking', startMs: 200, endMs: 800 });
    expect(d.inTurn).toBe(false);
  });

  it('interrupts the bot when it starts talking over a turn already under way (barge-in allowed)', () => {
    const d = new TurnDetector();
    d.listen(spec(), 0);
    const s = run(
      d,
      [
        [200, 0],
        [1000, 0.9],
        [800, 0],
      ],
      { 800: (t) => d.setBotSpeaking(true, t) },
    );
    expect(types(s)).toEqual(['speech-start', 'barge-in', 'end-of-turn']);
    expect(s[1]).toMatchObject({ atMs: 800 });
  });
});

describe('digits mode', () => {
  const digits = (count: number, terminator?: string): ListenSpec => spec({ endpointing: { mode: 'digits', count, interDigitMs: 3000, terminator }, noInputMs: 5000 });

  it('ends the turn at once when the expected count of keypad digits is in', () => {
    const d = new TurnDetector();
    d.listen(digits(5), 0);
    const got = ['7', '5', '0', '0'].flatMap((k, i) => d.digit(k, 1000 + i * 300));
    expect(got).toEqual([]);
    expect(d.nextDeadline()).toBe(1900 + 3000);
    expect(d.digit('1', 2200)).toEqual([{ type: 'digits', atMs: 2200, digits: '75001', spoken: [], reason: 'count' }]);
  });

  it('ends on the terminator key', () => {
    const d = new TurnDetector();
    d.listen(digits(5, '#'), 0);
    d.digit('1', 100);
    d.digit('2', 200);
    expect(d.digit('#', 300)).toEqual([{ type: 'digits', atMs: 300, digits: '12', spoken: [], reason: 'terminator' }]);
  });

  it('ends interDigitMs after the last key with what was typed', () => {
    const d = new TurnDetector();
    d.listen(digits(5), 0);
    d.digit('4', 1000);
    d.digit('2', 1500);
    expect(d.tick(4499)).toEqual([]);
    expect(d.tick(4500)).toEqual([{ type: 'digits', atMs: 4500, digits: '42', spoken: [], reason: 'inter-digit' }]);
  });

  it('with silence endpointing, collects keys until silenceMs without another, so a typed number arrives whole', () => {
    const d = new TurnDetector();
    d.listen(spec({ endpointing: { mode: 'silence', silenceMs: 800 }, dtmf: true }), 0);
    expect([...d.digit('1', 100), ...d.digit('2', 300), ...d.digit('3', 500)]).toEqual([]);
    expect(d.tick(1299)).toEqual([]);
    expect(d.tick(1300)).toEqual([{ type: 'digits', atMs: 1300, digits: '123', spoken: [], reason: 'inter-digit' }]);
    // '#' after keys ends at once; '#' alone is a key like any other.
    d.digit('4', 2000);
    expect(d.digit('#', 2100)).toEqual([{ type: 'digits', atMs: 2100, digits: '4', spoken: [], reason: 'terminator' }]);
    expect(d.digit('#', 3000)).toEqual([]);
    expect(d.tick(3800)).toEqual([{ type: 'digits', atMs: 3800, digits: '#', spoken: [], reason: 'inter-digit' }]);
  });

  it('ignores keys when the state takes no keypad input', () => {
    const d = new TurnDetector();
    d.listen({ ...digits(5), dtmf: false }, 0);
    expect(d.digit('1', 100)).toEqual([]);
    expect(d.digitsPending).toBe(false);
  });

  it('completes a spoken-digits turn when the transcripts hold the count, else waits for more', () => {
    const d = new TurnDetector();
    d.listen(digits(5), 0);
    expect(d.spokenDigits('seven five', 2, 2000)).toEqual([]);
    expect(d.nextDeadline()).toBe(5000);
    expect(d.spokenDigits('zero zero one', 3, 3000)).toEqual([{ type: 'digits', atMs: 3000, digits: '', spoken: ['seven five', 'zero zero one'], reason: 'count' }]);
  });

  it('ends spoken chunks on a shorter pause than the keypad wait', () => {
    const d = new TurnDetector({ digitsSpeechSilenceMs: 700 });
    d.listen(digits(5), 0);
    const s = run(d, [
      [100, 0],
      [1000, 0.9],
      [800, 0],
    ]);
    expect(s[1]).toMatchObject({ type: 'end-of-turn', atMs: 1800 });
  });
});

describe('countSpokenDigits', () => {
  it.each([
    ['seven five zero zero one', 5],
    ['7 5 0 0 1', 5],
    ['75001', 5],
    ['my zip code is seventy five zero zero one', 5],
    ['soixante-quinze zéro zéro un', 5],
    ['quatre-vingt-dix-sept', 2],
    ['dix-sept', 2],
    ['twenty one', 2],
    ['one hundred five', 3],
    ['deux cent trente', 3],
    ['oh six one two', 4],
    ['i do not know', 0],
  ])('"%s" holds %i digits', (text, n) => {
    expect(countSpokenDigits(text)).toBe(n);
  });
});

describe('listen spec checks', () => {
  it('refuses a spec with a negative duration, naming the field', () => {
    const d = new TurnDetector();
    expect(() => d.listen(spec({ noInputMs: -1 }), 0)).toThrow(/noInputMs/);
    expect(() => d.listen(spec({ endpointing: { mode: 'digits', count: 0, interDigitMs: 1000 } }), 0)).toThrow(/count/);
  });
});
