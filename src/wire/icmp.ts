/**
 * ICMP for IPv4 (RFC 792): an 8-byte header then data, the record shape and
 * header code ICMPv6 shares (icmp-header.ts, exported here under ICMP names):
 * bytes 4..7 ("rest of header") are one 32-bit number; helpers read the echo
 * identifier/sequence and the next-hop MTU from it. `data` is the echo payload,
 * or for errors the quoted original datagram (its IP header and at least 8
 * bytes of its payload).
 */

import type { PacketBuffer, ParseResult } from './buffer.js';
import { checksumVerifies, internetChecksum, onesComplementSum } from './checksum.js';
import { encodeIcmpRecordHeader, ICMP_COMMON_HEADER_LENGTH, type IcmpRecord } from './icmp-header.js';
import { parseIpv4, type Ipv4Header } from './ipv4.js';

export const ICMP_HEADER_LENGTH = ICMP_COMMON_HEADER_LENGTH;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;

/** Codes of ICMP_DEST_UNREACHABLE. */
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_FRAG_NEEDED = 4;
export const ICMP_UNREACH_SOURCE_ROUTE_FAILED = 5;
export const ICMP_UNREACH_NET_UNKNOWN = 6;
export const ICMP_UNREACH_HOST_UNKNOWN = 7;
export const ICMP_UNREACH_NET_PROHIBITED = 9;
export const ICMP_UNREACH_HOST_PROHIBITED = 10;
export const ICMP_UNREACH_ADMIN_PROHIBITED = 13;

/** Codes of ICMP_TIME_EXCEEDED. */
export const ICMP_TIME_EXCEEDED_TTL = 0;
export const ICMP_TIME_EXCEEDED_REASSEMBLY = 1;

/** `data`: the echo data or the quoted original datagram. */
export type IcmpMessage = IcmpRecord;

export {
  echoIdentifier as icmpEchoIdentifier,
  echoSequence as icmpEchoSequence,
  emitIcmpRecord as emitIcmp,
  encodeIcmpRecordHeader as encodeIcmpHeader,
  makeEchoRecord as makeIcmpEcho,
  parseIcmpRecord as parseIcmp,
} from './icmp-header.js';

/** Whether the checksum over the whole message (`length` = header + data) verifies. */
export function icmpChecksumOk(bytes: Uint8Array, offset: number, length: number): boolean {
  return checksumVerifies(bytes, offset, length);
}

/** Recomputes and stores the checksum of the message at `offset`. */
export function setIcmpChecksum(bytes: Uint8Array, offset: number, length: number): number {
  bytes[offset + 2] = 0;
  bytes[offset + 3] = 0;
  const c = internetChecksum(bytes, offset, length);
  bytes[offset + 2] = c >>> 8;
  bytes[offset + 3] = c;
  return c;
}

/** The next-hop MTU of a "fragmentation needed" message (RFC 1191); 0 when the router did not say. */
export function icmpNextHopMtu(m: IcmpMessage): number {
  return m.rest & 0xffff;
}

export function isIcmpError(m: IcmpMessage): boolean {
  return m.type === ICMP_DEST_UNREACHABLE || m.type === ICMP_TIME_EXCEEDED || m.type === 4 || m.type === 5 ||
    m.type === 12;
}

/**
 * The header of the datagram quoted in an ICMP error. The quote is normally cut
 * after 8 payload bytes, so its total length is not held against what is present.
 * The quoted transport bytes start at `headerLength` within `m.data`.
 */
export function parseIcmpQuotedDatagram(m: IcmpMessage): ParseResult<Ipv4Header> {
  return parseIpv4(m.data, 0, m.data.length, false);
}

export function makeIcmpDestUnreachable(code: number, quoted: Uint8Array, nextHopMtu = 0): IcmpMessage {
  return { type: ICMP_DEST_UNREACHABLE, code, checksum: 0, rest: nextHopMtu & 0xffff, data: quoted };
}

export function makeIcmpTimeExceeded(code: number, quoted: Uint8Array): IcmpMessage {
  return { type: ICMP_TIME_EXCEEDED, code, checksum: 0, rest: 0, data: quoted };
}

/**
 * Prepends the 8-byte header in front of the buffer's data, which is the message
 * data (`m.data` is ignored), and computes the checksum. Returns the new start.
 */
export function writeIcmpHeader(buf: PacketBuffer, m: IcmpMessage): number {
  const start = buf.prepend(ICMP_HEADER_LENGTH);
  const bytes = buf.bytes;
  encodeIcmpRecordHeader(bytes, start, m);
  setIcmpChecksum(bytes, start, buf.end - start);
  return start;
}

/** The checksum an ICMP message with header fields `m` and data `data` should carry. */
export function computeIcmpChecksum(m: IcmpMessage, data: Uint8Array = m.data): number {
  const head = new Uint8Array(ICMP_HEADER_LENGTH);
  encodeIcmpRecordHeader(head, 0, { ...m, checksum: 0 });
  return internetChecksum(data, 0, data.length, onesComplementSum(head, 0, ICMP_HEADER_LENGTH));
}
