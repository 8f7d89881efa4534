/**
 * JSGF grammars checked in JavaScript before they reach PocketSphinx: the C
 * parser reports failures only as a return code (and its lexer echoes stray
 * input to stdout), so every syntax fault is caught here and named with its
 * line. The grammar is then re-emitted from its tokens with words lowercased,
 * since the pronunciation dictionary is lowercase.
 */
import { PalabreError } from '../../errors.js';
import { normalizeWords } from './wer.js';

export interface JsgfGrammar {
  /** The grammar rebuilt from its tokens: one statement a line, words lowercased. */
  text: string;
  name: string;
  publicRules: string[];
  /** Every distinct word the grammar can produce, lowercased. */
  words: string[];
}

export const MAX_GRAMMAR_BYTES = 64 * 1024;

type TokenKind = 'word' | 'quoted' | 'ruleref' | 'tag' | 'weight' | 'punct';
interface Token {
  kind: TokenKind;
  value: string;
  line: number;
}

const SPECIAL_RULES = new Set(['<NULL>', '<VOID>']);

function fail(message: string, line?: number): never {
  throw new PalabreError('bad_request', `invalid JSGF grammar${line === undefined ? '' : ` (line ${line})`}: ${message}`);
}

function tokenize(body: string, firstLine: number): Token[] {
  const out: Token[] = [];
  let line = firstLine;
  let i = 0;
  const take = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(body);
    return m ? m[0] : undefined;
  };
  while (i < body.length) {
    const ch = body[i];
    if (ch === '\n') {
      line++;
      i++;
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = line;
    let text: string | undefined;
    let kind: TokenKind | undefined;
    if (body.startsWith('//', i)) {
      const end = body.indexOf('\n', i);
      i = end === -1 ? body.length : end;
      continue;
    }
    if (body.startsWith('/*', i)) {
      const end = body.indexOf('*/', i + 2);
      if (end === -1) fail('comment opened with /* is never closed', start);
      line += (body.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
      continue;
    }
    if (ch === '<') {
      text = take(/<[^<>\s;=|]+>/y);
      if (!text) fail('rule name opened with < is not closed by > (names cannot hold spaces)', start);
      kind = 'ruleref';
    } else if (ch === '"') {
      text = take(/"(?:\\.|[^"\\\n])*"/y);
      if (!text) fail('quoted token is never closed', start);
      kind = 'quoted';
    } else if (ch === '{') {
      text = take(/\{(?:\\.|[^}\\])*\}/y);
      if (!text) fail('tag opened with { is never closed', start);
      kind = 'tag';
    } else if (ch === '/') {
      text = take(/\/\d*(?:\.\d+)?\//y);
      if (!text || text === '//') fail('a weight must be a number between slashes, such as /0.5/', start);
      kind = 'weight';
    } else if ('=;|()[]*+'.includes(ch)) {
      text = ch;
      kind = 'punct';
    } else {
      text = take(/[^\s=;|*+<>()[\]{}/"]+/y);
      kind = 'word';
    }
    if (!text || !kind) fail(`unexpected character ${JSON.stringify(ch)}`, start);
    line += (text.match(/\n/g) ?? []).length;
    out.push({ kind, value: text, line: start });
    i += text.length;
  }
  return out;
}

/** Recursive descent over one rule's expansion, so that bracket and operator faults are caught with their line. */
class ExpansionChecker {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly words: Set<string>,
    private readonly refs: Token[],
  ) {}

  check(): void {
    this.alternatives();
    if (this.pos < this.tokens.length) {
      const t = this.tokens[this.pos];
      fail(`unexpected ${JSON.stringify(t.value)}${t.value === ')' || t.value === ']' ? ' without a matching opening bracket' : ''}`, t.line);
    }
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private alternatives(): void {
    this.sequence();
    while (this.peek()?.value === '|' && this.peek()?.kind === 'punct') {
      this.pos++;
      this.sequence();
    }
  }

  private sequence(): void {
    const first = this.peek();
    if (first?.kind === 'weight') this.pos++;
    let items = 0;
    while (this.item()) items++;
    if (items === 0) {
      const at = this.peek() ?? this.tokens[this.tokens.length - 1] ?? first;
      fail(at && this.pos < this.tokens.length ? `expected a word, a <rule> or a bracket before ${JSON.stringify(at.value)}` : 'an alternative is empty', at?.line);
    }
  }

  private item(): boolean {
    const t = this.peek();
    if (!t) return false;
    if (t.kind === 'word' || t.kind === 'quoted') {
      this.words.add(t.kind === 'quoted' ? t.value.slice(1, -1).toLowerCase() : t.value.toLowerCase());
      this.pos++;
    } else if (t.kind === 'ruleref') {
      this.refs.push(t);
      this.pos++;
    } else if (t.kind === 'punct' && (t.value === '(' || t.value === '[')) {
      const close = t.value === '(' ? ')' : ']';
      this.pos++;
      this.alternatives();
      const end = this.peek();
      if (end?.value !== close) fail(`${t.value} opened on line ${t.line} is not closed by ${close}`, end?.line ?? t.line);
      this.pos++;
    } else {
      return false;
    }
    while (this.peek()?.kind === 'punct' && (this.peek()?.value === '*' || this.peek()?.value === '+')) this.pos++;
    while (this.peek()?.kind === 'tag') this.pos++;
    return true;
  }
}

function emit(tokens: Token[]): string {
  return tokens.map((t) => (t.kind === 'word' || t.kind === 'quoted' ? t.value.toLowerCase() : t.value)).join(' ');
}

export function parseJsgf(source: string, options: { maxBytes?: number } = {}): JsgfGrammar {
  const maxBytes = options.maxBytes ?? MAX_GRAMMAR_BYTES;
  if (Buffer.byteLength(source, 'utf8') > maxBytes) fail(`it is larger than ${maxBytes} bytes`);
  const src = source.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const header = /^\s*#JSGF[ \t]+V1\.0\b[^;\n]*;/.exec(src);
  if (!header) fail("it must start with the header '#JSGF V1.0;'", 1);
  const headerLines = (header[0].match(/\n/g) ?? []).length;
  const tokens = tokenize(src.slice(header[0].length), 1 + headerLines);

  const statements: Token[][] = [];
  let current: Token[] = [];
  for (const t of tokens) {
    if (t.kind === 'punct' && t.value === ';') {
      if (current.length === 0) fail('empty statement (a stray ;)', t.line);
      statements.push(current);
      current = [];
    } else current.push(t);
  }
  if (current.length > 0) fail(`the statement starting with ${JSON.stringify(current[0].value)} does not end with ;`, current[current.length - 1].line);

  const first = statements.shift();
  if (!first || first[0].value !== 'grammar' || first.length !== 2 || first[1].kind !== 'word') {
    fail("the header must be followed by 'grammar NAME;'", first?.[0].line ?? 1 + headerLines);
  }
  const name = first[1].value;
  const lines = ['#JSGF V1.0;', `grammar ${name};`];
  const defined = new Map<string, number>();
  const publicRules: string[] = [];
  const words = new Set<string>();
  const refs: Token[] = [];

  for (const st of statements) {
    if (st[0].kind === 'word' && st[0].value === 'import') fail('import statements are not supported: put every rule in the one grammar', st[0].line);
    const isPublic = st[0].kind === 'word' && st[0].value === 'public';
    const head = isPublic ? st.slice(1) : st;
    if (head.length < 2 || head[0].kind !== 'ruleref' || head[1].value !== '=' || head[1].kind !== 'punct') {
      fail(`expected a rule definition such as 'public <answer> = yes | no;' but found ${JSON.stringify(emit(st).slice(0, 40))}`, st[0].line);
    }
    const rule = head[0].value;
    if (SPECIAL_RULES.has(rule)) fail(`${rule} is a reserved rule name`, head[0].line);
    if (defined.has(rule)) fail(`rule ${rule} is defined twice (first on line ${defined.get(rule)})`, head[0].line);
    defined.set(rule, head[0].line);
    const expansion = head.slice(2);
    if (expansion.length === 0) fail(`rule ${rule} has nothing after =`, head[1].line);
    new ExpansionChecker(expansion, words, refs).check();
    if (isPublic) publicRules.push(rule);
    lines.push(`${emit(st)};`);
  }
  if (publicRules.length === 0) fail("no public rule: mark the top rule 'public', e.g. 'public <answer> = yes | no;'");
  for (const ref of refs) {
    // Fully qualified names (<grammar.rule>) are resolved by the C parser against this grammar only.
    const local = ref.value.replace(new RegExp(`^<${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.`), '<');
    if (!SPECIAL_RULES.has(local) && !defined.has(local)) fail(`rule ${ref.value} is used but never defined`, ref.line);
  }
  return { text: lines.join('\n') + '\n', name, publicRules, words: [...words] };
}

/** A hint phrase as dictionary words: lowercased, punctuation dropped, lone digits spelled out. */
export function hintWords(hint: string): string[] {
  return normalizeWords(hint);
}

/** A grammar accepting exactly one of the phrases (each an array of dictionary words). */
export function hintsGrammar(phrases: readonly (readonly string[])[]): string {
  const unique = [...new Set(phrases.filter((p) => p.length > 0).map((p) => p.join(' ')))];
  if (unique.length === 0) throw new PalabreError('bad_request', 'no usable hint phrase');
  return `#JSGF V1.0;\ngrammar hints;\npublic <hint> = ${unique.join(' | ')};\n`;
}
