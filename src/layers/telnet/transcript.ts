/**
 * Passive Telnet: turns a followed TCP flow into a readable transcript.
 *
 * It binds the TCP observer's flow slots for the Telnet ports (23 and any the
 * user names), decodes both directions with the NVT decoder, and writes three
 * kinds of lines, in the order the session produced them:
 *  - the screen "as the user saw it": the server's output run through a small
 *    line-terminal model (carriage return, backspace, tabs; escape sequences
 *    skipped), plus what the client echoed locally while the server was not
 *    echoing (line mode). Keystrokes sent one per segment and their echo thus
 *    collapse into the line the user saw: "login: fake";
 *  - the option negotiation and subnegotiations, one line each
 *    ("client WILL TERMINAL-TYPE", "server WILL ECHO", "client SB NAWS 80x32");
 *  - the lines the client typed, with editing applied (backspace, ^U).
 *
 * Password entry. The capture holds what the user typed while the server had
 * echo on but did not echo it (the classic password prompt). The decision made
 * here: the screen view shows "(not echoed)" in its place, as the user saw
 * nothing there; the typed lines keep the actual text, marked not echoed,
 * because hiding bytes the capture holds would make the replay lie about the
 * capture (tshark shows them too). A renderer that must not print secrets can
 * drop typed entries with `echoed: false`.
 *
 * A typed line counts as echoed when its characters show up, in order, in the
 * server's output between the line's first keystroke and the server's next
 * newline after the line was sent; with echo off on the server side, the
 * client's local echo shows it.
 *
 * Lines that are not screen output (negotiation, typed lines, gaps) are held
 * while the screen has a partial line and written after it completes, so a
 * negotiation in the middle of "login: fake" does not cut that line in two.
 * Memory is bounded however long a session runs: a transcript is handed up in
 * chunks of at most `chunkEntries` lines (the last one when the flow ends),
 * lines held over all sessions are bounded by `maxHeldEntries` (the biggest
 * session hands up what it has early), and screen lines wrap at
 * `maxLineLength`. Nothing is dropped.
 */
import { Module, SlotTable, type Binding, type Runtime } from '../../core/index.js';
import {
  ABORT, AO, AYT, BRK, DM, DONT, EC, EL, EOF, EOR, GA, IP, NOP, SUSP, WILL, WONT,
  commandName, negotiationName, optionName, parseNaws, parseTerminalType, TelnetDecoder, TelnetOption,
  type NegotiationCommand, type TelnetDecodeError,
} from '../../wire/telnet.js';
import type { FollowDirection, FollowGap } from '../tcp/follow.js';
import type { ObservedFlow, TcpObserver, TcpObserverSlots } from '../tcp/observer.js';
import { LineEditor } from './nvt-line.js';

export type TelnetSide = 'client' | 'server';

export type TranscriptEntry =
  /** One line of what the user saw. */
  | { readonly kind: 'screen'; readonly text: string }
  /** Option negotiation or subnegotiation: "DO TERMINAL-TYPE", "SB NAWS 80x32". */
  | { readonly kind: 'option'; readonly from: TelnetSide; readonly text: string }
  /** A stand-alone Telnet command: "IP (interrupt process)". */
  | { readonly kind: 'command'; readonly from: TelnetSide; readonly text: string }
  /** A line the client typed; `echoed: false` when the user did not see it (password entry). */
  | { readonly kind: 'typed'; readonly text: string; readonly echoed: boolean }
  /** Bytes of one side the capture lacks. */
  | { readonly kind: 'gap'; readonly from: TelnetSide; readonly text: string };

export interface TelnetTranscript {
  /** The TCP flow's stream number (and part, after an early finish). */
  readonly stream: number;
  readonly part: number;
  readonly client: string;
  readonly server: string;
  /** This chunk's lines. */
  readonly entries: readonly TranscriptEntry[];
  /** Position of this chunk in the session's transcript (0 for the first). */
  readonly chunk: number;
  /** Whether this is the last chunk (the flow ended). */
  readonly final: boolean;
  readonly terminalType: string | undefined;
  readonly windowSize: { readonly width: number; readonly height: number } | undefined;
  /** Lines typed so far (this chunk and the ones before). */
  readonly typedLines: number;
  readonly notEchoed: number;
  /** Telnet protocol errors the decoders dropped (unterminated subnegotiations...). */
  readonly decodeErrors: number;
}

export interface TelnetTranscriptSlots {
  /** A flow on a Telnet port ended; its transcript. */
  onTranscript(t: TelnetTranscript): void;
}

export interface TelnetTranscriberOptions {
  /** Ports to decode as Telnet (23 is always included). */
  ports?: Iterable<number>;
  /** Lines per transcript chunk (default 2000). */
  chunkEntries?: number;
  /** Lines held over all sessions before the biggest hands up a chunk early (default 100000). */
  maxHeldEntries?: number;
  /** Screen line length before it wraps (default 1024 characters). */
  maxLineLength?: number;
}

const NOT_ECHOED = '(not echoed)';

const COMMAND_TEXT: ReadonlyMap<number, string> = new Map([
  [IP, 'IP (interrupt process)'],
  [AO, 'AO (abort output)'],
  [AYT, 'AYT (are you there)'],
  [EC, 'EC (erase character)'],
  [EL, 'EL (erase line)'],
  [BRK, 'BRK (break)'],
  [DM, 'DM (data mark)'],
  [ABORT, 'ABORT'],
  [SUSP, 'SUSP (suspend)'],
  [EOF, 'EOF (end of file)'],
]);

// ---------------------------------------------------------------------------
// The screen: one line of a terminal, enough to replay echoes and edits.

const ESC_NONE = 0;
const ESC_START = 1;
const ESC_CSI = 2;
const ESC_OSC = 3;
const ESC_OSC_ESC = 4;

class ScreenLine {
  /** The line so far; the cursor may sit inside it (after a carriage return or backspace). */
  private line = '';
  private cursor = 0;
  private esc = ESC_NONE;

  constructor(
    private readonly maxLength: number,
    private readonly emit: (line: string) => void,
  ) {}

  /** Whether anything is on the line not yet emitted. */
  get partial(): boolean {
    return this.line.length > 0;
  }

  /** The character before the cursor, or ''. */
  get lastChar(): string {
    return this.cursor > 0 ? (this.line[this.cursor - 1] ?? ' ') : '';
  }

  /** Terminal output, already decoded to text: runs of printable characters at once, controls one by one. */
  write(text: string): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.esc !== ESC_NONE) {
        this.escape(text.charCodeAt(i++));
        continue;
      }
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c < 0x20 || c === 0x7f) break;
        j++;
      }
      if (j > i) {
        this.printable(i === 0 && j === n ? text : text.slice(i, j));
        i = j;
      } else {
        this.control(text.charCodeAt(i++));
      }
    }
  }

  put(ch: string): void {
    this.write(ch);
  }

  private printable(run: string): void {
    while (run.length > 0) {
      const take = Math.min(run.length, this.maxLength - this.cursor);
      const part = take === run.length ? run : run.slice(0, take);
      const line = this.line;
      const at = this.cursor;
      if (at === line.length) this.line = line + part;
      else if (at > line.length) this.line = line.padEnd(at) + part;
      else this.line = line.slice(0, at) + part + line.slice(at + part.length);
      this.cursor = at + part.length;
      run = take === run.length ? '' : run.slice(take);
      if (this.cursor >= this.maxLength) this.newline();
    }
  }

  private control(c: number): void {
    switch (c) {
      case 0x0a:
        this.newline();
        return;
      case 0x0d:
        this.cursor = 0;
        return;
      case 0x08:
        if (this.cursor > 0) this.cursor--;
        return;
      case 0x09:
        this.printable(' '.repeat(8 - (this.cursor % 8)));
        return;
      case 0x1b:
        this.esc = ESC_START;
        return;
      default:
        return; // NUL, BEL and other controls draw nothing
    }
  }

  newline(): void {
    const line = this.line.trimEnd();
    this.line = '';
    this.cursor = 0;
    this.emit(line);
  }

  /** Ends the line if anything is on it. */
  flush(): void {
    if (this.line.length > 0) this.newline();
  }

  private escape(c: number): void {
    switch (this.esc) {
      case ESC_START:
        this.esc = c === 0x5b ? ESC_CSI : c === 0x5d ? ESC_OSC : ESC_NONE;
        return;
      case ESC_CSI:
        // Parameters and intermediates until a final byte; a control character aborts the sequence.
        if (c >= 0x40 && c <= 0x7e) this.esc = ESC_NONE;
        else if (c < 0x20) {
          this.esc = ESC_NONE;
          this.control(c);
        }
        return;
      case ESC_OSC:
        if (c === 0x07) this.esc = ESC_NONE;
        else if (c === 0x1b) this.esc = ESC_OSC_ESC;
        return;
      case ESC_OSC_ESC:
        this.esc = c === 0x5c ? ESC_NONE : ESC_OSC;
        return;
    }
  }
}

/** Whether `needle`'s characters appear in `hay` in order. */
function isSubsequence(needle: string, hay: string): boolean {
  let j = 0;
  for (let i = 0; i < hay.length && j < needle.length; i++) if (hay[i] === needle[j]) j++;
  return j === needle.length;
}

interface PendingEcho {
  readonly text: string;
  probe: string;
}

// ---------------------------------------------------------------------------
// Subnegotiation values

const latin1 = (b: Uint8Array, from = 0, to = b.length): string => {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = b[i]!;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
};

const hex = (b: Uint8Array, from = 0): string =>
  Array.from(b.subarray(from), (x) => x.toString(16).padStart(2, '0')).join(' ');

function isOrSend(code: number | undefined): string {
  return code === 0 ? 'IS' : code === 1 ? 'SEND' : code === 2 ? 'INFO' : code === undefined ? '' : `code ${code}`;
}

/** NEW-ENVIRON / ENVIRON: "IS VAR DISPLAY=host:0.0 USERVAR X=y". */
function describeEnviron(p: Uint8Array): string {
  const out: string[] = [isOrSend(p[0])];
  let cur = '';
  const flush = (): void => {
    if (cur !== '') out.push(cur);
    cur = '';
  };
  for (let i = 1; i < p.length; i++) {
    const b = p[i]!;
    if (b === 0 || b === 3) {
      flush();
      cur = b === 0 ? 'VAR ' : 'USERVAR ';
    } else if (b === 1) {
      cur += '=';
    } else if (b === 2 && i + 1 < p.length) {
      cur += latin1(p, i + 1, i + 2);
      i++;
    } else {
      cur += latin1(p, i, i + 1);
    }
  }
  flush();
  return out.join(' ');
}

const LINEMODE_MODE_BITS: ReadonlyArray<[number, string]> = [[1, 'EDIT'], [2, 'TRAPSIG'], [4, 'ACK'], [8, 'SOFT_TAB'], [16, 'LIT_ECHO']];

function describeLinemode(p: Uint8Array): string {
  const code = p[0];
  if (code === 1 && p.length >= 2) {
    const m = p[1]!;
    const names = LINEMODE_MODE_BITS.filter(([bit]) => m & bit).map(([, n]) => n);
    return `MODE ${names.length > 0 ? names.join('|') : '0'}`;
  }
  if (code === 3) return `SLC (${Math.floor((p.length - 1) / 3)} special characters)`;
  if (code === 2) return `FORWARDMASK ${hex(p, 1)}`;
  if (code !== undefined && code >= WILL && code <= DONT) return `${commandName(code)} FORWARDMASK ${hex(p, 2)}`.trimEnd();
  return hex(p);
}

const LFLOW_NAMES = ['OFF', 'ON', 'RESTART-ANY', 'RESTART-XON'];

/** "TERMINAL-TYPE IS xterm-color", "NAWS 80x32"... */
export function describeSubnegotiation(opt: number, p: Uint8Array): string {
  const name = optionName(opt);
  switch (opt) {
    case TelnetOption.TERMINAL_TYPE: {
      const r = parseTerminalType(p);
      if (r.ok) return r.value.kind === 'send' ? `${name} SEND` : `${name} IS ${r.value.name}`;
      return `${name} ${p[0] === 0 ? `IS ${latin1(p, 1)}` : hex(p)}`;
    }
    case TelnetOption.NAWS: {
      const r = parseNaws(p);
      return r.ok ? `${name} ${r.value.width}x${r.value.height}` : `${name} ${hex(p)}`;
    }
    case TelnetOption.TSPEED:
    case TelnetOption.XDISPLOC:
    case TelnetOption.TTYLOC:
      return p[0] === 0 ? `${name} IS ${latin1(p, 1)}` : p[0] === 1 && p.length === 1 ? `${name} SEND` : `${name} ${hex(p)}`;
    case TelnetOption.NEW_ENVIRON:
    case TelnetOption.ENVIRON:
      return `${name} ${describeEnviron(p)}`;
    case TelnetOption.LINEMODE:
      return `${name} ${describeLinemode(p)}`;
    case TelnetOption.LFLOW:
      return `${name} ${p.length === 1 && p[0]! < LFLOW_NAMES.length ? LFLOW_NAMES[p[0]!] : hex(p)}`;
    case TelnetOption.STATUS:
      return p.length === 1 && p[0] === 1 ? `${name} SEND` : `${name} ${isOrSend(p[0])} ${hex(p, 1)}`.trimEnd();
    default:
      return `${name} ${hex(p)}`.trimEnd();
  }
}

// ---------------------------------------------------------------------------
// One session: the client state of the transcriber.

class TelnetSession {
  entries: TranscriptEntry[] = [];
  chunks = 0;
  terminalType: string | undefined = undefined;
  windowSize: { width: number; height: number } | undefined = undefined;
  typedLines = 0;
  notEchoed = 0;
  decodeErrors = 0;
  /** Whether the server echoes what the client types (it said WILL ECHO and the client did not refuse). */
  serverEcho = false;
  private readonly held: TranscriptEntry[] = [];
  private readonly screen: ScreenLine;
  private readonly editor = new LineEditor({ echo: 'off', maxLength: 4096 });
  private readonly serverText = new TextDecoder('utf-8');
  private readonly clientText = new TextDecoder('utf-8');
  private readonly decoders: [TelnetDecoder, TelnetDecoder];
  /** Server output since the first keystroke of the line being typed, or null between lines. */
  private probe: string | null = null;
  private readonly pending: PendingEcho[] = [];
  private localCr = false;
  private readonly probeLimit: number;

  constructor(
    readonly flow: ObservedFlow,
    /** The flow direction that carries client-to-server bytes. */
    readonly clientDir: FollowDirection,
    private readonly chunkEntries: number,
    maxLineLength: number,
  ) {
    this.screen = new ScreenLine(maxLineLength, (line) => this.screenLine(line));
    this.probeLimit = 4 * maxLineLength;
    const side = (dir: FollowDirection): TelnetSide => (dir === clientDir ? 'client' : 'server');
    const make = (dir: FollowDirection): TelnetDecoder => {
      const from = side(dir);
      return new TelnetDecoder({
        onData: (d) => (from === 'client' ? this.clientData(d) : this.serverData(d)),
        onCommand: (cmd) => this.command(from, cmd),
        onNegotiation: (cmd, opt) => this.negotiation(from, cmd, opt),
        onSubnegotiation: (opt, payload) => this.subnegotiation(from, opt, payload),
        onError: (reason: TelnetDecodeError) => this.decodeError(from, reason),
      });
    };
    this.decoders = [make(0), make(1)];
  }

  get client(): string {
    return this.clientDir === 0 ? this.flow.a : this.flow.b;
  }

  get server(): string {
    return this.clientDir === 0 ? this.flow.b : this.flow.a;
  }

  bytes(dir: FollowDirection, data: Uint8Array): void {
    this.decoders[dir].push(data);
  }

  gap(dir: FollowDirection, gap: FollowGap): void {
    const from: TelnetSide = dir === this.clientDir ? 'client' : 'server';
    this.annotate({ kind: 'gap', from, text: `${gap.length} bytes missing from the capture (${gap.reason})` });
  }

  /** The lines so far as a transcript chunk; the session starts a new one. */
  takeChunk(final: boolean): TelnetTranscript {
    const t: TelnetTranscript = {
      stream: this.flow.id,
      part: this.flow.part,
      client: this.client,
      server: this.server,
      entries: this.entries,
      chunk: this.chunks++,
      final,
      terminalType: this.terminalType,
      windowSize: this.windowSize,
      typedLines: this.typedLines,
      notEchoed: this.notEchoed,
      decodeErrors: this.decodeErrors,
    };
    this.entries = [];
    return t;
  }

  /** The flow ended: settle what is pending; the last chunk. */
  finish(): TelnetTranscript {
    this.decoders[0].end();
    this.decoders[1].end();
    const tailServer = this.serverText.decode();
    if (tailServer !== '') this.serverOutput(tailServer);
    // A line typed but never ended is still something the user typed.
    const partial = this.editor.pending;
    if (partial !== '') this.typed(partial, !this.serverEcho || isSubsequence(partial, this.probe ?? ''));
    this.resolvePending();
    this.screen.flush();
    this.releaseHeld();
    return this.takeChunk(true);
  }

  // ---- server side ----

  private serverData(d: Uint8Array): void {
    const text = this.serverText.decode(d, { stream: true });
    if (text !== '') this.serverOutput(text);
  }

  private serverOutput(text: string): void {
    const n = text.length;
    let from = 0;
    while (from < n) {
      let j = from;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 0x0a || c === 0x0d) break;
        j++;
      }
      if (j > from) {
        const run = from === 0 && j === n ? text : text.slice(from, j);
        this.probeOutput(run);
        this.screen.write(run);
      }
      if (j === n) return;
      // The server moved to a new line: typed lines still waiting for their echo are settled.
      if (this.pending.length > 0) this.resolvePending();
      this.screen.put(text[j]!);
      from = j + 1;
    }
  }

  /** Server output while typed text may be waiting for its echo. */
  private probeOutput(run: string): void {
    const limit = this.probeLimit;
    if (this.probe !== null && this.probe.length < limit) this.probe += run;
    for (const p of this.pending) if (p.probe.length < limit) p.probe += run;
  }

  private resolvePending(): void {
    for (const p of this.pending) {
      const echoed = isSubsequence(p.text, p.probe);
      if (!echoed) {
        const sep = this.screen.lastChar === '' || this.screen.lastChar === ' ' ? '' : ' ';
        this.screen.write(sep + NOT_ECHOED);
      }
      this.typed(p.text, echoed);
    }
    this.pending.length = 0;
  }

  // ---- client side ----

  private clientData(d: Uint8Array): void {
    if (this.probe === null && hasTypedContent(d)) this.probe = '';
    if (!this.serverEcho) this.localEcho(this.clientText.decode(d, { stream: true }));
    this.lineEvents(this.editor.feed(d));
  }

  private lineEvents(events: ReturnType<LineEditor['feed']>): void {
    for (const e of events) {
      if (e.kind === 'line') {
        const probe = this.probe ?? '';
        this.probe = null;
        if (!this.serverEcho || e.text === '' || isSubsequence(e.text, probe)) this.typed(e.text, true);
        else if (this.pending.length < 16) this.pending.push({ text: e.text, probe });
        else this.typed(e.text, false);
      } else if (e.kind === 'interrupt') {
        this.probe = null;
        this.typed('^C', true);
      } else if (e.kind === 'eof') {
        this.typed('^D', true);
      }
    }
  }

  /** The client shows what is typed itself (line mode): Enter is a new line, erase keys erase. */
  private localEcho(text: string): void {
    const screen = this.screen;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      const c = ch.charCodeAt(0);
      if (this.localCr) {
        this.localCr = false;
        if (c === 0x0a || c === 0x00) continue;
      }
      if (c === 0x0d) {
        this.localCr = true;
        screen.put('\n');
      } else if (c === 0x0a) {
        screen.put('\n');
      } else if (c === 0x08 || c === 0x7f) {
        screen.write('\b \b');
      } else if (c >= 0x20) {
        screen.put(ch);
      }
    }
  }

  private typed(text: string, echoed: boolean): void {
    this.typedLines++;
    if (!echoed) this.notEchoed++;
    this.annotate({ kind: 'typed', text, echoed });
  }

  // ---- Telnet commands ----

  private negotiation(from: TelnetSide, cmd: NegotiationCommand, opt: number): void {
    if (opt === TelnetOption.ECHO) {
      if (from === 'server' && cmd === WILL) this.serverEcho = true;
      else if ((from === 'server' && cmd === WONT) || (from === 'client' && cmd === DONT)) this.serverEcho = false;
    }
    this.annotate({ kind: 'option', from, text: negotiationName(cmd, opt) });
  }

  private subnegotiation(from: TelnetSide, opt: number, payload: Uint8Array): void {
    if (opt === TelnetOption.TERMINAL_TYPE && from === 'client') {
      const r = parseTerminalType(payload);
      if (r.ok && r.value.kind === 'is') this.terminalType = r.value.name;
    } else if (opt === TelnetOption.NAWS && from === 'client') {
      const r = parseNaws(payload);
      if (r.ok) this.windowSize = r.value;
    }
    this.annotate({ kind: 'option', from, text: `SB ${describeSubnegotiation(opt, payload)}` });
  }

  private command(from: TelnetSide, cmd: number): void {
    if (from === 'client' && (cmd === EC || cmd === EL || cmd === IP || cmd === EOF)) this.lineEvents(this.editor.command(cmd));
    // Go-ahead and no-op carry nothing a reader needs, and some servers send GA after every prompt.
    if (cmd === GA || cmd === NOP || cmd === EOR) return;
    this.annotate({ kind: 'command', from, text: COMMAND_TEXT.get(cmd) ?? commandName(cmd) });
  }

  private decodeError(from: TelnetSide, reason: TelnetDecodeError): void {
    this.decodeErrors++;
    this.annotate({ kind: 'command', from, text: `(telnet decode error: ${reason})` });
  }

  // ---- output ----

  private screenLine(text: string): void {
    this.add({ kind: 'screen', text });
    this.releaseHeld();
  }

  /** A line that is not screen output: held while the screen has a partial line. */
  private annotate(e: TranscriptEntry): void {
    if (this.screen.partial) {
      this.held.push(e);
      // A partial line that never ends must not hold lines back without bound.
      if (this.held.length >= this.chunkEntries) this.screen.flush();
    } else {
      this.add(e);
    }
  }

  private releaseHeld(): void {
    if (this.held.length === 0) return;
    for (const e of this.held) this.add(e);
    this.held.length = 0;
  }

  private add(e: TranscriptEntry): void {
    this.entries.push(e);
  }
}

/** Whether client data holds a keystroke that starts or continues a line (not just an end of line). */
function hasTypedContent(d: Uint8Array): boolean {
  for (let i = 0; i < d.length; i++) {
    const b = d[i]!;
    if (b >= 0x20 && b !== 0x7f) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// The module

interface TranscriberShared {
  readonly sessions: Map<ObservedFlow, TelnetSession>;
}

export class TelnetTranscriber extends Module<TranscriberShared, TelnetSession> {
  readonly ports: ReadonlySet<number>;
  readonly counters = { sessions: 0, transcripts: 0, chunks: 0, bytes: 0 };
  private readonly chunkEntries: number;
  private readonly maxHeldEntries: number;
  /** Lines held over all sessions, as last counted. */
  private heldEntries = 0;
  private readonly maxLineLength: number;
  private readonly table = new SlotTable<TelnetTranscriptSlots>(this, 'transcripts', { onTranscript: 'many' });
  readonly binding: Binding<TcpObserverSlots>;

  constructor(
    rt: Runtime,
    readonly observer: TcpObserver,
    opts: TelnetTranscriberOptions = {},
    name = 'telnet-transcriber',
  ) {
    super(rt, name, { sessions: new Map() });
    this.ports = new Set([23, ...(opts.ports ?? [])]);
    this.chunkEntries = Math.max(1, opts.chunkEntries ?? 2000);
    this.maxHeldEntries = opts.maxHeldEntries ?? 100_000;
    this.maxLineLength = opts.maxLineLength ?? 1024;
    this.binding = observer.observe(
      this,
      {
        onFlowStart: (flow) => this.start(flow),
        onBytes: (flow, dir, data) => this.bytes(flow, dir, data),
        onGap: (flow, dir, gap) => this.gap(flow, dir, gap),
        onFlowEnd: (flow) => this.end(flow),
      },
      { ports: this.ports },
    );
  }

  /** Receive each Telnet flow's transcript when the flow ends. */
  readonly bindTranscripts = this.entry(
    'bindTranscripts',
    'reject',
    (owner: Module, handlers: Partial<TelnetTranscriptSlots>): Binding<TelnetTranscriptSlots> => {
      return this.lock.locked(() => this.table.bind(owner, handlers)) as Binding<TelnetTranscriptSlots>;
    },
  );

  /** Sessions being decoded now. */
  get liveSessions(): number {
    return this.shared.sessions.size;
  }

  private start(flow: ObservedFlow): void {
    const p = this.ports;
    // The server is the side on a Telnet port; if both are, the side that did not send the first SYN.
    let clientDir: FollowDirection;
    if (p.has(flow.bPort) && !p.has(flow.aPort)) clientDir = 0;
    else if (p.has(flow.aPort) && !p.has(flow.bPort)) clientDir = 1;
    else clientDir = flow.syn[1] && !flow.syn[0] ? 1 : 0;
    const s = new TelnetSession(flow, clientDir, this.chunkEntries, this.maxLineLength);
    this.lock.locked(() => this.shared.sessions.set(flow, s));
    this.counters.sessions++;
  }

  private bytes(flow: ObservedFlow, dir: FollowDirection, data: Uint8Array): void {
    const s = this.shared.sessions.get(flow);
    if (s === undefined) return;
    this.claim(s);
    this.counters.bytes += data.length;
    const before = s.entries.length;
    s.bytes(dir, data);
    this.heldEntries += s.entries.length - before;
    if (s.entries.length >= this.chunkEntries) this.handUp(s, false);
    if (this.heldEntries > this.maxHeldEntries) this.relieve();
  }

  private gap(flow: ObservedFlow, dir: FollowDirection, gap: FollowGap): void {
    const s = this.shared.sessions.get(flow);
    if (s === undefined) return;
    this.claim(s);
    const before = s.entries.length;
    s.gap(dir, gap);
    this.heldEntries += s.entries.length - before;
  }

  /** Hands a session's lines up as a chunk (the last one when `final`). */
  private handUp(s: TelnetSession, final: boolean): void {
    this.heldEntries -= s.entries.length;
    const t = final ? s.finish() : s.takeChunk(false);
    if (final) this.counters.transcripts++;
    this.counters.chunks++;
    if (this.rt.observed) this.note(`${s.flow.describe()}: transcript ${final ? 'ends' : 'chunk'} (${t.entries.length} lines)`);
    this.upcallAll(this.table, 'onTranscript', t);
  }

  /** Too many lines held over all sessions: the biggest hand theirs up now. */
  private relieve(): void {
    const sessions = [...this.shared.sessions.values()].sort((x, y) => y.entries.length - x.entries.length);
    for (const s of sessions) {
      if (this.heldEntries <= this.maxHeldEntries / 2 || s.entries.length === 0) break;
      this.handUp(s, false);
    }
  }

  private end(flow: ObservedFlow): void {
    const s = this.shared.sessions.get(flow);
    if (s === undefined) return;
    this.claim(s);
    this.lock.locked(() => this.shared.sessions.delete(flow));
    this.handUp(s, true);
  }

  /** A task through a session failed (a bug in decoding, or an observer of transcripts threw): forget the session. */
  protected override cleanup(session: TelnetSession | undefined): void {
    if (session !== undefined && this.shared.sessions.delete(session.flow)) this.heldEntries -= session.entries.length;
  }
}

// ---------------------------------------------------------------------------
// Rendering

export interface RenderTranscriptOptions {
  /** Prefix of every line (default two spaces). */
  indent?: string;
  /** Include the negotiation lines (default true). */
  options?: boolean;
  /** Include the section of typed lines (default true). */
  typed?: boolean;
}

/**
 * Text for a terminal: a header, the screen ("| ") with negotiation ("~ "),
 * commands and gaps ("! ") in between, then the lines the client typed ("> "),
 * each marked when the user did not see it.
 */
export function renderTranscript(t: TelnetTranscript, opts: RenderTranscriptOptions = {}): string {
  const ind = opts.indent ?? '  ';
  const out: string[] = [];
  const part = t.part > 1 ? ` part ${t.part}` : '';
  const cont = t.chunk > 0 ? ` (continued, chunk ${t.chunk + 1})` : '';
  out.push(`Telnet session, stream ${t.stream}${part}: client ${t.client} -> server ${t.server}${cont}`);
  const facts: string[] = [];
  if (t.terminalType !== undefined) facts.push(`terminal ${t.terminalType}`);
  if (t.windowSize !== undefined) facts.push(`window ${t.windowSize.width}x${t.windowSize.height}`);
  if (facts.length > 0) out.push(`${ind}${facts.join(', ')}`);
  const typed: Array<{ text: string; echoed: boolean }> = [];
  for (const e of t.entries) {
    switch (e.kind) {
      case 'screen':
        out.push(`${ind}| ${e.text}`.trimEnd());
        break;
      case 'option':
        if (opts.options !== false) out.push(`${ind}~ ${e.from} ${e.text}`);
        break;
      case 'command':
        out.push(`${ind}! ${e.from} ${e.text}`);
        break;
      case 'gap':
        out.push(`${ind}! ${e.from}: ${e.text}`);
        break;
      case 'typed':
        typed.push(e);
        break;
    }
  }
  if (opts.typed !== false && typed.length > 0) {
    const hidden = typed.filter((x) => !x.echoed).length;
    out.push(`${ind}typed by the client (${typed.length} lines${hidden > 0 ? `, ${hidden} not echoed` : ''}):`);
    for (const x of typed) out.push(`${ind}> ${x.text}${x.echoed ? '' : '   [not echoed: password entry?]'}`);
  }
  if (!t.final) out.push(`${ind}(the session goes on in the next chunk)`);
  return out.join('\n');
}

