/**
 * IPv4 header (RFC 791). Options are kept as raw bytes; the stack forwards or
 * ignores them but never needs them decoded.
 *
 * Parsing checks structure only. Verifying the header checksum is a separate,
 * cheap call (`ipv4ChecksumOk`) so a caller can skip it (e.g. for captures taken
 * with checksum offload) and count 'bad-checksum' itself.
 */

import { readIp4, writeIp4, type Ip4 } from './addr.js';
import {
  BufferError, EMPTY_BYTES, inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult,
} from './buffer.js';
import { checksumVerifies, internetChecksum, onesComplementSum } from './checksum.js';

export const IPV4_MIN_HEADER_LENGTH = 20;
export const IPV4_MAX_HEADER_LENGTH = 60;

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;

/** Flag bits as they appear in `Ipv4Header.flags` (the top 3 bits of the fragment word). */
export const IPV4_FLAG_RESERVED = 0b100;
export const IPV4_FLAG_DF = 0b010;
export const IPV4_FLAG_MF = 0b001;

/** Failure reasons `parseIpv4` returns, plus 'bad-checksum' for callers that verify. */
export type Ipv4FailureReason =
  | 'out-of-bounds' | 'truncated' | 'bad-version' | 'bad-ihl' | 'bad-total-length' | 'bad-checksum';

export interface Ipv4Header {
  /** Differentiated services code point (6 bits). */
  dscp: number;
  /** Explicit congestion notification (2 bits). */
  ecn: number;
  /** Header plus payload, in bytes, as written in the header. */
  totalLength: number;
  identification: number;
  /** IPV4_FLAG_* bits (reserved, DF, MF). */
  flags: number;
  /** Fragment offset in bytes (always a multiple of 8). */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  /** The header checksum field as read (or to be written by `emitIpv4`). */
  checksum: number;
  src: Ip4;
  dst: Ip4;
  /** Raw option bytes, padding included; length a multiple of 4, at most 40. */
  options: Uint8Array;
}

export function ipv4HeaderLength(h: Ipv4Header): number {
  return IPV4_MIN_HEADER_LENGTH + h.options.length;
}

/** Payload bytes according to the header (excludes link-layer padding). */
export function ipv4PayloadLength(h: Ipv4Header): number {
  return h.totalLength - ipv4HeaderLength(h);
}

/** Whether this datagram is a fragment (not a whole datagram). */
export function ipv4IsFragment(h: Ipv4Header): boolean {
  return (h.flags & IPV4_FLAG_MF) !== 0 || h.fragmentOffset !== 0;
}

/**
 * Parses the header at `bytes[offset]` with `length` bytes available (the rest of
 * the frame, possibly including link padding). With `requireWholeDatagram` (the
 * default) a total length beyond the available bytes is 'truncated'; pass false to
 * read the header of a cut datagram, such as the one quoted in an ICMP error.
 */
export function parseIpv4(
  bytes: Uint8Array, offset: number, length: number, requireWholeDatagram = true,
): ParseResult<Ipv4Header> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < IPV4_MIN_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  const b0 = bytes[o]!;
  if (b0 >>> 4 !== 4) return parseFailure('bad-version');
  const hl = (b0 & 0x0f) * 4;
  if (hl < IPV4_MIN_HEADER_LENGTH) return parseFailure('bad-ihl');
  if (hl > length) return parseFailure('truncated');
  const totalLength = (bytes[o + 2]! << 8) | bytes[o + 3]!;
  if (totalLength < hl) return parseFailure('bad-total-length');
  if (requireWholeDatagram && totalLength > length) return parseFailure('truncated');
  const b1 = bytes[o + 1]!;
  const frag = (bytes[o + 6]! << 8) | bytes[o + 7]!;
  return parseSuccess<Ipv4Header>(
    {
      dscp: b1 >>> 2,
      ecn: b1 & 3,
      totalLength,
      identification: (bytes[o + 4]! << 8) | bytes[o + 5]!,
      flags: frag >>> 13,
      fragmentOffset: (frag & 0x1fff) * 8,
      ttl: bytes[o + 8]!,
      protocol: bytes[o + 9]!,
      checksum: (bytes[o + 10]! << 8) | bytes[o + 11]!,
      src: readIp4(bytes, o + 12),
      dst: readIp4(bytes, o + 16),
      options: hl === IPV4_MIN_HEADER_LENGTH ? EMPTY_BYTES : bytes.subarray(o + 20, o + hl),
    },
    hl,
  );
}

/** Whether the header checksum verifies; `headerLength` as returned by `parseIpv4`. */
export function ipv4ChecksumOk(bytes: Uint8Array, offset: number, headerLength: number): boolean {
  return checksumVerifies(bytes, offset, headerLength);
}

/** The checksum the header at `offset` should carry (its own checksum field is ignored). */
export function computeIpv4Checksum(bytes: Uint8Array, offset: number, headerLength: number): number {
  const before = onesComplementSum(bytes, offset, 10);
  return internetChecksum(bytes, offset + 12, headerLength - 12, before);
}

/** Recomputes and stores the checksum of the header at `offset` (length from its IHL). */
export function setIpv4Checksum(bytes: Uint8Array, offset: number): number {
  const hl = (bytes[offset]! & 0x0f) * 4;
  bytes[offset + 10] = 0;
  bytes[offset + 11] = 0;
  const c = internetChecksum(bytes, offset, hl);
  bytes[offset + 10] = c >>> 8;
  bytes[offset + 11] = c;
  return c;
}

function checkEncodable(h: Ipv4Header): number {
  const n = h.options.length;
  if (n % 4 !== 0 || n > IPV4_MAX_HEADER_LENGTH - IPV4_MIN_HEADER_LENGTH) {
    throw new BufferError(`IPv4 options must be a multiple of 4 bytes, at most 40 (got ${n})`);
  }
  if (h.fragmentOffset % 8 !== 0 || h.fragmentOffset < 0 || h.fragmentOffset > 0x1fff * 8) {
    throw new BufferError(`IPv4 fragment offset ${h.fragmentOffset} is not a multiple of 8 below 65536`);
  }
  return IPV4_MIN_HEADER_LENGTH + n;
}

/** Writes every field of `h` verbatim at `bytes[offset]`, checksum included; returns the header length. */
export function encodeIpv4Header(bytes: Uint8Array, offset: number, h: Ipv4Header): number {
  const hl = checkEncodable(h);
  const o = offset;
  bytes[o] = 0x40 | (hl >>> 2);
  bytes[o + 1] = (h.dscp << 2) | (h.ecn & 3);
  bytes[o + 2] = h.totalLength >>> 8;
  bytes[o + 3] = h.totalLength;
  bytes[o + 4] = h.identification >>> 8;
  bytes[o + 5] = h.identification;
  const frag = ((h.flags & 7) << 13) | (h.fragmentOffset >>> 3);
  bytes[o + 6] = frag >>> 8;
  bytes[o + 7] = frag;
  bytes[o + 8] = h.ttl;
  bytes[o + 9] = h.protocol;
  bytes[o + 10] = h.checksum >>> 8;
  bytes[o + 11] = h.checksum;
  writeIp4(bytes, o + 12, h.src);
  writeIp4(bytes, o + 16, h.dst);
  if (hl > IPV4_MIN_HEADER_LENGTH) bytes.set(h.options, o + 20);
  return hl;
}

/**
 * Prepends the header in front of the buffer's data (the IP payload). The total
 * length and checksum are computed; `h.totalLength` and `h.checksum` are ignored.
 * Returns the new start.
 */
export function writeIpv4Header(buf: PacketBuffer, h: Ipv4Header): number {
  const hl = checkEncodable(h);
  const totalLength = hl + buf.length;
  if (totalLength > 0xffff) throw new BufferError(`IPv4 datagram of ${totalLength} bytes exceeds 65535`);
  const start = buf.prepend(hl);
  const bytes = buf.bytes;
  encodeIpv4Header(bytes, start, h);
  bytes[start + 2] = totalLength >>> 8;
  bytes[start + 3] = totalLength;
  setIpv4Checksum(bytes, start);
  return start;
}

/** Header (verbatim, including `totalLength` and `checksum`) followed by `payload`. */
export function emitIpv4(h: Ipv4Header, payload: Uint8Array = EMPTY_BYTES): Uint8Array {
  const hl = checkEncodable(h);
  const out = new Uint8Array(hl + payload.length);
  encodeIpv4Header(out, 0, h);
  out.set(payload, hl);
  return out;
}
