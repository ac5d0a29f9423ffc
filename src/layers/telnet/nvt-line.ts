/**
 * NVT line discipline (RFC 854 end-of-line rules), pure: no I/O, no clock.
 *
 * On the wire a newline is CR LF and a bare carriage return is CR NUL. Peers
 * are tolerated when they send a bare LF, or a CR followed by anything else.
 *
 * - `LineEditor`: the server side in character-at-a-time mode. It takes the
 *   bytes the client types (already IAC-unescaped by the Telnet decoder) and says
 *   what to echo and which lines are complete.
 * - `NvtTextDecoder` / `encodeNvtText`: NVT text to and from JS strings, for
 *   a client printing what it receives and for anyone sending text.
 */

import { EC, EL, EOF, IP } from '../../wire/telnet.js';

const NUL = 0x00;
const ETX = 0x03; // Ctrl-C
const EOT = 0x04; // Ctrl-D
const BS = 0x08;
const LF = 0x0a;
const CR = 0x0d;
const NAK = 0x15; // Ctrl-U
const ESC = 0x1b;
const DEL = 0x7f;

/**
 * - `on`: echo what is typed (we perform ECHO);
 * - `secret`: echo only the end of line (password entry);
 * - `off`: echo nothing (the client echoes locally).
 */
export type EchoMode = 'on' | 'secret' | 'off';

export type LineEvent =
  /** Bytes to send back to the client, as text (encode as UTF-8). */
  | { kind: 'echo'; text: string }
  /** A completed line, without its end-of-line. */
  | { kind: 'line'; text: string }
  /** Ctrl-C: the partial line was discarded. */
  | { kind: 'interrupt' }
  /** Ctrl-D on an empty line. */
  | { kind: 'eof' }
  /**
   * With `rejectBadLines`: a line ended that was longer than maxLength, or held
   * bytes that are not UTF-8 text (8-bit input without the BINARY option). It
   * is not a line: say so to the user. `text` is what was kept of it.
   */
  | { kind: 'rejected'; reason: 'too-long' | '8-bit'; text: string };

export interface LineEditorOptions {
  echo?: EchoMode;
  /** Longest line in characters; further characters are refused with a bell. Default 1024. */
  maxLength?: number;
  /**
   * A line that overflowed maxLength, or in which bytes that are not UTF-8 were
   * dropped, ends with a 'rejected' event instead of a 'line' (a server must not
   * run a command cut short or with characters missing). Default false: such a
   * line is given as what was kept of it (a transcript of another server).
   */
  rejectBadLines?: boolean;
}

export const ERASE_ECHO = '\b \b';
export const INTERRUPT_ECHO = '^C\r\n';
const BELL = '\x07';

const ESC_NONE = 0;
const ESC_START = 1; // after ESC
const ESC_CSI = 2; // after ESC [ : parameters until a final byte
const ESC_SS3 = 3; // after ESC O : one more byte

/**
 * Character-at-a-time line editor. Backspace and DEL erase the last character,
 * Ctrl-U the whole line, Ctrl-C discards the line, Ctrl-D on an empty line is end
 * of input; CR, CR LF, CR NUL and LF each end a line once. Escape sequences (arrow
 * and function keys) and other control characters are dropped, so they never end
 * up inside a line. UTF-8 input is accepted a whole character at a time.
 */
export class LineEditor {
  echo: EchoMode;
  private readonly maxLength: number;
  private line = '';
  private chars = 0; // characters (code points) in `line`
  private afterCr = false;
  private esc = ESC_NONE;
  private utf8Need = 0; // continuation bytes still expected
  private utf8Cp = 0;
  private utf8Min = 0;
  private readonly rejectBad: boolean;
  /** The line being typed overflowed maxLength. */
  private overflow = false;
  /** The line being typed lost bytes that are not UTF-8. */
  private bad8bit = false;

  constructor(options: LineEditorOptions = {}) {
    this.echo = options.echo ?? 'on';
    this.rejectBad = options.rejectBadLines ?? false;
    const max = options.maxLength ?? 1024;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxLength must be a positive integer, got ${max}`);
    this.maxLength = max;
  }

  /** The line typed so far. */
  get pending(): string {
    return this.line;
  }

  /** Forget the partial line and any half-read sequence. */
  reset(): void {
    this.line = '';
    this.chars = 0;
    this.afterCr = false;
    this.esc = ESC_NONE;
    this.utf8Need = 0;
    this.overflow = false;
    this.bad8bit = false;
  }

  /** Feeds typed bytes; returns, in order, what to echo and what happened. */
  feed(data: Uint8Array): LineEvent[] {
    const events: LineEvent[] = [];
    let echo = '';
    const flush = () => {
      if (echo !== '') {
        events.push({ kind: 'echo', text: echo });
        echo = '';
      }
    };
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      if (this.afterCr) {
        this.afterCr = false;
        if (b === LF || b === NUL) continue;
      }
      if (this.esc !== ESC_NONE && this.skipEscape(b)) continue;
      if (this.utf8Need > 0) {
        if ((b & 0xc0) === 0x80) {
          this.utf8Cp = (this.utf8Cp << 6) | (b & 0x3f);
          if (--this.utf8Need === 0) {
            const cp = this.utf8Cp;
            if (cp >= this.utf8Min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)) echo += this.insert(String.fromCodePoint(cp));
            else this.bad8bit = true;
          }
          continue;
        }
        this.utf8Need = 0; // malformed: drop the partial character, read this byte afresh
        this.bad8bit = true;
      }
      if (b >= 0x20 && b < DEL) {
        echo += this.insert(String.fromCharCode(b));
      } else if (b >= 0xc2 && b <= 0xf4) {
        this.utf8Need = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
        this.utf8Cp = b & (b < 0xe0 ? 0x1f : b < 0xf0 ? 0x0f : 0x07);
        this.utf8Min = b < 0xe0 ? 0x80 : b < 0xf0 ? 0x800 : 0x10000;
      } else if (b === CR || b === LF) {
        this.afterCr = b === CR;
        if (this.echo !== 'off') echo += '\r\n';
        flush();
        if (this.rejectBad && (this.overflow || this.bad8bit)) {
          events.push({ kind: 'rejected', reason: this.overflow ? 'too-long' : '8-bit', text: this.line });
        } else {
          events.push({ kind: 'line', text: this.line });
        }
        this.line = '';
        this.chars = 0;
        this.overflow = false;
        this.bad8bit = false;
      } else if (b === BS || b === DEL) {
        if (this.chars > 0) {
          this.dropLast();
          if (this.echo === 'on') echo += ERASE_ECHO;
        }
      } else if (b === NAK) {
        if (this.echo === 'on') echo += ERASE_ECHO.repeat(this.chars);
        this.line = '';
        this.chars = 0;
        this.overflow = false;
        this.bad8bit = false;
      } else if (b === ETX) {
        if (this.echo !== 'off') echo += INTERRUPT_ECHO;
        flush();
        events.push({ kind: 'interrupt' });
        this.line = '';
        this.chars = 0;
        this.overflow = false;
        this.bad8bit = false;
      } else if (b === EOT) {
        if (this.chars === 0) {
          flush();
          events.push({ kind: 'eof' });
        }
      } else if (b === ESC) {
        this.esc = ESC_START;
      } else if (b >= 0x80) {
        // Not UTF-8 (a stray continuation byte, 0xc0, 0xc1, 0xf5..0xff): 8-bit input.
        this.bad8bit = true;
      }
      // Anything else (NUL, tab, other controls, bytes that cannot start UTF-8) is dropped.
    }
    flush();
    return events;
  }

  /**
   * The Telnet commands that stand for editing keys (a client may send IAC EC
   * instead of DEL): EC erases a character, EL the line, IP interrupts, EOF is
   * Ctrl-D. Other commands do nothing here.
   */
  command(cmd: number): LineEvent[] {
    const key = cmd === EC ? DEL : cmd === EL ? NAK : cmd === IP ? ETX : cmd === EOF ? EOT : -1;
    return key < 0 ? [] : this.feed(Uint8Array.of(key));
  }

  /** Appends one character; returns its echo. */
  private insert(ch: string): string {
    if (this.chars >= this.maxLength) {
      this.overflow = true;
      return this.echo === 'on' ? BELL : '';
    }
    this.line += ch;
    this.chars++;
    return this.echo === 'on' ? ch : '';
  }

  private dropLast(): void {
    const n = this.line.length;
    const low = this.line.charCodeAt(n - 1);
    const pair = n >= 2 && low >= 0xdc00 && low <= 0xdfff;
    this.line = this.line.slice(0, pair ? n - 2 : n - 1);
    this.chars--;
  }

  /** Consumes `b` if it belongs to the escape sequence being skipped. A control
   *  character ends the sequence and is read normally, so ESC then Enter still
   *  ends the line. */
  private skipEscape(b: number): boolean {
    const state = this.esc;
    this.esc = ESC_NONE;
    if (b < 0x20 || b > 0x7e) return false;
    if (state === ESC_START) {
      if (b === 0x5b) this.esc = ESC_CSI;
      else if (b === 0x4f) this.esc = ESC_SS3;
    } else if (state === ESC_CSI && b < 0x40) {
      this.esc = ESC_CSI; // parameter or intermediate byte; a final byte (0x40..0x7e) ends it
    }
    return true;
  }
}

/**
 * NVT bytes to text: CR LF and bare LF become "\n", CR NUL becomes "\r", other
 * bytes are UTF-8 (invalid sequences become U+FFFD). Chunks may be cut anywhere;
 * a CR that ends a chunk waits for the next byte to know what it is.
 */
export class NvtTextDecoder {
  private readonly utf8 = new TextDecoder('utf-8');
  private pendingCr = false;

  decode(data: Uint8Array): string {
    const out = new Uint8Array(data.length + 1);
    let n = 0;
    let i = 0;
    if (this.pendingCr && data.length > 0) {
      this.pendingCr = false;
      const b = data[0]!;
      out[n++] = b === LF ? LF : CR;
      if (b === LF || b === NUL) i = 1;
    }
    for (; i < data.length; i++) {
      const b = data[i]!;
      if (b !== CR) {
        out[n++] = b;
        continue;
      }
      if (i + 1 === data.length) {
        this.pendingCr = true;
        break;
      }
      const next = data[i + 1]!;
      if (next === LF) {
        out[n++] = LF;
        i++;
      } else {
        out[n++] = CR;
        if (next === NUL) i++;
      }
    }
    return this.utf8.decode(out.subarray(0, n), { stream: true });
  }

  /** End of stream: whatever was held back. */
  flush(): string {
    const cr = this.pendingCr ? '\r' : '';
    this.pendingCr = false;
    return cr + this.utf8.decode();
  }
}

const utf8Encoder = new TextEncoder();

/**
 * Text to NVT bytes: "\r\n" and "\n" become CR LF, a lone "\r" becomes CR NUL,
 * the rest is UTF-8. UTF-8 never contains 0xFF, so the result needs no IAC
 * escaping.
 */
export function encodeNvtText(text: string): Uint8Array {
  const raw = utf8Encoder.encode(text);
  let extra = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === LF && (i === 0 || raw[i - 1] !== CR)) extra++;
    else if (b === CR && raw[i + 1] !== LF) extra++;
  }
  if (extra === 0) return raw;
  const out = new Uint8Array(raw.length + extra);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === LF && (i === 0 || raw[i - 1] !== CR)) {
      out[n++] = CR;
      out[n++] = LF;
    } else if (b === CR && raw[i + 1] !== LF) {
      out[n++] = CR;
      out[n++] = NUL;
    } else {
      out[n++] = b;
    }
  }
  return out;
}
