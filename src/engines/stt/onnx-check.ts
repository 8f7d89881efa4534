/**
 * A structural check of ONNX model files before a native runtime opens them:
 * sherpa-onnx aborts the whole process (an uncaught C++ exception) on a file
 * that is not a valid ONNX protobuf, so a truncated download or a wrong file
 * must be caught here, in JavaScript, with a message naming the file.
 *
 * The check walks the top level of the ModelProto message without loading it:
 * every field must be well formed and the fields must end exactly at the end
 * of the file, with `ir_version` (1) and `graph` (7) present.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PalabreError } from '../../errors.js';

const IR_VERSION = 1;
const GRAPH = 7;
/** Top-level ModelProto fields known in ONNX up to IR version 10. */
const KNOWN_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26]);

class Reader {
  private readonly buf = Buffer.alloc(16);
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  varint(at: number): { value: number; next: number } | undefined {
    const n = readSync(this.fd, this.buf, 0, Math.min(10, this.size - at), at);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < n; i++) {
      const b = this.buf[i];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return { value, next: at + i + 1 };
    }
    return undefined;
  }
}

function invalid(path: string, why: string): PalabreError {
  return new PalabreError('engine_unavailable', `model file ${path} is not a valid ONNX model (${why}); the download may be truncated or corrupt: remove the model and pull it again`, {
    details: { path },
  });
}

export function checkOnnxFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new PalabreError('engine_unavailable', `cannot open model file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) throw invalid(path, 'the file is empty');
    const r = new Reader(fd, size);
    const seen = new Set<number>();
    let at = 0;
    while (at < size) {
      const key = r.varint(at);
      if (!key) throw invalid(path, `unreadable field key at byte ${at}`);
      const field = Math.floor(key.value / 8);
      const wire = key.value % 8;
      if (!KNOWN_FIELDS.has(field)) throw invalid(path, `unexpected field ${field} at byte ${at}`);
      at = key.next;
      if (wire === 0) {
        const v = r.varint(at);
        if (!v) throw invalid(path, `unreadable number at byte ${at}`);
        at = v.next;
      } else if (wire === 2) {
        const len = r.varint(at);
        if (!len) throw invalid(path, `unreadable length at byte ${at}`);
        at = len.next + len.value;
        if (at > size) throw invalid(path, `field ${field} runs ${at - size} bytes past the end of the file`);
      } else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else throw invalid(path, `field ${field} has wire type ${wire}`);
      seen.add(field);
    }
    if (at !== size) throw invalid(path, 'the last field runs past the end of the file');
    if (!seen.has(IR_VERSION)) throw invalid(path, 'no ir_version');
    if (!seen.has(GRAPH)) throw invalid(path, 'no graph');
  } finally {
    closeSync(fd);
  }
}

/** tokens.txt as sherpa-onnx reads it: one "token id" pair a line. */
export function checkTokensText(path: string, text: string): void {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new PalabreError('engine_unavailable', `tokens file ${path} is empty; remove the model and pull it again`);
  const bad = lines.findIndex((l) => !/^\S*\s+-?\d+\s*$/.test(l) && !/^\s+-?\d+\s*$/.test(l));
  if (bad >= 0) {
    throw new PalabreError('engine_unavailable', `tokens file ${path} line ${bad + 1} is not "token id"; the file may be corrupt: remove the model and pull it again`);
  }
}
