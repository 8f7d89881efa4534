import { describe, expect, it } from 'vitest';
import { PalabreError } from '../errors.js';
import { decodeSlinBe, decodeSlinLe, encodeSlinBe, encodeSlinLe } from './slin.js';
import { sox } from './test-support.js';

const SAMPLES = Int16Array.from([0, 1, -1, 256, -256, 32767, -32768, 0x1234, -0x1234]);

describe('slin', () => {
  it('decodes little- and big-endian bytes', () => {
    expect(decodeSlinLe(Uint8Array.from([0x34, 0x12, 0xff, 0xff, 0x00, 0x80]))).toEqual(Int16Array.from([0x1234, -1, -32768]));
    expect(decodeSlinBe(Uint8Array.from([0x12, 0x34, 0xff, 0xff, 0x80, 0x00]))).toEqual(Int16Array.from([0x1234, -1, -32768]));
  });

  it('encodes to the byte order sox writes for s16le and s16be', () => {
    const le = sox(['-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-L', '-c', '1', '-', '-t', 'raw', '-e', 'signed', '-b', '16', '-L', '-'], encodeSlinLe(SAMPLES));
    expect(decodeSlinLe(le)).toEqual(SAMPLES);
    const be = sox(['-t', 'raw', '-r', '8000', '-e', 'signed', '-b', '16', '-L', '-c', '1', '-', '-t', 'raw', '-e', 'signed', '-b', '16', '-B', '-'], encodeSlinLe(SAMPLES));
    expect(Buffer.from(encodeSlinBe(SAMPLES))).toEqual(be);
    expect(decodeSlinBe(be)).toEqual(SAMPLES);
  });

  it('reads an unaligned Buffer slice, as sockets deliver them, without aliasing it', () => {
    const bytes = Buffer.concat([Buffer.from([0xaa]), Buffer.from(encodeSlinBe(SAMPLES)), Buffer.from(encodeSlinLe(SAMPLES))]);
    const be = bytes.subarray(1, 1 + SAMPLES.length * 2);
    const le = bytes.subarray(1 + SAMPLES.length * 2);
    expect(be.byteOffset % 2).toBe(1);
    const decoded = decodeSlinLe(le);
    expect(decodeSlinBe(be)).toEqual(SAMPLES);
    expect(decoded).toEqual(SAMPLES);
    bytes.fill(0);
    expect(decoded).toEqual(SAMPLES);
  });

  it('refuses an odd number of bytes, naming the count', () => {
    expect(() => decodeSlinLe(new Uint8Array(321))).toThrow(PalabreError);
    expect(() => decodeSlinBe(new Uint8Array(3))).toThrow(/even number of bytes \(2 per sample\) but got 3/);
  });

  it('reuses caller buffers', () => {
    const out = new Int16Array(32);
    const got = decodeSlinLe(encodeSlinLe(SAMPLES), out);
    expect(got.buffer).toBe(out.buffer);
    expect(got).toEqual(SAMPLES);
    const bytes = new Uint8Array(64);
    expect(encodeSlinBe(SAMPLES, bytes).length).toBe(SAMPLES.length * 2);
    expect(() => encodeSlinLe(SAMPLES, new Uint8Array(4))).toThrow(PalabreError);
  });
});
