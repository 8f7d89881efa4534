/**
 * Signed linear 16-bit PCM bytes (slin) ⇄ Int16Array. Wire byte order varies:
 * AudioSocket and WAV are little-endian, RTP L16 is big-endian (network order).
 * Every decode copies, because socket Buffers are often unaligned slices of a
 * shared pool that must not be aliased.
 */
import { endianness } from 'node:os';
import { PalabreError } from '../errors.js';

const HOST_LE = endianness() === 'LE';

function checkEven(bytes: Uint8Array, what: string): void {
  if (bytes.length % 2 !== 0) {
    throw new PalabreError('bad_audio', `${what} needs an even number of bytes (2 per sample) but got ${bytes.length}`, {
      details: { bytes: bytes.length },
    });
  }
}

function checkOut<T extends Int16Array | Uint8Array>(out: T, need: number, what: string): void {
  if (out.length < need) throw new PalabreError('bad_request', `${what}: output buffer holds ${out.length} but ${need} are needed`);
}

function decode(bytes: Uint8Array, littleEndian: boolean, out: Int16Array | undefined, what: string): Int16Array {
  checkEven(bytes, what);
  const n = bytes.length >> 1;
  const dst = out ?? new Int16Array(n);
  if (out) checkOut(out, n, what);
  if (littleEndian === HOST_LE) {
    new Uint8Array(dst.buffer, dst.byteOffset, n * 2).set(bytes);
  } else {
    // Int16Array stores the 16-bit pattern, so the unsigned combination wraps to the signed value.
    const hi = littleEndian ? 1 : 0;
    const lo = 1 - hi;
    for (let i = 0, j = 0; i < n; i++, j += 2) dst[i] = (bytes[j + hi] << 8) | bytes[j + lo];
  }
  return out ? dst.subarray(0, n) : dst;
}

function encode(samples: Int16Array, littleEndian: boolean, out: Uint8Array | undefined, what: string): Uint8Array {
  const n = samples.length * 2;
  const dst = out ?? new Uint8Array(n);
  if (out) checkOut(out, n, what);
  if (littleEndian === HOST_LE) {
    dst.set(new Uint8Array(samples.buffer, samples.byteOffset, n));
  } else {
    for (let i = 0, j = 0; i < samples.length; i++, j += 2) {
      const s = samples[i];
      if (littleEndian) {
        dst[j] = s & 0xff;
        dst[j + 1] = (s >> 8) & 0xff;
      } else {
        dst[j] = (s >> 8) & 0xff;
        dst[j + 1] = s & 0xff;
      }
    }
  }
  return out ? dst.subarray(0, n) : dst;
}

/** Little-endian s16 bytes → samples (a copy; `out` reuses a buffer). Odd byte counts are refused. */
export function decodeSlinLe(bytes: Uint8Array, out?: Int16Array): Int16Array {
  return decode(bytes, true, out, 'slin (little-endian) decode');
}
/** Big-endian (network order) s16 bytes → samples. */
export function decodeSlinBe(bytes: Uint8Array, out?: Int16Array): Int16Array {
  return decode(bytes, false, out, 'slin (big-endian) decode');
}
export function encodeSlinLe(samples: Int16Array, out?: Uint8Array): Uint8Array {
  return encode(samples, true, out, 'slin (little-endian) encode');
}
export function encodeSlinBe(samples: Int16Array, out?: Uint8Array): Uint8Array {
  return encode(samples, false, out, 'slin (big-endian) encode');
}

export type Endianness = 'le' | 'be';

export function decodeSlin(bytes: Uint8Array, endianness: Endianness, out?: Int16Array): Int16Array {
  return endianness === 'le' ? decodeSlinLe(bytes, out) : decodeSlinBe(bytes, out);
}
export function encodeSlin(samples: Int16Array, endianness: Endianness, out?: Uint8Array): Uint8Array {
  return endianness === 'le' ? encodeSlinLe(samples, out) : encodeSlinBe(samples, out);
}
