/**
 * ICMP for IPv4 (RFC 792): an 8-byte header then data. One record shape serves
 * every type: bytes 4..7 ("rest of header") are kept as one 32-bit number so any
 * message round-trips exactly; helpers read the echo identifier/sequence and the
 * next-hop MTU from it. `data` is the echo payload, or for errors the quoted
 * original datagram (its IP header and at least 8 bytes of its payload).
 */

import { inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';
import { checksumVerifies, internetChecksum, onesComplementSum } from './checksum.js';
import { parseIpv4, type Ipv4Header } from './ipv4.js';

export const ICMP_HEADER_LENGTH = 8;

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

export interface IcmpMessage {
  type: number;
  code: number;
  checksum: number;
  /** Bytes 4..7 as an unsigned 32-bit number (identifier<<16 | sequence for echo). */
  rest: number;
  /** Everything after the 8-byte header: echo data or the quoted original datagram. */
  data: Uint8Array;
}

export function parseIcmp(bytes: Uint8Array, offset: number, length: number): ParseResult<IcmpMessage> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < ICMP_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  return parseSuccess(
    {
      type: bytes[o]!,
      code: bytes[o + 1]!,
      checksum: (bytes[o + 2]! << 8) | bytes[o + 3]!,
      rest: ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0,
      data: bytes.subarray(o + ICMP_HEADER_LENGTH, o + length),
    },
    ICMP_HEADER_LENGTH,
  );
}

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

export function icmpEchoIdentifier(m: IcmpMessage): number {
  return m.rest >>> 16;
}

export function icmpEchoSequence(m: IcmpMessage): number {
  return m.rest & 0xffff;
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

export function makeIcmpEcho(type: number, identifier: number, sequence: number, data: Uint8Array): IcmpMessage {
  return { type, code: 0, checksum: 0, rest: (((identifier & 0xffff) << 16) | (sequence & 0xffff)) >>> 0, data };
}

export function makeIcmpDestUnreachable(code: number, quoted: Uint8Array, nextHopMtu = 0): IcmpMessage {
  return { type: ICMP_DEST_UNREACHABLE, code, checksum: 0, rest: nextHopMtu & 0xffff, data: quoted };
}

export function makeIcmpTimeExceeded(code: number, quoted: Uint8Array): IcmpMessage {
  return { type: ICMP_TIME_EXCEEDED, code, checksum: 0, rest: 0, data: quoted };
}

/** Writes the 8-byte header verbatim (checksum included); returns 8. Data is not written. */
export function encodeIcmpHeader(bytes: Uint8Array, offset: number, m: IcmpMessage): number {
  const o = offset;
  bytes[o] = m.type;
  bytes[o + 1] = m.code;
  bytes[o + 2] = m.checksum >>> 8;
  bytes[o + 3] = m.checksum;
  bytes[o + 4] = m.rest >>> 24;
  bytes[o + 5] = m.rest >>> 16;
  bytes[o + 6] = m.rest >>> 8;
  bytes[o + 7] = m.rest;
  return ICMP_HEADER_LENGTH;
}

/**
 * Prepends the 8-byte header in front of the buffer's data, which is the message
 * data (`m.data` is ignored), and computes the checksum. Returns the new start.
 */
export function writeIcmpHeader(buf: PacketBuffer, m: IcmpMessage): number {
  const start = buf.prepend(ICMP_HEADER_LENGTH);
  const bytes = buf.bytes;
  encodeIcmpHeader(bytes, start, m);
  setIcmpChecksum(bytes, start, buf.end - start);
  return start;
}

/** Header (verbatim checksum) followed by `m.data`. */
export function emitIcmp(m: IcmpMessage): Uint8Array {
  const out = new Uint8Array(ICMP_HEADER_LENGTH + m.data.length);
  encodeIcmpHeader(out, 0, m);
  out.set(m.data, ICMP_HEADER_LENGTH);
  return out;
}

/** The checksum an ICMP message with header fields `m` and data `data` should carry. */
export function computeIcmpChecksum(m: IcmpMessage, data: Uint8Array = m.data): number {
  const head = new Uint8Array(ICMP_HEADER_LENGTH);
  encodeIcmpHeader(head, 0, { ...m, checksum: 0 });
  return internetChecksum(data, 0, data.length, onesComplementSum(head, 0, ICMP_HEADER_LENGTH));
}
