/**
 * ICMPv6 (RFC 4443): an 8-byte header then data, the record shape and header
 * code ICMP over IPv4 shares (icmp-header.ts, exported here under ICMPv6
 * names). Bytes 4..7 are kept as one 32-bit number (echo identifier/sequence,
 * packet-too-big MTU, parameter-problem pointer). The
 * checksum covers the IPv6 pseudo-header (RFC 4443 §2.3), so the checksum calls
 * take the addresses. NDP messages (types 133..137) are decoded by ndp.ts.
 */

import type { Ip6 } from './addr6.js';
import type { PacketBuffer, ParseResult } from './buffer.js';
import { checksumVerifies, internetChecksum, onesComplementSum } from './checksum.js';
import { encodeIcmpRecordHeader, ICMP_COMMON_HEADER_LENGTH, type IcmpRecord } from './icmp-header.js';
import { IP_PROTO_ICMPV6, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, ipv6PseudoHeaderSum, parseIpv6, type Ipv6Header } from './ipv6.js';

export const ICMPV6_HEADER_LENGTH = ICMP_COMMON_HEADER_LENGTH;

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

/** `data`: echo data, the quoted packet, or an NDP body. */
export type Icmpv6Message = IcmpRecord;

export {
  echoIdentifier as icmpv6EchoIdentifier,
  echoSequence as icmpv6EchoSequence,
  emitIcmpRecord as emitIcmpv6,
  encodeIcmpRecordHeader as encodeIcmpv6Header,
  makeEchoRecord as makeIcmpv6Echo,
  parseIcmpRecord as parseIcmpv6,
} from './icmp-header.js';

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

/**
 * Prepends the header in front of the buffer's data (the message data; `m.data`
 * is ignored) and computes the checksum for `src` -> `dst`. Returns the new start.
 */
export function writeIcmpv6Header(buf: PacketBuffer, m: Icmpv6Message, src: Ip6, dst: Ip6): number {
  const start = buf.prepend(ICMPV6_HEADER_LENGTH);
  encodeIcmpRecordHeader(buf.bytes, start, m);
  setIcmpv6Checksum(buf.bytes, start, buf.end - start, src, dst);
  return start;
}
