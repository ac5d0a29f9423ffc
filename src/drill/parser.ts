/**
 * A recursive-descent parser for packetdrill scripts (grammar as the
 * packetdrill project documents it in its syntax notes):
 *
 *     script  := option* [shell-command] event*
 *     event   := time action
 *     time    := ['+'] number ['~' ['+'] number] | '*'
 *     action  := packet | [ '...' number ] syscall | `shell` | %{ code }%
 *     packet  := ('<' | '>') flags seq [ack N] [win N] [urg N] ['<' options '>']
 *     syscall := name '(' expr, ... ')' '=' expr [ERRNO ['(' note ')']]
 *
 * Packet shapes this runner cannot execute (UDP, ICMP, IPv6, GRE, MPLS, IP
 * header fields, Fast Open or MD5 options) still parse, as unsupported
 * actions, so a script using them is reported unsupported at that line
 * rather than rejected as malformed. Syntax errors throw ParseError.
 */
import type {
  Action,
  EventTime,
  Expr,
  PacketAction,
  Script,
  ScriptEvent,
  ScriptOption,
  SyscallAction,
  TcpOptionSpec,
} from './ast.js';
import { LexError, tokenize, type Token } from './lexer.js';

export class ParseError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'ParseError';
  }
}

/** Words after the direction that introduce a packet kind or header this runner does not model. */
const UNSUPPORTED_PACKET_WORDS: Readonly<Record<string, string>> = {
  udp: 'UDP packets',
  icmp: 'ICMP packets',
  ipv4: 'explicit IPv4 headers',
  ipv6: 'IPv6 packets',
  gre: 'GRE encapsulation',
  GREv0: 'GRE encapsulation',
  mpls: 'MPLS encapsulation',
  psp: 'PSP encapsulation',
  encap: 'encapsulation',
};

const UNSUPPORTED_OPTIONS: Readonly<Record<string, string>> = {
  FO: 'the TCP Fast Open option',
  FOEXP: 'the experimental TCP Fast Open option',
  md5: 'the TCP MD5 signature option',
  ECN: 'the AccECN option',
  exp: 'experimental options',
};

class Parser {
  private i = 0;

  constructor(private readonly toks: readonly Token[]) {}

  peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  isPunct(ch: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === ch;
  }

  isWord(w: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'word' && t.text === w;
  }

  expectPunct(ch: string, what: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== ch) throw new ParseError(`expected '${ch}' ${what}, found ${describe(t)}`, t.line);
    return t;
  }

  expectInt(what: string): number {
    const t = this.next();
    if (t.kind !== 'int' && t.kind !== 'hex') throw new ParseError(`expected an integer ${what}, found ${describe(t)}`, t.line);
    return t.value;
  }

  expectWord(w: string, what: string): void {
    const t = this.next();
    if (t.kind !== 'word' || t.text !== w) throw new ParseError(`expected '${w}' ${what}, found ${describe(t)}`, t.line);
  }

  /** Skips the rest of the source line of `line` (used after an unsupported packet shape). */
  skipLine(line: number): void {
    while (this.peek().kind !== 'eof' && this.peek().line === line) this.next();
  }

  // ---- script ---------------------------------------------------------------

  options(): ScriptOption[] {
    const out: ScriptOption[] = [];
    while (this.peek().kind === 'option') {
      const t = this.next();
      let value: string | undefined;
      if (this.isPunct('=')) {
        this.next();
        // The value is the rest of the line (addresses like fd::1 lex as several tokens).
        let v = '';
        while (this.peek().kind !== 'eof' && this.peek().line === t.line && this.peek().kind !== 'option') v += this.next().text;
        if (v === '') throw new ParseError(`option --${t.text} needs a value`, t.line);
        value = v;
      }
      out.push({ name: t.text, value, line: t.line });
    }
    return out;
  }

  time(): EventTime {
    const t = this.peek();
    if (this.isPunct('*')) {
      this.next();
      return { kind: 'any' };
    }
    let relative = false;
    if (this.isPunct('+')) {
      this.next();
      relative = true;
    }
    const a = this.number('event time');
    if (this.isPunct('~')) {
      this.next();
      if (this.isPunct('+')) {
        if (!relative) throw new ParseError('a range mixes absolute and relative times', t.line);
        this.next();
      } else if (relative) throw new ParseError('a relative range needs + on both ends', t.line);
      const b = this.number('range end');
      if (b < a) throw new ParseError('time range ends before it starts', t.line);
      return relative ? { kind: 'relative-range', t: a, end: b } : { kind: 'absolute-range', t: a, end: b };
    }
    return relative ? { kind: 'relative', t: a } : { kind: 'absolute', t: a };
  }

  number(what: string): number {
    const t = this.next();
    if (t.kind !== 'int' && t.kind !== 'float') throw new ParseError(`expected a number for the ${what}, found ${describe(t)}`, t.line);
    return t.value;
  }

  event(): ScriptEvent {
    const line = this.peek().line;
    const time = this.time();
    return { line, time, action: this.action() };
  }

  action(): Action {
    const t = this.peek();
    if (t.kind === 'shell') {
      this.next();
      return { type: 'command', command: t.text.trim() };
    }
    if (t.kind === 'code') {
      this.next();
      return { type: 'code', code: t.text };
    }
    if (this.isPunct('<') || this.isPunct('>')) return this.packet();
    if (t.kind === 'ellipsis' || t.kind === 'word') return this.syscall();
    throw new ParseError(`expected a packet, system call, command or code after the time, found ${describe(t)}`, t.line);
  }

  // ---- packets --------------------------------------------------------------

  packet(): Action {
    const dirTok = this.next();
    const direction = dirTok.text as '<' | '>';
    const t = this.peek();
    if (t.kind === 'word' && UNSUPPORTED_PACKET_WORDS[t.text] !== undefined) {
      this.skipLine(dirTok.line);
      return { type: 'unsupported-packet', direction, why: UNSUPPORTED_PACKET_WORDS[t.text]! };
    }
    if (this.isPunct('(') || this.isPunct('[')) {
      this.skipLine(dirTok.line);
      return { type: 'unsupported-packet', direction, why: 'IP header fields (tos, ecn, ttl, flow label)' };
    }
    // Explicit ports: `< 1234>8080 S 0:0(0)...`
    if ((t.kind === 'int') && this.isPunct('>', 1)) {
      this.skipLine(dirTok.line);
      return { type: 'unsupported-packet', direction, why: 'explicit port numbers' };
    }
    const flags = this.flags();
    const seq = this.expectInt('(sequence number)');
    this.expectPunct(':', 'in start:end(length)');
    const end = this.expectInt('(end sequence number)');
    this.expectPunct('(', 'in start:end(length)');
    const len = this.expectInt('(payload length)');
    this.expectPunct(')', 'in start:end(length)');
    if (((end - seq) >>> 0) !== len >>> 0) throw new ParseError(`inconsistent ${seq}:${end}(${len})`, dirTok.line);
    let ack: number | undefined;
    let win: number | undefined;
    let urg: number | undefined;
    if (this.isWord('ack')) {
      this.next();
      ack = this.expectInt('after ack');
    }
    if (this.isWord('win')) {
      this.next();
      win = this.expectInt('after win');
    }
    if (this.isWord('urg')) {
      this.next();
      urg = this.expectInt('after urg');
    }
    let options: PacketAction['options'] = [];
    if (this.isPunct('<') && this.peek().line === dirTok.line) {
      this.next();
      if (this.peek().kind === 'ellipsis') {
        this.next();
        options = 'any';
      } else {
        const r = this.tcpOptions();
        if (typeof r === 'string') {
          this.skipLine(dirTok.line);
          return { type: 'unsupported-packet', direction, why: r };
        }
        options = r;
      }
      this.expectPunct('>', 'closing the TCP options');
    }
    return { type: 'packet', direction, flags, seq, end, len, ack, win, urg, options };
  }

  flags(): string {
    const t = this.next();
    if (t.kind === 'punct' && t.text === '.') return '.';
    if (t.kind === 'punct' && t.text === '-') return '';
    if (t.kind !== 'word' || !/^[FSRPUEWA]+$/.test(t.text)) throw new ParseError(`expected TCP flags, found ${describe(t)}`, t.line);
    let f = t.text;
    if (this.isPunct('.') && this.peek().line === t.line) {
      this.next();
      f += '.';
    }
    return f;
  }

  /** The option list, or the reason it cannot be run. */
  tcpOptions(): TcpOptionSpec[] | string {
    const out: TcpOptionSpec[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind !== 'word') throw new ParseError(`expected a TCP option, found ${describe(t)}`, t.line);
      if (this.peek().kind === 'word' && /^[A-Z_][A-Z0-9_]*$/.test(this.peek().text) && t.text !== 'TS') {
        return `symbolic option value ${this.peek().text} (needs --define)`;
      }
      switch (t.text) {
        case 'nop':
          out.push({ kind: 'nop' });
          break;
        case 'eol':
          out.push({ kind: 'eol' });
          break;
        case 'mss':
          out.push({ kind: 'mss', mss: this.expectInt('after mss') });
          break;
        case 'wscale':
          out.push({ kind: 'wscale', shift: this.expectInt('after wscale') });
          break;
        case 'sackOK':
          out.push({ kind: 'sackOK' });
          break;
        case 'sack': {
          const blocks: [number, number][] = [];
          while (this.peek().kind === 'int') {
            const a = this.expectInt('(SACK block start)');
            this.expectPunct(':', 'in a SACK block');
            blocks.push([a, this.expectInt('(SACK block end)')]);
          }
          out.push({ kind: 'sack', blocks });
          break;
        }
        case 'TS': {
          this.expectWord('val', 'in the timestamp option');
          const val = this.expectInt('after TS val');
          this.expectWord('ecr', 'in the timestamp option');
          out.push({ kind: 'TS', val, ecr: this.expectInt('after ecr') });
          break;
        }
        default: {
          const why = UNSUPPORTED_OPTIONS[t.text];
          if (why !== undefined) return why;
          throw new ParseError(`unknown TCP option '${t.text}'`, t.line);
        }
      }
      if (!this.isPunct(',')) return out;
      this.next();
    }
  }

  // ---- system calls ------------------------------------------------------------

  syscall(): SyscallAction {
    let endTime: number | undefined;
    if (this.peek().kind === 'ellipsis') {
      this.next();
      endTime = this.number('end time of the blocking call');
    }
    const nameTok = this.next();
    if (nameTok.kind !== 'word') throw new ParseError(`expected a system call name, found ${describe(nameTok)}`, nameTok.line);
    this.expectPunct('(', `after ${nameTok.text}`);
    const args = this.exprList(')');
    this.expectPunct(')', `closing the arguments of ${nameTok.text}`);
    const eq = this.expectPunct('=', `before the result of ${nameTok.text}`);
    const result = this.expr();
    let errno: string | undefined;
    let note: string | undefined;
    const e = this.peek();
    if (e.kind === 'word' && e.line === eq.line && /^E[A-Z0-9]+$/.test(e.text)) {
      this.next();
      errno = e.text;
    }
    if (this.isPunct('(') && this.peek().line === eq.line) {
      // A note: free words up to the closing parenthesis.
      this.next();
      const words: string[] = [];
      let depth = 1;
      for (;;) {
        const w = this.next();
        if (w.kind === 'eof') throw new ParseError('unterminated note', nameTok.line);
        if (w.kind === 'punct' && w.text === '(') depth++;
        if (w.kind === 'punct' && w.text === ')' && --depth === 0) break;
        words.push(w.text);
      }
      note = words.join(' ');
    }
    return { type: 'syscall', name: nameTok.text, args, result, errno, note, endTime };
  }

  exprList(close: string): Expr[] {
    const out: Expr[] = [];
    if (this.isPunct(close)) return out;
    for (;;) {
      out.push(this.expr());
      if (!this.isPunct(',')) return out;
      this.next();
    }
  }

  expr(): Expr {
    let left = this.primary();
    if (this.isPunct('=')) {
      this.next();
      left = { kind: 'assign', name: exprText(left), value: this.expr() };
      return left;
    }
    while (this.isPunct('|')) {
      this.next();
      left = { kind: 'or', left, right: this.primary() };
    }
    return left;
  }

  primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'ellipsis':
        return { kind: 'ellipsis' };
      case 'int':
      case 'hex':
        return { kind: 'int', value: t.value };
      case 'string': {
        const ellipsis = this.peek().kind === 'ellipsis';
        if (ellipsis) this.next();
        return { kind: 'string', value: t.text, ellipsis };
      }
      case 'ipv4':
        return { kind: 'string', value: t.text, ellipsis: false };
      case 'word':
        if (this.isPunct('(')) {
          this.next();
          const args = this.exprList(')');
          this.expectPunct(')', `closing ${t.text}(...)`);
          return { kind: 'call', name: t.text, args };
        }
        return { kind: 'word', name: t.text };
      case 'punct':
        if (t.text === '[') {
          const items = this.exprList(']');
          this.expectPunct(']', 'closing the array');
          return { kind: 'array', items };
        }
        if (t.text === '{') {
          const items = this.exprList('}');
          this.expectPunct('}', 'closing the structure');
          return { kind: 'struct', items };
        }
        if (t.text === '-' && (this.peek().kind === 'int' || this.peek().kind === 'hex')) {
          return { kind: 'int', value: -this.next().value };
        }
        break;
      default:
        break;
    }
    throw new ParseError(`unexpected ${describe(t)} in an expression`, t.line);
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of script';
  if (t.kind === 'code') return 'a code block';
  if (t.kind === 'shell') return 'a shell command';
  return `'${t.text}'`;
}

/** An expression as the script wrote it (roughly), for messages and names. */
export function exprText(e: Expr): string {
  switch (e.kind) {
    case 'ellipsis':
      return '...';
    case 'int':
      return String(e.value);
    case 'word':
      return e.name;
    case 'string':
      return JSON.stringify(e.value) + (e.ellipsis ? '...' : '');
    case 'or':
      return `${exprText(e.left)}|${exprText(e.right)}`;
    case 'assign':
      return `${e.name}=${exprText(e.value)}`;
    case 'array':
      return `[${e.items.map(exprText).join(', ')}]`;
    case 'struct':
      return `{${e.items.map(exprText).join(', ')}}`;
    case 'call':
      return `${e.name}(${e.args.map(exprText).join(', ')})`;
  }
}

/** Parses a whole script. Throws ParseError (with the line) on a syntax error. */
export function parseScript(source: string): Script {
  let toks: Token[];
  try {
    toks = tokenize(source);
  } catch (e) {
    if (e instanceof LexError) throw new ParseError(e.message, e.line);
    throw e;
  }
  const p = new Parser(toks);
  const options = p.options();
  let init: Script['init'];
  if (p.peek().kind === 'shell') {
    const t = p.next();
    init = { command: t.text.trim(), line: t.line };
  }
  const events: ScriptEvent[] = [];
  let cleanup: Script['cleanup'];
  while (p.peek().kind !== 'eof') {
    if (p.peek().kind === 'shell' && p.peek(1).kind === 'eof') {
      const t = p.next();
      cleanup = { command: t.text.trim(), line: t.line };
      break;
    }
    if (p.peek().kind === 'option') throw new ParseError('options must come before the first event', p.peek().line);
    events.push(p.event());
  }
  const m = /\/\/\s*expected-failure:\s*(.*)$/m.exec(source);
  return {
    options,
    init,
    events,
    cleanup,
    lines: source.split('\n'),
    expectedFailure: m === null ? undefined : m[1]!.trim() || 'expected to fail',
  };
}
