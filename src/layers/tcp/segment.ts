/**
 * An arriving segment as TCP's input code reads it: the fixed header fields and
 * the option values TCP acts on, read straight from the packet buffer (no copy;
 * the payload stays where it arrived). The common data-segment layout with only
 * the timestamp option (NOP NOP TS, RFC 7323 appendix A) is read at fixed
 * offsets; anything else by one walk over the options that follows the wire
 * format's parser (parseTcpOptions) and allocates nothing but SACK's list.
 */
import type { IpAddress } from '../net.js';
import type { TcpLower } from './lower.js';
import {
  TCP_MIN_HEADER_LENGTH,
  TCP_OPT_EOL,
  TCP_OPT_MSS,
  TCP_OPT_NOP,
  TCP_OPT_SACK,
  TCP_OPT_SACK_PERMITTED,
  TCP_OPT_TIMESTAMPS,
  TCP_OPT_WSCALE,
} from '../../wire/tcp.js';

const EMPTY = new Uint8Array(0);

function readU32(bytes: Uint8Array, i: number): number {
  return ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0;
}

export class Segment {
  src: IpAddress = 0;
  dst: IpAddress = 0;
  /** The network layer it arrived through (answers go back the same way). */
  lower!: TcpLower;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** Window field as sent (unscaled). */
  wnd = 0;
  bytes: Uint8Array;
  /** Offset of the first payload byte in `bytes`. */
  dataOff = 0;
  dataLen = 0;
  hasTs = false;
  tsVal = 0;
  tsEcr = 0;
  /** MSS option, or -1. */
  mss = -1;
  /** Window-scale shift, or -1. */
  wscale = -1;
  sackOk = false;
  /** SACK blocks as [left, right) pairs. */
  sack: number[] | null = null;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  /** Forget the packet (the scratch segment must not keep a buffer alive). */
  reset(): void {
    this.bytes = EMPTY;
    // IPv6 addresses are views into the packet.
    if (typeof this.src !== 'number') this.src = this.dst = 0;
    this.hasTs = false;
    this.mss = -1;
    this.wscale = -1;
    this.sackOk = false;
    this.sack = null;
  }

  /** The payload, as a view (valid while the packet buffer is). */
  payload(): Uint8Array {
    return this.bytes.subarray(this.dataOff, this.dataOff + this.dataLen);
  }
}

/** Fills `seg` from the segment at `bytes[off, off+len)`. Returns a failure reason or null. */
export function readSegment(seg: Segment, bytes: Uint8Array, off: number, len: number): string | null {
  if (len < TCP_MIN_HEADER_LENGTH) return 'truncated';
  const b12 = bytes[off + 12]!;
  const hl = (b12 >>> 4) << 2;
  if (hl < TCP_MIN_HEADER_LENGTH) return 'bad-data-offset';
  if (hl > len) return 'truncated';
  seg.bytes = bytes;
  seg.srcPort = (bytes[off]! << 8) | bytes[off + 1]!;
  seg.dstPort = (bytes[off + 2]! << 8) | bytes[off + 3]!;
  seg.seq = ((bytes[off + 4]! << 24) | (bytes[off + 5]! << 16) | (bytes[off + 6]! << 8) | bytes[off + 7]!) >>> 0;
  seg.ack = ((bytes[off + 8]! << 24) | (bytes[off + 9]! << 16) | (bytes[off + 10]! << 8) | bytes[off + 11]!) >>> 0;
  seg.flags = ((b12 & 1) << 8) | bytes[off + 13]!;
  seg.wnd = (bytes[off + 14]! << 8) | bytes[off + 15]!;
  seg.dataOff = off + hl;
  seg.dataLen = len - hl;
  if (hl === TCP_MIN_HEADER_LENGTH) return null;
  const o = off + 20;
  if (hl === 32 && bytes[o] === 1 && bytes[o + 1] === 1 && bytes[o + 2] === 8 && bytes[o + 3] === 10) {
    seg.hasTs = true;
    seg.tsVal = ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0;
    seg.tsEcr = ((bytes[o + 8]! << 24) | (bytes[o + 9]! << 16) | (bytes[o + 10]! << 8) | bytes[o + 11]!) >>> 0;
    return null;
  }
  // Any other layout (a SYN's MSS, window scale, SACK-permitted; SACK
  // blocks) is read in place by one walk with the wire parser's rules
  // (parseTcpOptions, then tcpOptionValues): the last of a kind wins, EOL ends
  // the list, and an unreadable tail of the options area is ignored, as RFC
  // 9293 3.1 asks (be robust to option bytes); the readable options before it
  // still count. Through the parser, a SYN made an array, an object per
  // option and one of values.
  const end = off + hl;
  let sackAt = -1;
  let sackEnd = -1;
  for (let i = o; i < end; ) {
    const kind = bytes[i]!;
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) {
      i++;
      continue;
    }
    const n = i + 1 < end ? bytes[i + 1]! : 0;
    if (n < 2 || i + n > end) break;
    if (kind === TCP_OPT_MSS && n === 4) {
      seg.mss = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    } else if (kind === TCP_OPT_WSCALE && n === 3) {
      seg.wscale = bytes[i + 2]!;
    } else if (kind === TCP_OPT_SACK_PERMITTED && n === 2) {
      seg.sackOk = true;
    } else if (kind === TCP_OPT_TIMESTAMPS && n === 10) {
      seg.hasTs = true;
      seg.tsVal = readU32(bytes, i + 2);
      seg.tsEcr = readU32(bytes, i + 6);
    } else if (kind === TCP_OPT_SACK && n >= 10 && (n - 2) % 8 === 0) {
      sackAt = i + 2;
      sackEnd = i + n;
    }
    i += n;
  }
  if (sackAt >= 0) {
    const s: number[] = [];
    for (let p = sackAt; p < sackEnd; p += 8) s.push(readU32(bytes, p), readU32(bytes, p + 4));
    seg.sack = s;
  }
  return null;
}
