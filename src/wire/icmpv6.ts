/**
 * ICMPv6 (RFC 4443): an 8-byte header then data, one record shape for every
 * type as for ICMP over IPv4. Bytes 4..7 are kept as one 32-bit number (echo
 * identifier/sequence, packet-too-big MTU, parameter-problem pointer). The
 * checksum covers the IPv6 pseudo-header (RFC 4443 §2.3), so the checksum calls
 * take the addresses. NDP messages (types 133..137) are decoded by ndp.ts.
 */

import type { Ip6 } from './addr6.js';
import { inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';
import { checksumVerifies, internetChecksum, onesComplementSum } from './checksum.js';
import { IP_PROTO_ICMPV6, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, ipv6PseudoHeaderSum, parseIpv6, type Ipv6Header } from './ipv6.js';

export const ICMPV6_HEADER_LENGTH = 8;

export const ICMPV6_DEST_UNREACHABLE = 1;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV6_TIME_EXCEEDED = 3;
export const ICMPV6_PARAM_PROBLEM = 4;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

/** Codes of ICMPV6_DEST_UNREACHABLE. */
export const ICMPV6_UNREACH_NO_ROUTE = 0;
export const ICMPV6_UNREACH_ADMIN_PROHIBITED = 1;
export const ICMPV6_UNREACH_BEYOND_SCOPE = 2;
export const ICMPV6_UNREACH_ADDRESS = 3;
export const ICMPV6_UNREACH_PORT = 4;
export const ICMPV6_UNREACH_POLICY = 5;
export const ICMPV6_UNREACH_REJECT_ROUTE = 6;

/** Codes of ICMPV6_TIME_EXCEEDED. */
export const ICMPV6_TIME_EXCEEDED_HOP_LIMIT = 0;
export const ICMPV6_TIME_EXCEEDED_REASSEMBLY = 1;

/** Codes of ICMPV6_PARAM_PROBLEM. */
export const ICMPV6_PARAM_ERRONEOUS_FIELD = 0;
export const ICMPV6_PARAM_UNKNOWN_NEXT_HEADER = 1;
export const ICMPV6_PARAM_UNKNOWN_OPTION = 2;

/**
 * Most bytes of the offending packet an error may quote: the error must fit the
 * minimum MTU (RFC 4443 §2.4(c)).
 */
export const ICMPV6_MAX_QUOTE = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - ICMPV6_HEADER_LENGTH;

export interface Icmpv6Message {
  type: number;
  code: number;
  checksum: number;
  /** Bytes 4..7 as an unsigned 32-bit number. */
  rest: number;
  /** Everything after the 8-byte header: echo data, the quoted packet, or an NDP body. */
  data: Uint8Array;
}

export function parseIcmpv6(bytes: Uint8Array, offset: number, length: number): ParseResult<Icmpv6Message> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < ICMPV6_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  return parseSuccess(
    {
      type: bytes[o]!,
      code: bytes[o + 1]!,
      checksum: (bytes[o + 2]! << 8) | bytes[o + 3]!,
      rest: ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0,
      data: bytes.subarray(o + ICMPV6_HEADER_LENGTH, o + length),
    },
    ICMPV6_HEADER_LENGTH,
  );
}

/** Whether the checksum of the message at `offset` (`length` = header + data) verifies. */
export function icmpv6ChecksumOk(bytes: Uint8Array, offset: number, length: number, src: Ip6, dst: Ip6): boolean {
  return checksumVerifies(bytes, offset, length, ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, length));
}

/** The checksum the message at `offset` should carry (its own checksum field is ignored). */
export function computeIcmpv6Checksum(bytes: Uint8Array, offset: number, length: number, src: Ip6, dst: Ip6): number {
  let s = ipv6PseudoHeaderSum(src, dst, IP_PROTO_ICMPV6, length);
  s = onesComplementSum(bytes, offset, 2, s);
  return internetChecksum(bytes, offset + 4, length - 4, s);
}

/** Recomputes and stores the checksum of the message at `offset`. */
export function setIcmpv6Checksum(bytes: Uint8Array, offset: number, length: number, src: Ip6, dst: Ip6): number {
  const c = computeIcmpv6Checksum(bytes, offset, length, src, dst);
  bytes[offset + 2] = c >>> 8;
  bytes[offset + 3] = c;
  return c;
}

/** Types below 128 are errors (RFC 4443 §2.1); a node never answers an error with an error. */
export function isIcmpv6Error(m: Icmpv6Message): boolean {
  return m.type < 128;
}

export function icmpv6EchoIdentifier(m: Icmpv6Message): number {
  return m.rest >>> 16;
}

export function icmpv6EchoSequence(m: Icmpv6Message): number {
  return m.rest & 0xffff;
}

/** The MTU of a packet-too-big message. */
export function icmpv6Mtu(m: Icmpv6Message): number {
  return m.rest;
}

/** The pointer of a parameter-problem message: offset of the fault in the quoted packet. */
export function icmpv6Pointer(m: Icmpv6Message): number {
  return m.rest;
}

/**
 * The fixed header of the packet quoted in an error; its payload length is not
 * held against what is present. The quoted bytes after it start at 40 in `m.data`.
 */
export function parseIcmpv6QuotedPacket(m: Icmpv6Message): ParseResult<Ipv6Header> {
  return parseIpv6(m.data, 0, m.data.length, false);
}

/** The start of `packet` that an error may quote. */
export function icmpv6Quote(packet: Uint8Array): Uint8Array {
  return packet.length <= ICMPV6_MAX_QUOTE ? packet : packet.subarray(0, ICMPV6_MAX_QUOTE);
}

export function makeIcmpv6Echo(type: number, identifier: number, sequence: number, data: Uint8Array): Icmpv6Message {
  return { type, code: 0, checksum: 0, rest: (((identifier & 0xffff) << 16) | (sequence & 0xffff)) >>> 0, data };
}

export function makeIcmpv6DestUnreachable(code: number, quoted: Uint8Array): Icmpv6Message {
  return { type: ICMPV6_DEST_UNREACHABLE, code, checksum: 0, rest: 0, data: icmpv6Quote(quoted) };
}

export function makeIcmpv6PacketTooBig(mtu: number, quoted: Uint8Array): Icmpv6Message {
  return { type: ICMPV6_PACKET_TOO_BIG, code: 0, checksum: 0, rest: mtu >>> 0, data: icmpv6Quote(quoted) };
}

export function makeIcmpv6TimeExceeded(code: number, quoted: Uint8Array): Icmpv6Message {
  return { type: ICMPV6_TIME_EXCEEDED, code, checksum: 0, rest: 0, data: icmpv6Quote(quoted) };
}

export function makeIcmpv6ParamProblem(code: number, pointer: number, quoted: Uint8Array): Icmpv6Message {
  return { type: ICMPV6_PARAM_PROBLEM, code, checksum: 0, rest: pointer >>> 0, data: icmpv6Quote(quoted) };
}

/** Writes the 8-byte header verbatim (checksum included); returns 8. Data is not written. */
export function encodeIcmpv6Header(bytes: Uint8Array, offset: number, m: Icmpv6Message): number {
  const o = offset;
  bytes[o] = m.type;
  bytes[o + 1] = m.code;
  bytes[o + 2] = m.checksum >>> 8;
  bytes[o + 3] = m.checksum;
  bytes[o + 4] = m.rest >>> 24;
  bytes[o + 5] = m.rest >>> 16;
  bytes[o + 6] = m.rest >>> 8;
  bytes[o + 7] = m.rest;
  return ICMPV6_HEADER_LENGTH;
}

/**
 * Prepends the header in front of the buffer's data (the message data; `m.data`
 * is ignored) and computes the checksum for `src` -> `dst`. Returns the new start.
 */
export function writeIcmpv6Header(buf: PacketBuffer, m: Icmpv6Message, src: Ip6, dst: Ip6): number {
  const start = buf.prepend(ICMPV6_HEADER_LENGTH);
  encodeIcmpv6Header(buf.bytes, start, m);
  setIcmpv6Checksum(buf.bytes, start, buf.end - start, src, dst);
  return start;
}

/** Header (verbatim checksum) followed by `m.data`. */
export function emitIcmpv6(m: Icmpv6Message): Uint8Array {
  const out = new Uint8Array(ICMPV6_HEADER_LENGTH + m.data.length);
  encodeIcmpv6Header(out, 0, m);
  out.set(m.data, ICMPV6_HEADER_LENGTH);
  return out;
}
