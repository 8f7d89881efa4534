import { describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { decodeAlaw, decodeAlawSample, decodeG711, decodeMulaw, decodeMulawSample, encodeAlaw, encodeAlawSample, encodeG711, encodeMulaw, encodeMulawSample, type G711Law } from './g711.js';
import { int16FromLe, sox } from './test-support.js';

const SOX_NAME: Record<G711Law, string> = { ulaw: 'u-law', alaw: 'a-law' };

function everySample(): Int16Array {
  const all = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) all[i] = i - 32768;
  return all;
}

describe('G.711', () => {
  it('matches the published table values', () => {
    expect(encodeMulawSample(0)).toBe(0xff);
    expect(encodeAlawSample(0)).toBe(0xd5);
    expect(decodeMulawSample(0xff)).toBe(0);
    expect(decodeMulawSample(0x7f)).toBe(0);
    expect(decodeMulawSample(0x00)).toBe(-32124);
    expect(decodeMulawSample(0x80)).toBe(32124);
    expect(decodeMulawSample(0xfe)).toBe(8);
    expect(decodeAlawSample(0xd5)).toBe(8);
    expect(decodeAlawSample(0x55)).toBe(-8);
    expect(decodeAlawSample(0xaa)).toBe(32256);
    expect(decodeAlawSample(0x2a)).toBe(-32256);
    expect(encodeMulawSample(32767)).toBe(0x80);
    expect(encodeMulawSample(-32768)).toBe(0x00);
    expect(encodeAlawSample(32767)).toBe(0xaa);
    expect(encodeAlawSample(-32768)).toBe(0x2a);
  });

  it.each(['ulaw', 'alaw'] as const)('decodes all 256 %s codes exactly as sox does', (law) => {
    const codes = new Uint8Array(256).map((_, i) => i);
    const ref = int16FromLe(sox(['-t', 'raw', '-r', '8000', '-e', SOX_NAME[law], '-b', '8', '-c', '1', '-', '-t', 'raw', '-e', 'signed', '-b', '16', '-'], codes));
    expect(decodeG711(law, codes)).toEqual(ref);
  });

  it.each(['ulaw', 'alaw'] as const)('encodes all 65,536 samples as sox does, up to rounding exactly on a decision level (%s)', (law) => {
    const all = everySample();
    const ref = sox(['-D', '-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-c', '1', '-', '-t', 'raw', '-e', SOX_NAME[law], '-b', '8', '-'], Buffer.from(all.buffer));
    const ours = encodeG711(law, all);
    const window = law === 'ulaw' ? 4 : 8;
    let differing = 0;
    for (let i = 0; i < all.length; i++) {
      if (ours[i] === ref[i]) continue;
      differing++;
      // sox truncates to 14 (µ-law) or 13 (A-law) bits first, as the Sun reference does; alawmulaw
      // rounds negative values the other way: they may only disagree within that truncation of a decision level.
      const near: number[] = [];
      for (let d = -window; d <= window; d++) near.push(encodeG711(law, Int16Array.of(Math.max(-32768, Math.min(32767, all[i] + d))))[0]);
      expect(near, `sample ${all[i]}`).toContain(ref[i]);
    }
    expect(differing).toBeLessThan(2048);
  });

  it.each(['ulaw', 'alaw'] as const)('round-trips every code: decode then encode gives the code back (%s)', (law) => {
    const codes = new Uint8Array(256).map((_, i) => i);
    const back = encodeG711(law, decodeG711(law, codes));
    for (let i = 0; i < 256; i++) {
      // µ-law has two zeros (0x7F and 0xFF); both come back as 0xFF.
      if (law === 'ulaw' && i === 0x7f) expect(back[i]).toBe(0xff);
      else expect(back[i]).toBe(i);
    }
  });

  it('keeps speech-level error within the G.711 quantisation step', () => {
    const x = new Int16Array(8000).map((_, i) => Math.round(12_000 * Math.sin((2 * Math.PI * 440 * i) / 8000)));
    for (const [enc, dec] of [[encodeMulaw, decodeMulaw], [encodeAlaw, decodeAlaw]] as const) {
      const y = dec(enc(x));
      for (let i = 0; i < x.length; i++) expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(Math.max(16, Math.abs(x[i]) / 16));
    }
  });

  it('writes into a caller buffer and refuses one that is too short', () => {
    const frame = new Int16Array(160).fill(1000);
    const out = new Uint8Array(200);
    const encoded = encodeMulaw(frame, out);
    expect(encoded.length).toBe(160);
    expect(encoded.buffer).toBe(out.buffer);
    const pcm = new Int16Array(160);
    expect(decodeAlaw(encodeAlaw(frame), pcm).buffer).toBe(pcm.buffer);
    expect(() => encodeMulaw(frame, new Uint8Array(10))).toThrow(PalabreError);
    expect(() => decodeMulaw(new Uint8Array(160), new Int16Array(10))).toThrow(/holds 10 samples but 160 are needed/);
  });
});
