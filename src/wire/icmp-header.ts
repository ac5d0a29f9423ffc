/**
 * The 8-byte header ICMP (RFC 792) and ICMPv6 (RFC 4443) share: type, code,
 * checksum, then four bytes whose meaning depends on the type, kept as one
 * 32-bit number so that any message round-trips exactly. One record shape
 * serves every type of both; `data` is what follows the header.
 *
 * What differs by family stays in icmp.ts and icmpv6.ts, which export these
 * under their own names: the type numbers, the checksum (ICMPv6's covers the
 * IPv6 pseudo-header), what an error quotes and how much of it.
 */
import { inBounds, parseFailure, parseSuccess, type ParseResult } from './buffer.js';

export const ICMP_COMMON_HEADER_LENGTH = 8;

export interface IcmpRecord {
  type: number;
  code: number;
  checksum: number;
  /** Bytes 4..7 as an unsigned 32-bit number (identifier<<16 | sequence for echo). */
  rest: number;
  /** Everything after the 8-byte header. */
  data: Uint8Array;
}

export function parseIcmpRecord(bytes: Uint8Array, offset: number, length: number): ParseResult<IcmpRecord> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < ICMP_COMMON_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  return parseSuccess(
    {
      type: bytes[o]!,
      code: bytes[o + 1]!,
      checksum: (bytes[o + 2]! << 8) | bytes[o + 3]!,
      rest: ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0,
      data: bytes.subarray(o + ICMP_COMMON_HEADER_LENGTH, o + length),
    },
    ICMP_COMMON_HEADER_LENGTH,
  );
}

/** Writes the 8-byte header verbatim (checksum included); returns 8. Data is not written. */
export function encodeIcmpRecordHeader(bytes: Uint8Array, offset: number, m: IcmpRecord): number {
  const o = offset;
  bytes[o] = m.type;
  bytes[o + 1] = m.code;
  bytes[o + 2] = m.checksum >>> 8;
  bytes[o + 3] = m.checksum;
  bytes[o + 4] = m.rest >>> 24;
  bytes[o + 5] = m.rest >>> 16;
  bytes[o + 6] = m.rest >>> 8;
  bytes[o + 7] = m.rest;
  return ICMP_COMMON_HEADER_LENGTH;
}

/** Header (verbatim checksum) followed by `m.data`. */
export function emitIcmpRecord(m: IcmpRecord): Uint8Array {
  const out = new Uint8Array(ICMP_COMMON_HEADER_LENGTH + m.data.length);
  encodeIcmpRecordHeader(out, 0, m);
  out.set(m.data, ICMP_COMMON_HEADER_LENGTH);
  return out;
}

export function echoIdentifier(m: IcmpRecord): number {
  return m.rest >>> 16;
}

export function echoSequence(m: IcmpRecord): number {
  return m.rest & 0xffff;
}

/** An echo request or reply (`type` is the family's). */
export function makeEchoRecord(type: number, identifier: number, sequence: number, data: Uint8Array): IcmpRecord {
  return { type, code: 0, checksum: 0, rest: (((identifier & 0xffff) << 16) | (sequence & 0xffff)) >>> 0, data };
}
