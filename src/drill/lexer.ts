/**
 * Tokens of the packetdrill script language.
 *
 * The language is a token stream, not a line format: whitespace and newlines
 * separate tokens, `//` and `/* *\/` are comments, `%{ ... }%` is an inline
 * code block and `` `...` `` a shell command. When two token shapes match at
 * one position the longer wins, and on a tie the number beats the word
 * (so `1460` is a number and `0x10` a hex number, `sackOK` a word).
 */

export type TokenKind =
  | 'option' // --name
  | 'int'
  | 'hex'
  | 'float'
  | 'word'
  | 'string' // "..."
  | 'shell' // `...`
  | 'code' // %{ ... }%
  | 'ellipsis' // ...
  | 'ipv4' // 192.0.2.1
  | 'punct' // any other single character
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Source text (for string/shell/code: the contents without the delimiters). */
  readonly text: string;
  /** Numeric value of int/hex/float tokens. */
  readonly value: number;
  /** 1-based line of the token's first character. */
  readonly line: number;
}

export class LexError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'LexError';
  }
}

const IPV4 = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/;
const HEX = /^0x[0-9a-fA-F]+/;
const FLOAT = /^-?[0-9]*\.[0-9]+/;
const INT = /^-?[0-9]+/;
const WORD = /^[A-Za-z0-9_]+/;
const OPTION = /^--[A-Za-z0-9_]+/;

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = src.length;
  const countLines = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (src.charCodeAt(k) === 10) line++;
  };
  const delimited = (open: string, close: string, kind: TokenKind, what: string): void => {
    const start = i;
    const end = src.indexOf(close, i + open.length);
    if (end < 0) throw new LexError(`unterminated ${what}`, line);
    out.push({ kind, text: src.slice(i + open.length, end), value: 0, line });
    i = end + close.length;
    countLines(start, i);
  };
  while (i < n) {
    const ch = src[i]!;
    if (ch === '\n') {
      line++;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    if (ch === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (ch === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new LexError('unterminated comment', line);
      countLines(i, end + 2);
      i = end + 2;
      continue;
    }
    if (ch === '%' && src[i + 1] === '{') {
      delimited('%{', '}%', 'code', 'code block');
      continue;
    }
    if (ch === '"') {
      // Backslash escapes as in C: the closing quote is the first unescaped one.
      let k = i + 1;
      let text = '';
      while (k < n && src[k] !== '"') {
        if (src[k] === '\\' && k + 1 < n) {
          const e = src[k + 1]!;
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          k += 2;
        } else text += src[k++];
      }
      if (k >= n) throw new LexError('unterminated string', line);
      out.push({ kind: 'string', text, value: 0, line });
      countLines(i, k + 1);
      i = k + 1;
      continue;
    }
    if (ch === '`') {
      delimited('`', '`', 'shell', 'shell command');
      continue;
    }
    if (ch === '.' && src[i + 1] === '.' && src[i + 2] === '.') {
      out.push({ kind: 'ellipsis', text: '...', value: 0, line });
      i += 3;
      continue;
    }
    const rest = src.slice(i, i + 64);
    const opt = OPTION.exec(rest);
    if (opt !== null) {
      out.push({ kind: 'option', text: opt[0].slice(2), value: 0, line });
      i += opt[0].length;
      continue;
    }
    // Longest match among the number and word shapes; ties go to the number.
    let best: { kind: TokenKind; text: string } | null = null;
    for (const [kind, re] of [
      ['ipv4', IPV4],
      ['hex', HEX],
      ['float', FLOAT],
      ['int', INT],
      ['word', WORD],
    ] as const) {
      const m = re.exec(rest);
      if (m !== null && (best === null || m[0].length > best.text.length)) best = { kind, text: m[0] };
    }
    if (best !== null) {
      const value = best.kind === 'hex' ? parseInt(best.text, 16) : best.kind === 'int' || best.kind === 'float' ? Number(best.text) : 0;
      out.push({ kind: best.kind, text: best.text, value, line });
      i += best.text.length;
      continue;
    }
    out.push({ kind: 'punct', text: ch, value: 0, line });
    i++;
  }
  out.push({ kind: 'eof', text: '', value: 0, line });
  return out;
}
