/**
 * TCP header (RFC 793, RFC 3168 ECN flags, RFC 3540 NS) and options (RFC 7323
 * window scale and timestamps, RFC 2018 SACK, RFC 879 MSS).
 *
 * The options area is parsed into a list that covers every byte of it, so
 * emitting the list reproduces the original bytes exactly: NOP and EOL are list
 * items, bytes after an EOL are a 'padding' item, an option of an unknown kind (or
 * a known kind with an unexpected length) is an 'unknown' item with its raw data,
 * and bytes that cannot be read as an option (length byte missing, below 2 or
 * running past the area) are a final 'malformed' item. A malformed options area
 * does not fail the parse; the TCP layer decides what to do with it.
 */

import type { Ip4 } from './addr.js';
import {
  BufferError, EMPTY_BYTES, inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult,
} from './buffer.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
import { IP_PROTO_TCP } from './ipv4.js';

export { seqAdd, seqDiff, seqGeq, seqGt, seqInWindow, seqLeq, seqLt, seqMax, seqMin, type Seq } from './seq.js';

export const TCP_MIN_HEADER_LENGTH = 20;
export const TCP_MAX_HEADER_LENGTH = 60;
export const TCP_MAX_OPTIONS_LENGTH = 40;

export const TCP_FIN = 0x001;
export const TCP_SYN = 0x002;
export const TCP_RST = 0x004;
export const TCP_PSH = 0x008;
export const TCP_ACK = 0x010;
export const TCP_URG = 0x020;
export const TCP_ECE = 0x040;
export const TCP_CWR = 0x080;
export const TCP_NS = 0x100;

export const TCP_OPT_EOL = 0;
export const TCP_OPT_NOP = 1;
export const TCP_OPT_MSS = 2;
export const TCP_OPT_WSCALE = 3;
export const TCP_OPT_SACK_PERMITTED = 4;
export const TCP_OPT_SACK = 5;
export const TCP_OPT_TIMESTAMPS = 8;

export interface SackBlock {
  /** First sequence number of the block. */
  left: number;
  /** Sequence number just past the block. */
  right: number;
}

export type TcpOption =
  | { readonly kind: 'eol' }
  | { readonly kind: 'nop' }
  | { readonly kind: 'mss'; readonly mss: number }
  | { readonly kind: 'wscale'; readonly shift: number }
  | { readonly kind: 'sack-permitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly SackBlock[] }
  | { readonly kind: 'timestamps'; readonly tsVal: number; readonly tsEcr: number }
  /** Any other option, or a known kind with an unexpected length: `code` is the kind byte, `data` follows the length byte. */
  | { readonly kind: 'unknown'; readonly code: number; readonly data: Uint8Array }
  /** Bytes after an EOL, kept verbatim (normally zeros). */
  | { readonly kind: 'padding'; readonly data: Uint8Array }
  /** Bytes from an unreadable option to the end of the area, kept verbatim. */
  | { readonly kind: 'malformed'; readonly data: Uint8Array };

export const TCP_OPTION_EOL: TcpOption = Object.freeze({ kind: 'eol' });
export const TCP_OPTION_NOP: TcpOption = Object.freeze({ kind: 'nop' });
export const TCP_OPTION_SACK_PERMITTED: TcpOption = Object.freeze({ kind: 'sack-permitted' });

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** TCP_* flag bits, NS included (9 bits). */
  flags: number;
  /** The 3 reserved bits between data offset and NS, normally 0. */
  reserved: number;
  window: number;
  checksum: number;
  urgentPointer: number;
  /** In wire order; empty when the header has no options. The header length follows from them. */
  options: readonly TcpOption[];
}

const NO_OPTIONS: readonly TcpOption[] = Object.freeze([]);

/**
 * Parses the header at `bytes[offset]`; `length` is the segment length (the IP
 * payload). The payload is `length - headerLength` bytes after the header.
 */
export function parseTcp(bytes: Uint8Array, offset: number, length: number): ParseResult<TcpHeader> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < TCP_MIN_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  const b12 = bytes[o + 12]!;
  const hl = (b12 >>> 4) * 4;
  if (hl < TCP_MIN_HEADER_LENGTH) return parseFailure('bad-data-offset');
  if (hl > length) return parseFailure('truncated');
  return parseSuccess<TcpHeader>(
    {
      srcPort: (bytes[o]! << 8) | bytes[o + 1]!,
      dstPort: (bytes[o + 2]! << 8) | bytes[o + 3]!,
      seq: ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0,
      ack: ((bytes[o + 8]! << 24) | (bytes[o + 9]! << 16) | (bytes[o + 10]! << 8) | bytes[o + 11]!) >>> 0,
      flags: ((b12 & 1) << 8) | bytes[o + 13]!,
      reserved: (b12 >>> 1) & 7,
      window: (bytes[o + 14]! << 8) | bytes[o + 15]!,
      checksum: (bytes[o + 16]! << 8) | bytes[o + 17]!,
      urgentPointer: (bytes[o + 18]! << 8) | bytes[o + 19]!,
      options: hl === TCP_MIN_HEADER_LENGTH ? NO_OPTIONS : parseTcpOptions(bytes, o + 20, hl - 20),
    },
    hl,
  );
}

function readU32(bytes: Uint8Array, i: number): number {
  return ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
}

/** Parses an options area (never fails; see the module comment). */
export function parseTcpOptions(bytes: Uint8Array, offset: number, length: number): TcpOption[] {
  const out: TcpOption[] = [];
  const end = offset + length;
  let i = offset;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === TCP_OPT_EOL) {
      out.push(TCP_OPTION_EOL);
      if (i + 1 < end) out.push({ kind: 'padding', data: bytes.subarray(i + 1, end) });
      break;
    }
    if (kind === TCP_OPT_NOP) {
      out.push(TCP_OPTION_NOP);
      i++;
      continue;
    }
    const len = i + 1 < end ? bytes[i + 1]! : 0;
    if (len < 2 || i + len > end) {
      out.push({ kind: 'malformed', data: bytes.subarray(i, end) });
      break;
    }
    if (kind === TCP_OPT_MSS && len === 4) {
      out.push({ kind: 'mss', mss: (bytes[i + 2]! << 8) | bytes[i + 3]! });
    } else if (kind === TCP_OPT_WSCALE && len === 3) {
      out.push({ kind: 'wscale', shift: bytes[i + 2]! });
    } else if (kind === TCP_OPT_SACK_PERMITTED && len === 2) {
      out.push(TCP_OPTION_SACK_PERMITTED);
    } else if (kind === TCP_OPT_TIMESTAMPS && len === 10) {
      out.push({ kind: 'timestamps', tsVal: readU32(bytes, i + 2), tsEcr: readU32(bytes, i + 6) });
    } else if (kind === TCP_OPT_SACK && len >= 10 && (len - 2) % 8 === 0) {
      const blocks: SackBlock[] = [];
      for (let p = i + 2; p < i + len; p += 8) blocks.push({ left: readU32(bytes, p), right: readU32(bytes, p + 4) });
      out.push({ kind: 'sack', blocks });
    } else {
      out.push({ kind: 'unknown', code: kind, data: bytes.subarray(i + 2, i + len) });
    }
    i += len;
  }
  return out;
}

function optionLength(opt: TcpOption): number {
  switch (opt.kind) {
    case 'eol':
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'wscale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * opt.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + opt.data.length;
    case 'padding':
    case 'malformed':
      return opt.data.length;
  }
}

/** Bytes the options take once padded to a 4-byte boundary (zero bytes). */
export function tcpOptionsLength(options: readonly TcpOption[]): number {
  let n = 0;
  for (const opt of options) n += optionLength(opt);
  return (n + 3) & ~3;
}

export function tcpHeaderLength(h: TcpHeader): number {
  return TCP_MIN_HEADER_LENGTH + tcpOptionsLength(h.options);
}

function writeU32(bytes: Uint8Array, i: number, v: number): void {
  bytes[i] = v >>> 24;
  bytes[i + 1] = v >>> 16;
  bytes[i + 2] = v >>> 8;
  bytes[i + 3] = v;
}

/** Writes the options and zero padding to a 4-byte boundary; returns the bytes written. */
export function encodeTcpOptions(bytes: Uint8Array, offset: number, options: readonly TcpOption[]): number {
  let i = offset;
  for (const opt of options) {
    switch (opt.kind) {
      case 'eol':
        bytes[i++] = TCP_OPT_EOL;
        break;
      case 'nop':
        bytes[i++] = TCP_OPT_NOP;
        break;
      case 'mss':
        bytes[i] = TCP_OPT_MSS;
        bytes[i + 1] = 4;
        bytes[i + 2] = opt.mss >>> 8;
        bytes[i + 3] = opt.mss;
        i += 4;
        break;
      case 'wscale':
        bytes[i] = TCP_OPT_WSCALE;
        bytes[i + 1] = 3;
        bytes[i + 2] = opt.shift;
        i += 3;
        break;
      case 'sack-permitted':
        bytes[i] = TCP_OPT_SACK_PERMITTED;
        bytes[i + 1] = 2;
        i += 2;
        break;
      case 'sack':
        bytes[i] = TCP_OPT_SACK;
        bytes[i + 1] = 2 + 8 * opt.blocks.length;
        i += 2;
        for (const b of opt.blocks) {
          writeU32(bytes, i, b.left);
          writeU32(bytes, i + 4, b.right);
          i += 8;
        }
        break;
      case 'timestamps':
        bytes[i] = TCP_OPT_TIMESTAMPS;
        bytes[i + 1] = 10;
        writeU32(bytes, i + 2, opt.tsVal);
        writeU32(bytes, i + 6, opt.tsEcr);
        i += 10;
        break;
      case 'unknown':
        bytes[i] = opt.code;
        bytes[i + 1] = 2 + opt.data.length;
        bytes.set(opt.data, i + 2);
        i += 2 + opt.data.length;
        break;
      case 'padding':
      case 'malformed':
        bytes.set(opt.data, i);
        i += opt.data.length;
        break;
    }
  }
  while ((i - offset) & 3) bytes[i++] = 0;
  return i - offset;
}

function checkEncodable(h: TcpHeader): number {
  const n = tcpOptionsLength(h.options);
  if (n > TCP_MAX_OPTIONS_LENGTH) throw new BufferError(`TCP options take ${n} bytes, more than 40`);
  for (const opt of h.options) {
    if (opt.kind === 'unknown' && opt.data.length > 38) throw new BufferError('TCP option data too long');
  }
  return TCP_MIN_HEADER_LENGTH + n;
}

/** Writes every field of `h` verbatim (checksum included); returns the header length. */
export function encodeTcpHeader(bytes: Uint8Array, offset: number, h: TcpHeader): number {
  const hl = checkEncodable(h);
  const o = offset;
  bytes[o] = h.srcPort >>> 8;
  bytes[o + 1] = h.srcPort;
  bytes[o + 2] = h.dstPort >>> 8;
  bytes[o + 3] = h.dstPort;
  writeU32(bytes, o + 4, h.seq);
  writeU32(bytes, o + 8, h.ack);
  bytes[o + 12] = ((hl >>> 2) << 4) | ((h.reserved & 7) << 1) | ((h.flags >>> 8) & 1);
  bytes[o + 13] = h.flags;
  bytes[o + 14] = h.window >>> 8;
  bytes[o + 15] = h.window;
  bytes[o + 16] = h.checksum >>> 8;
  bytes[o + 17] = h.checksum;
  bytes[o + 18] = h.urgentPointer >>> 8;
  bytes[o + 19] = h.urgentPointer;
  if (hl > TCP_MIN_HEADER_LENGTH) encodeTcpOptions(bytes, o + 20, h.options);
  return hl;
}

/** Whether the segment at `offset` (`length` = header + payload) passes its checksum. */
export function tcpChecksumOk(bytes: Uint8Array, offset: number, length: number, src: Ip4, dst: Ip4): boolean {
  return onesComplementSum(bytes, offset, length, pseudoHeaderSum(src, dst, IP_PROTO_TCP, length)) === 0xffff;
}

/** The checksum the segment at `offset` should carry (its own checksum field is ignored). */
export function computeTcpChecksum(bytes: Uint8Array, offset: number, length: number, src: Ip4, dst: Ip4): number {
  let s = pseudoHeaderSum(src, dst, IP_PROTO_TCP, length);
  s = onesComplementSum(bytes, offset, 16, s);
  s = onesComplementSum(bytes, offset + 18, length - 18, s);
  return finishChecksum(s);
}

/** Recomputes and stores the checksum of the segment at `offset`. */
export function setTcpChecksum(bytes: Uint8Array, offset: number, length: number, src: Ip4, dst: Ip4): number {
  const c = computeTcpChecksum(bytes, offset, length, src, dst);
  bytes[offset + 16] = c >>> 8;
  bytes[offset + 17] = c;
  return c;
}

/**
 * Prepends the header in front of the buffer's data (the segment payload) and
 * computes the checksum over the pseudo-header, header and payload (`h.checksum`
 * is ignored). Returns the new start.
 */
export function writeTcpHeader(buf: PacketBuffer, h: TcpHeader, src: Ip4, dst: Ip4): number {
  const hl = checkEncodable(h);
  const start = buf.prepend(hl);
  const bytes = buf.bytes;
  encodeTcpHeader(bytes, start, h);
  setTcpChecksum(bytes, start, buf.end - start, src, dst);
  return start;
}

/** Header (every field verbatim) followed by `payload`. */
export function emitTcp(h: TcpHeader, payload: Uint8Array = EMPTY_BYTES): Uint8Array {
  const hl = checkEncodable(h);
  const out = new Uint8Array(hl + payload.length);
  encodeTcpHeader(out, 0, h);
  out.set(payload, hl);
  return out;
}

/** The option values a TCP implementation acts on, gathered from a list. */
export interface TcpOptionValues {
  mss?: number;
  wscale?: number;
  sackPermitted: boolean;
  sack?: readonly SackBlock[];
  timestamps?: { tsVal: number; tsEcr: number };
  /** Whether the list ends in a 'malformed' item. */
  malformed: boolean;
}

export function tcpOptionValues(options: readonly TcpOption[]): TcpOptionValues {
  const v: TcpOptionValues = { sackPermitted: false, malformed: false };
  for (const opt of options) {
    switch (opt.kind) {
      case 'mss':
        v.mss = opt.mss;
        break;
      case 'wscale':
        v.wscale = opt.shift;
        break;
      case 'sack-permitted':
        v.sackPermitted = true;
        break;
      case 'sack':
        v.sack = opt.blocks;
        break;
      case 'timestamps':
        v.timestamps = { tsVal: opt.tsVal, tsEcr: opt.tsEcr };
        break;
      case 'malformed':
        v.malformed = true;
        break;
      default:
        break;
    }
  }
  return v;
}

/** 'SYN,ACK' style, in tcpdump's order of significance, for logs and test messages. */
export function formatTcpFlags(flags: number): string {
  const names: string[] = [];
  if (flags & TCP_NS) names.push('NS');
  if (flags & TCP_CWR) names.push('CWR');
  if (flags & TCP_ECE) names.push('ECE');
  if (flags & TCP_URG) names.push('URG');
  if (flags & TCP_ACK) names.push('ACK');
  if (flags & TCP_PSH) names.push('PSH');
  if (flags & TCP_RST) names.push('RST');
  if (flags & TCP_SYN) names.push('SYN');
  if (flags & TCP_FIN) names.push('FIN');
  return names.join(',');
}
