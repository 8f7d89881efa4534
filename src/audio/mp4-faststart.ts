/**
 * Moves an MP4/M4A file's index (`moov`) in front of its media data (`mdat`), in memory.
 * Most encoders write moov last; ffmpeg reading from a pipe cannot seek back to
 * the data once it has found the index at the end, so such files fail past a
 * few tens of kilobytes. Rewriting the layout lets them stream through stdin
 * without a temporary file.
 */
interface Box {
  type: string;
  start: number;
  size: number;
  header: number;
}

function readBoxes(buf: Uint8Array, view: DataView, start: number, end: number): Box[] | null {
  const boxes: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    let header = 8;
    const type = String.fromCharCode(buf[at + 4], buf[at + 5], buf[at + 6], buf[at + 7]);
    if (size === 1) {
      if (at + 16 > end) return null;
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) return null;
    boxes.push({ type, start: at, size, header });
    at += size;
  }
  return boxes;
}

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl']);

/** Adds `delta` to every chunk offset in [from, to) found in stco/co64 boxes under `box`; false if one would overflow. */
function shiftChunkOffsets(buf: Uint8Array, view: DataView, box: Box, from: number, to: number, delta: number): boolean {
  const children = readBoxes(buf, view, box.start + box.header, box.start + box.size);
  if (!children) return false;
  for (const child of children) {
    if (CONTAINERS.has(child.type)) {
      if (!shiftChunkOffsets(buf, view, child, from, to, delta)) return false;
    } else if (child.type === 'stco' || child.type === 'co64') {
      const wide = child.type === 'co64';
      const body = child.start + child.header;
      const count = view.getUint32(body + 4);
      const width = wide ? 8 : 4;
      if (body + 8 + count * width > child.start + child.size) return false;
      for (let i = 0, p = body + 8; i < count; i++, p += width) {
        const offset = wide ? Number(view.getBigUint64(p)) : view.getUint32(p);
        if (offset < from || offset >= to) continue;
        const moved = offset + delta;
        if (wide) view.setBigUint64(p, BigInt(moved));
        else if (moved > 0xffffffff) return false;
        else view.setUint32(p, moved);
      }
    }
  }
  return true;
}

/** Returns the file with moov before the first mdat, or the input itself when nothing needs moving or it cannot be parsed. */
export function mp4FastStart(input: Uint8Array): Uint8Array {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const boxes = readBoxes(input, view, 0, input.length);
  if (!boxes) return input;
  const moovIndex = boxes.findIndex((b) => b.type === 'moov');
  const mdatIndex = boxes.findIndex((b) => b.type === 'mdat');
  if (moovIndex < 0 || mdatIndex < 0 || moovIndex < mdatIndex) return input;
  const moov = boxes[moovIndex];
  const insertAt = boxes[mdatIndex].start;

  const out = new Uint8Array(input.length);
  let pos = 0;
  const copy = (b: Box) => {
    out.set(input.subarray(b.start, b.start + b.size), pos);
    pos += b.size;
  };
  for (let i = 0; i < mdatIndex; i++) copy(boxes[i]);
  const moovAt = pos;
  copy(moov);
  for (let i = mdatIndex; i < boxes.length; i++) if (i !== moovIndex) copy(boxes[i]);

  const outView = new DataView(out.buffer);
  const moved: Box = { ...moov, start: moovAt };
  // Everything between the old mdat start and the old moov start slides down by moov's size.
  if (!shiftChunkOffsets(out, outView, moved, insertAt, moov.start, moov.size)) return input;
  return pos === out.length ? out : out.subarray(0, pos);
}
