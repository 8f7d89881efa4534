/**
 * G.711 µ-law and A-law on typed arrays. alawmulaw supplies the per-sample
 * companding; it is expanded once into lookup tables because telephony runs
 * it on every 20 ms frame of every call.
 */
import alawmulaw from 'alawmulaw';
import { PalabreError } from '../errors.js';

export type G711Law = 'ulaw' | 'alaw';

interface Tables {
  encode: Uint8Array;
  decode: Int16Array;
}

const tables: Partial<Record<G711Law, Tables>> = {};

function tablesFor(law: G711Law): Tables {
  const cached = tables[law];
  if (cached) return cached;
  const codec = law === 'ulaw' ? alawmulaw.mulaw : alawmulaw.alaw;
  // Indexed by the sample's 16-bit two's-complement pattern, so lookup is `table[s & 0xffff]`.
  const encode = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) encode[i] = codec.encodeSample((i << 16) >> 16) & 0xff;
  const decode = new Int16Array(256);
  for (let i = 0; i < 256; i++) decode[i] = codec.decodeSample(i);
  const t = { encode, decode };
  tables[law] = t;
  return t;
}

function outputOf<T extends Uint8Array | Int16Array>(out: T | undefined, length: number, make: (n: number) => T, what: string): T {
  if (out === undefined) return make(length);
  if (out.length < length) {
    throw new PalabreError('bad_request', `${what}: output buffer holds ${out.length} samples but ${length} are needed`);
  }
  return out;
}

/** Encodes PCM16 to G.711; writes into `out` when given (it must be at least as long as the input). */
export function encodeG711(law: G711Law, samples: Int16Array, out?: Uint8Array): Uint8Array {
  const table = tablesFor(law).encode;
  const dst = outputOf(out, samples.length, (n) => new Uint8Array(n), `${law} encode`);
  for (let i = 0; i < samples.length; i++) dst[i] = table[samples[i] & 0xffff];
  return out === undefined ? dst : dst.subarray(0, samples.length);
}

/** Decodes G.711 bytes to PCM16; writes into `out` when given. */
export function decodeG711(law: G711Law, bytes: Uint8Array, out?: Int16Array): Int16Array {
  const table = tablesFor(law).decode;
  const dst = outputOf(out, bytes.length, (n) => new Int16Array(n), `${law} decode`);
  for (let i = 0; i < bytes.length; i++) dst[i] = table[bytes[i]];
  return out === undefined ? dst : dst.subarray(0, bytes.length);
}

export const encodeMulaw = (samples: Int16Array, out?: Uint8Array): Uint8Array => encodeG711('ulaw', samples, out);
export const decodeMulaw = (bytes: Uint8Array, out?: Int16Array): Int16Array => decodeG711('ulaw', bytes, out);
export const encodeAlaw = (samples: Int16Array, out?: Uint8Array): Uint8Array => encodeG711('alaw', samples, out);
export const decodeAlaw = (bytes: Uint8Array, out?: Int16Array): Int16Array => decodeG711('alaw', bytes, out);

export function encodeMulawSample(sample: number): number {
  return tablesFor('ulaw').encode[sample & 0xffff];
}
export function decodeMulawSample(code: number): number {
  return tablesFor('ulaw').decode[code & 0xff];
}
export function encodeAlawSample(sample: number): number {
  return tablesFor('alaw').encode[sample & 0xffff];
}
export function decodeAlawSample(code: number): number {
  return tablesFor('alaw').decode[code & 0xff];
}

/** The byte a silent frame is made of: µ-law 0xFF, A-law 0xD5. */
export function g711SilenceByte(law: G711Law): number {
  return law === 'ulaw' ? 0xff : 0xd5;
}
