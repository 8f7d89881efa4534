/**
 * Where a value sits in the YAML text: a path into the document becomes
 * `line:col`, so that every flow error points at the line to fix.
 */
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { IssuePath } from './validate.js';

export interface SourcePosition {
  line: number;
  col: number;
}

export interface YamlSource {
  doc: Document.Parsed;
  /** Syntax errors of the text itself, already positioned. */
  syntaxErrors: Array<{ position: SourcePosition; message: string }>;
  /**
   * Position of the value at `path`, or of its key when `key` is set; a path that
   * does not exist (a missing key) falls back to the nearest existing parent.
   */
  locate(path: IssuePath, options?: { key?: boolean }): SourcePosition;
}

function keyOf(node: unknown): unknown {
  return isScalar(node) ? node.value : node;
}

export function parseYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const at = (offset: number): SourcePosition => lineCounter.linePos(offset);
  const syntaxErrors = doc.errors.map((err) => ({
    position: err.linePos ? { line: err.linePos[0].line, col: err.linePos[0].col } : at(err.pos[0]),
    // prettyErrors appends " at line L, column C:" and a context excerpt; the position is printed separately.
    message: err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
  }));

  const locate = (path: IssuePath, options: { key?: boolean } = {}): SourcePosition => {
    let node: unknown = doc.contents;
    let best: number = (doc.contents as Node | null)?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const step = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && String(keyOf(p.key)) === String(step));
        if (!pair) break;
        const keyNode = pair.key as Node | null;
        const valueNode = pair.value as Node | null;
        if (keyNode?.range) best = keyNode.range[0];
        if (last && options.key) break;
        // `key:` with nothing after it has an empty value node: the key is the better place.
        if (valueNode?.range && !(isScalar(valueNode) && valueNode.value === null && valueNode.range[0] === valueNode.range[1])) best = valueNode.range[0];
        node = valueNode;
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step] as Node | undefined;
        if (!item) break;
        if (item.range) best = item.range[0];
        node = item;
      } else break;
    }
    return at(best);
  };

  return { doc, syntaxErrors, locate };
}

/** `states.DIAGNOSTIC.on[1].goto` */
export function formatPath(path: IssuePath): string {
  let out = '';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else out += out === '' ? step : `.${step}`;
  }
  return out;
}
