import { describe, expect, it } from 'vitest';
import { PalabreError } from '../../errors.js';
import { hintWords, hintsGrammar, parseJsgf } from './jsgf.js';

const DIGITS = `#JSGF V1.0;
grammar digits;
// a caller's PIN
<digit> = zero | one | two | three | four | five | six | seven | eight | nine | oh;
public <pin> = <digit>+ [ thank you ];
`;

function rejection(source: string): string {
  try {
    parseJsgf(source);
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe('bad_request');
    return (err as Error).message;
  }
  throw new Error('grammar was accepted');
}

describe('parseJsgf accepts real grammars', () => {
  it('parses rules, words and public rules and rebuilds the text', () => {
    const g = parseJsgf(DIGITS);
    expect(g.name).toBe('digits');
    expect(g.publicRules).toEqual(['<pin>']);
    expect(g.words.sort()).toEqual(['eight', 'five', 'four', 'nine', 'oh', 'one', 'seven', 'six', 'thank', 'three', 'two', 'you', 'zero'].sort());
    expect(g.text).toContain('public <pin> = <digit> + [ thank you ];');
    expect(g.text.startsWith('#JSGF V1.0;\ngrammar digits;\n')).toBe(true);
  });
  it('lowercases words and keeps weights, tags, comments out', () => {
    const g = parseJsgf('#JSGF V1.0 UTF-8 en;\r\ngrammar yn;\r\n/* multi\nline */ public <a> = /0.8/ YES {y} | /0.2/ No {n};');
    expect(g.words.sort()).toEqual(['no', 'yes']);
    expect(g.text).toContain('public <a> = /0.8/ yes {y} | /0.2/ no {n};');
  });
  it('accepts quoted tokens and <NULL>', () => {
    const g = parseJsgf('#JSGF V1.0;\ngrammar q;\npublic <a> = "yes" | <NULL>;');
    expect(g.words).toEqual(['yes']);
  });
});

describe('parseJsgf names what is wrong', () => {
  const cases: [string, string, RegExp][] = [
    ['missing header', 'grammar g; public <a> = yes;', /must start with the header '#JSGF V1.0;'/],
    ['plain text', 'this is not jsgf', /must start with the header/],
    ['missing grammar line', '#JSGF V1.0;\npublic <a> = yes;', /followed by 'grammar NAME;'/],
    ['missing semicolon', '#JSGF V1.0;\ngrammar g;\npublic <a> = yes | no', /line 3.*does not end with ;/],
    ['unbalanced parenthesis', '#JSGF V1.0;\ngrammar g;\n\npublic <a> = ( yes | no ;', /line 4.*\( opened on line 4 is not closed by \)/],
    ['stray closing bracket', '#JSGF V1.0;\ngrammar g;\npublic <a> = yes ] no;', /line 3.*unexpected "\]" without a matching opening bracket/],
    ['empty alternative', '#JSGF V1.0;\ngrammar g;\npublic <a> = yes | | no;', /expected a word, a <rule> or a bracket before "\|"/],
    ['trailing bar', '#JSGF V1.0;\ngrammar g;\npublic <a> = yes |;', /an alternative is empty/],
    ['undefined rule', '#JSGF V1.0;\ngrammar g;\npublic <a> = <b> please;', /rule <b> is used but never defined/],
    ['duplicate rule', '#JSGF V1.0;\ngrammar g;\n<a> = yes;\npublic <a> = no;', /line 4.*defined twice \(first on line 3\)/],
    ['no public rule', '#JSGF V1.0;\ngrammar g;\n<a> = yes;', /no public rule/],
    ['unclosed rule name', '#JSGF V1.0;\ngrammar g;\npublic <a = yes;', /rule name opened with < is not closed/],
    ['unclosed comment', '#JSGF V1.0;\ngrammar g;\n/* oops\npublic <a> = yes;', /line 3.*comment opened with \/\* is never closed/],
    ['import', '#JSGF V1.0;\ngrammar g;\nimport <com.x.*>;\npublic <a> = yes;', /import statements are not supported/],
    ['bad weight', '#JSGF V1.0;\ngrammar g;\npublic <a> = /x/ yes;', /weight must be a number/],
    ['nothing after =', '#JSGF V1.0;\ngrammar g;\npublic <a> = ;', /has nothing after =/],
    ['not a rule', '#JSGF V1.0;\ngrammar g;\nyes no;', /expected a rule definition/],
  ];
  for (const [what, source, message] of cases) {
    it(`rejects ${what}`, () => {
      expect(rejection(source)).toMatch(message);
    });
  }
  it('refuses grammars larger than the limit', () => {
    const big = `#JSGF V1.0;\ngrammar g;\npublic <a> = ${Array.from({ length: 20_000 }, (_, i) => `w${i}`).join(' | ')};`;
    expect(rejection(big)).toMatch(/larger than 65536 bytes/);
  });
});

describe('hints', () => {
  it('turns hints into dictionary words', () => {
    expect(hintWords('Yes, please!')).toEqual(['yes', 'please']);
    expect(hintWords('1')).toEqual(['one']);
  });
  it('builds a one-of grammar that parses', () => {
    const text = hintsGrammar([['yes'], ['no'], ['yes'], [], ['speak', 'to', 'an', 'agent']]);
    const g = parseJsgf(text);
    expect(g.text).toContain('public <hint> = yes | no | speak to an agent;');
  });
  it('refuses an empty hint list', () => {
    expect(() => hintsGrammar([[]])).toThrow(/no usable hint phrase/);
  });
});
