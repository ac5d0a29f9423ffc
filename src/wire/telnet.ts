/**
 * The Telnet byte format (RFC 854 NVT, RFC 855 options): command codes, option
 * numbers, a streaming decoder and encoders. No behaviour: what to answer to a
 * negotiation lives in src/layers/telnet/options.ts.
 */

// Commands (RFC 854, plus EOR from RFC 885 and the RFC 1184 LINEMODE trio).
export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const GA = 249;
export const EL = 248;
export const EC = 247;
export const AYT = 246;
export const AO = 245;
export const IP = 244;
export const BRK = 243;
export const DM = 242;
export const NOP = 241;
export const SE = 240;
export const EOR = 239;
export const ABORT = 238;
export const SUSP = 237;
export const EOF = 236;

/** A negotiation verb: WILL, WONT, DO or DONT. */
export type NegotiationCommand = typeof WILL | typeof WONT | typeof DO | typeof DONT;

/** Option numbers from the IANA Telnet options registry. */
export const TelnetOption = {
  BINARY: 0,
  ECHO: 1,
  RCP: 2,
  SGA: 3,
  NAMS: 4,
  STATUS: 5,
  TIMING_MARK: 6,
  RCTE: 7,
  NAOL: 8,
  NAOP: 9,
  NAOCRD: 10,
  NAOHTS: 11,
  NAOHTD: 12,
  NAOFFD: 13,
  NAOVTS: 14,
  NAOVTD: 15,
  NAOLFD: 16,
  EXTEND_ASCII: 17,
  LOGOUT: 18,
  BM: 19,
  DET: 20,
  SUPDUP: 21,
  SUPDUP_OUTPUT: 22,
  SEND_LOCATION: 23,
  TERMINAL_TYPE: 24,
  EOR: 25,
  TUID: 26,
  OUTMRK: 27,
  TTYLOC: 28,
  REGIME_3270: 29,
  X3_PAD: 30,
  NAWS: 31,
  TSPEED: 32,
  LFLOW: 33,
  LINEMODE: 34,
  XDISPLOC: 35,
  ENVIRON: 36,
  AUTHENTICATION: 37,
  ENCRYPT: 38,
  NEW_ENVIRON: 39,
  TN3270E: 40,
  XAUTH: 41,
  CHARSET: 42,
  RSP: 43,
  COM_PORT: 44,
  SLE: 45,
  START_TLS: 46,
  KERMIT: 47,
  SEND_URL: 48,
  FORWARD_X: 49,
  EXOPL: 255,
} as const;

const OPTION_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(TelnetOption).map(([k, v]) => [v, k.replace(/_/g, '-')] as [number, string]),
);

const COMMAND_NAMES: ReadonlyMap<number, string> = new Map([
  [IAC, 'IAC'], [DONT, 'DONT'], [DO, 'DO'], [WONT, 'WONT'], [WILL, 'WILL'], [SB, 'SB'],
  [GA, 'GA'], [EL, 'EL'], [EC, 'EC'], [AYT, 'AYT'], [AO, 'AO'], [IP, 'IP'], [BRK, 'BRK'],
  [DM, 'DM'], [NOP, 'NOP'], [SE, 'SE'], [EOR, 'EOR'], [ABORT, 'ABORT'], [SUSP, 'SUSP'], [EOF, 'EOF'],
]);

/** "TERMINAL-TYPE", "NAWS"...; unknown numbers as "OPTION-200". */
export function optionName(opt: number): string {
  return OPTION_NAMES.get(opt) ?? `OPTION-${opt}`;
}

/** "DO", "GA", "IAC"...; unknown bytes as "CMD-100". */
export function commandName(cmd: number): string {
  return COMMAND_NAMES.get(cmd) ?? `CMD-${cmd}`;
}

/** "DO TERMINAL-TYPE": for logs and test messages. */
export function negotiationName(cmd: number, opt: number): string {
  return `${commandName(cmd)} ${optionName(opt)}`;
}

export function isNegotiationCommand(b: number): b is NegotiationCommand {
  return b >= WILL && b <= DONT;
}

/** Commands delivered to `onCommand`: everything after IAC that stands alone. */
function isSimpleCommand(b: number): boolean {
  return b >= EOF && b <= GA && b !== SE;
}

/** Result of parsing bytes that came from the network. */
export type TelnetParse<T> = { ok: true; value: T } | { ok: false; reason: string };

// ---------------------------------------------------------------------------
// Decoder

/**
 * Why the decoder dropped something. It never throws on bad input; it reports
 * through `onError` and counts in `TelnetDecoder.errors`.
 * - `sb-overlong`: a subnegotiation longer than the bound; discarded up to its IAC SE.
 * - `sb-unterminated`: IAC followed by something other than SE or IAC inside a
 *   subnegotiation (its IAC SE was lost); the subnegotiation is discarded and the
 *   IAC sequence is decoded as a command, which resynchronises the stream. Also
 *   reported by `end()` when the stream closes inside a subnegotiation.
 * - `unknown-command`: IAC followed by a byte that is no command; both dropped.
 * - `stray-se`: IAC SE outside any subnegotiation; dropped.
 * - `truncated`: the stream ended inside an IAC sequence (`end()`).
 */
export type TelnetDecodeError = 'sb-overlong' | 'sb-unterminated' | 'unknown-command' | 'stray-se' | 'truncated';

export interface TelnetHandlers {
  /** NVT data with IAC IAC already unescaped. A view into the pushed chunk:
   *  valid only during the call; copy to keep. */
  onData(data: Uint8Array): void;
  /** A stand-alone command: GA, AYT, DM, IP, NOP, EOR... */
  onCommand(cmd: number): void;
  /** WILL/WONT/DO/DONT and the option byte. */
  onNegotiation(cmd: NegotiationCommand, opt: number): void;
  /** A complete subnegotiation, IAC IAC unescaped. The payload is a view into the
   *  decoder's own buffer: valid only during the call; copy to keep. */
  onSubnegotiation(opt: number, payload: Uint8Array): void;
  /** Something was dropped; `byte` is the offending byte (or the SB option). */
  onError?(reason: TelnetDecodeError, byte: number): void;
}

export interface TelnetDecoderOptions {
  /** Largest subnegotiation payload accepted (after unescaping). Default 1024. */
  maxSubnegotiation?: number;
}

export const DEFAULT_MAX_SUBNEGOTIATION = 1024;

const EMPTY = new Uint8Array(0);

const S_DATA = 0;
const S_IAC = 1;
const S_NEG = 2;
const S_SB_OPT = 3;
const S_SB_DATA = 4;
const S_SB_IAC = 5;

/**
 * Streaming NVT decoder. Chunks may be cut anywhere, also inside an IAC sequence
 * or a subnegotiation. Data is delivered as subarrays of the pushed chunks (one
 * call per run between commands), so the common path allocates only views.
 * State is updated before every callback, so a handler that throws leaves the
 * decoder consistent at the next byte. Not re-entrant: do not push from a handler.
 */
export class TelnetDecoder {
  /** Counts of everything dropped, by reason. */
  readonly errors: Record<TelnetDecodeError, number> = {
    'sb-overlong': 0,
    'sb-unterminated': 0,
    'unknown-command': 0,
    'stray-se': 0,
    truncated: 0,
  };

  private state = S_DATA;
  private negCmd: NegotiationCommand = WILL;
  private sbOpt = 0;
  private sbLen = 0;
  private sbDiscard = false;
  private sbBuf: Uint8Array | null = null;
  private readonly maxSb: number;

  constructor(
    private readonly h: TelnetHandlers,
    options: TelnetDecoderOptions = {},
  ) {
    const max = options.maxSubnegotiation ?? DEFAULT_MAX_SUBNEGOTIATION;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxSubnegotiation must be a non-negative integer, got ${max}`);
    this.maxSb = max;
  }

  /** True when the decoder is between commands (nothing partial is held). */
  get idle(): boolean {
    return this.state === S_DATA;
  }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    // Start of the pending data run; lets IAC IAC join the data around it.
    let runStart = -1;
    while (i < n) {
      switch (this.state) {
        case S_DATA: {
          const start = runStart >= 0 ? runStart : i;
          runStart = -1;
          let j = chunk.indexOf(IAC, i);
          if (j < 0) j = n;
          if (j > start) this.h.onData(chunk.subarray(start, j));
          if (j < n) this.state = S_IAC;
          i = j + 1;
          break;
        }
        case S_IAC: {
          const b = chunk[i++]!;
          if (b === IAC) {
            // Escaped 0xFF: the second byte itself is the data byte.
            this.state = S_DATA;
            runStart = i - 1;
          } else if (isNegotiationCommand(b)) {
            this.negCmd = b;
            this.state = S_NEG;
          } else if (b === SB) {
            this.state = S_SB_OPT;
          } else {
            this.state = S_DATA;
            if (isSimpleCommand(b)) this.h.onCommand(b);
            else this.report(b === SE ? 'stray-se' : 'unknown-command', b);
          }
          break;
        }
        case S_NEG: {
          const opt = chunk[i++]!;
          this.state = S_DATA;
          this.h.onNegotiation(this.negCmd, opt);
          break;
        }
        case S_SB_OPT: {
          this.sbOpt = chunk[i++]!;
          this.sbLen = 0;
          this.sbDiscard = false;
          this.state = S_SB_DATA;
          break;
        }
        case S_SB_DATA: {
          let j = chunk.indexOf(IAC, i);
          if (j < 0) j = n;
          if (j > i) this.sbAppend(chunk, i, j);
          if (j < n) this.state = S_SB_IAC;
          i = j + 1;
          break;
        }
        case S_SB_IAC: {
          const b = chunk[i]!;
          if (b === IAC) {
            i++;
            this.state = S_SB_DATA;
            this.sbAppend(chunk, i - 1, i);
          } else if (b === SE) {
            i++;
            this.state = S_DATA;
            if (!this.sbDiscard) this.h.onSubnegotiation(this.sbOpt, this.sbBuf === null ? EMPTY : this.sbBuf.subarray(0, this.sbLen));
          } else {
            // The IAC SE never came: drop the subnegotiation and read this IAC as a command.
            this.state = S_IAC;
            if (!this.sbDiscard) this.report('sb-unterminated', this.sbOpt);
          }
          break;
        }
      }
    }
    // An escaped IAC that ended the chunk.
    if (runStart >= 0) this.h.onData(chunk.subarray(runStart, n));
  }

  /**
   * The stream is closed: report anything left half-done and reset to the data
   * state (so the decoder can be reused).
   */
  end(): void {
    const st = this.state;
    this.state = S_DATA;
    if (st === S_SB_DATA || st === S_SB_IAC) {
      if (!this.sbDiscard) this.report('sb-unterminated', this.sbOpt);
    } else if (st !== S_DATA) {
      this.report('truncated', st === S_NEG ? this.negCmd : st === S_SB_OPT ? SB : IAC);
    }
  }

  private sbAppend(chunk: Uint8Array, from: number, to: number): void {
    if (this.sbDiscard) return;
    const len = to - from;
    if (this.sbLen + len > this.maxSb) {
      this.sbDiscard = true;
      this.report('sb-overlong', this.sbOpt);
      return;
    }
    // Allocated on first use: most connections never send a subnegotiation this decoder keeps.
    const buf = this.sbBuf ?? (this.sbBuf = new Uint8Array(this.maxSb));
    buf.set(chunk.subarray(from, to), this.sbLen);
    this.sbLen += len;
  }

  private report(reason: TelnetDecodeError, byte: number): void {
    this.errors[reason]++;
    this.h.onError?.(reason, byte);
  }
}

// ---------------------------------------------------------------------------
// Encoders

function countIac(data: Uint8Array): number {
  let count = 0;
  let i = data.indexOf(IAC);
  while (i >= 0) {
    count++;
    i = data.indexOf(IAC, i + 1);
  }
  return count;
}

/** Writes `data` at `off` with every IAC doubled; returns the end offset. */
function writeEscaped(out: Uint8Array, off: number, data: Uint8Array): number {
  let from = 0;
  let i = data.indexOf(IAC);
  while (i >= 0) {
    out.set(data.subarray(from, i + 1), off);
    off += i + 1 - from;
    out[off++] = IAC;
    from = i + 1;
    i = data.indexOf(IAC, from);
  }
  out.set(data.subarray(from), off);
  return off + data.length - from;
}

/** `data` with every 0xFF doubled. Returns `data` itself when it holds no 0xFF. */
export function escapeIac(data: Uint8Array): Uint8Array {
  const extra = countIac(data);
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  writeEscaped(out, 0, data);
  return out;
}

function checkByte(what: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`${what} must be a byte, got ${v}`);
}

/** IAC cmd opt, for cmd in WILL/WONT/DO/DONT. */
export function encodeNegotiation(cmd: NegotiationCommand, opt: number): Uint8Array {
  if (!isNegotiationCommand(cmd)) throw new RangeError(`not a negotiation command: ${cmd}`);
  checkByte('option', opt);
  const out = new Uint8Array(3);
  out[0] = IAC;
  out[1] = cmd;
  out[2] = opt;
  return out;
}

/** IAC cmd, for a stand-alone command (GA, NOP, AYT, DM...). */
export function encodeCommand(cmd: number): Uint8Array {
  if (!isSimpleCommand(cmd)) throw new RangeError(`not a stand-alone command: ${cmd}`);
  const out = new Uint8Array(2);
  out[0] = IAC;
  out[1] = cmd;
  return out;
}

/** IAC SB opt <payload with IAC doubled> IAC SE. */
export function encodeSubnegotiation(opt: number, payload: Uint8Array): Uint8Array {
  checkByte('option', opt);
  const out = new Uint8Array(payload.length + countIac(payload) + 5);
  out[0] = IAC;
  out[1] = SB;
  out[2] = opt;
  let off = writeEscaped(out, 3, payload);
  out[off++] = IAC;
  out[off] = SE;
  return out;
}

// ---------------------------------------------------------------------------
// TERMINAL-TYPE (RFC 1091)

export const TTYPE_IS = 0;
export const TTYPE_SEND = 1;
/** RFC 1091 caps a terminal type name at 40 characters. */
export const TTYPE_MAX_NAME = 40;

export type TerminalTypeMessage = { kind: 'is'; name: string } | { kind: 'send' };

/** Parses an (unescaped) TERMINAL-TYPE subnegotiation payload. */
export function parseTerminalType(payload: Uint8Array): TelnetParse<TerminalTypeMessage> {
  if (payload.length === 0) return { ok: false, reason: 'empty TERMINAL-TYPE subnegotiation' };
  const code = payload[0]!;
  if (code === TTYPE_SEND) {
    if (payload.length !== 1) return { ok: false, reason: 'TERMINAL-TYPE SEND with trailing bytes' };
    return { ok: true, value: { kind: 'send' } };
  }
  if (code !== TTYPE_IS) return { ok: false, reason: `unknown TERMINAL-TYPE code ${code}` };
  const len = payload.length - 1;
  if (len === 0) return { ok: false, reason: 'TERMINAL-TYPE IS with an empty name' };
  if (len > TTYPE_MAX_NAME) return { ok: false, reason: `TERMINAL-TYPE name longer than ${TTYPE_MAX_NAME} bytes` };
  let name = '';
  for (let i = 1; i < payload.length; i++) {
    const c = payload[i]!;
    if (c < 0x21 || c > 0x7e) return { ok: false, reason: `TERMINAL-TYPE name has a non-printable byte 0x${c.toString(16)}` };
    name += String.fromCharCode(c);
  }
  return { ok: true, value: { kind: 'is', name } };
}

/** IAC SB TERMINAL-TYPE SEND IAC SE. */
export function encodeTerminalTypeSend(): Uint8Array {
  return encodeSubnegotiation(TelnetOption.TERMINAL_TYPE, Uint8Array.of(TTYPE_SEND));
}

/** IAC SB TERMINAL-TYPE IS name IAC SE; `name` must be 1..40 printable ASCII characters. */
export function encodeTerminalTypeIs(name: string): Uint8Array {
  if (name.length === 0 || name.length > TTYPE_MAX_NAME || !/^[\x21-\x7e]+$/.test(name)) {
    throw new RangeError(`invalid terminal type name: ${JSON.stringify(name)}`);
  }
  const payload = new Uint8Array(name.length + 1);
  payload[0] = TTYPE_IS;
  for (let i = 0; i < name.length; i++) payload[i + 1] = name.charCodeAt(i);
  return encodeSubnegotiation(TelnetOption.TERMINAL_TYPE, payload);
}

// ---------------------------------------------------------------------------
// NAWS (RFC 1073)

export interface WindowSize {
  width: number;
  height: number;
}

/** Parses an (unescaped) NAWS payload: width and height, 16 bits each, big-endian. */
export function parseNaws(payload: Uint8Array): TelnetParse<WindowSize> {
  if (payload.length !== 4) return { ok: false, reason: `NAWS payload is ${payload.length} bytes, expected 4` };
  return {
    ok: true,
    value: { width: (payload[0]! << 8) | payload[1]!, height: (payload[2]! << 8) | payload[3]! },
  };
}

/** IAC SB NAWS w h IAC SE, with any 0xFF byte of the sizes doubled. */
export function encodeNaws(width: number, height: number): Uint8Array {
  for (const [what, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`NAWS ${what} must be 0..65535, got ${v}`);
  }
  return encodeSubnegotiation(TelnetOption.NAWS, Uint8Array.of(width >> 8, width & 0xff, height >> 8, height & 0xff));
}
