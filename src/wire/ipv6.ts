/**
 * IPv6 fixed header (RFC 8200 §3) and the pseudo-header sum upper layers put in
 * their checksums (RFC 8200 §8.1). Extension headers are in ipv6ext.ts.
 *
 * Parsing checks structure only. A payload length of 0 is accepted when a
 * hop-by-hop header follows, since that is how a jumbogram (RFC 2675) or a
 * "BIG TCP" packet says the length comes from the frame; `ipv6PayloadLength`
 * gives the length to use.
 */

import { readIp6, writeIp6, type Ip6 } from './addr6.js';
import { BufferError, EMPTY_BYTES, inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';
import { foldSum, onesComplementSum } from './checksum.js';

export const IPV6_HEADER_LENGTH = 40;
/** The smallest link MTU IPv6 allows (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;

/** Next-header values. */
export const IP_PROTO_HOPOPTS = 0;
export const IP_PROTO_IPV6_ROUTE = 43;
export const IP_PROTO_IPV6_FRAG = 44;
export const IP_PROTO_ESP = 50;
export const IP_PROTO_AH = 51;
export const IP_PROTO_ICMPV6 = 58;
export const IP_PROTO_IPV6_NONXT = 59;
export const IP_PROTO_IPV6_DSTOPTS = 60;

export type Ipv6FailureReason = 'out-of-bounds' | 'truncated' | 'bad-version' | 'bad-payload-length';

export interface Ipv6Header {
  /** Traffic class (8 bits: DSCP << 2 | ECN). */
  trafficClass: number;
  /** Flow label (20 bits). */
  flowLabel: number;
  /** Bytes after the fixed header, as written (0 for a jumbogram). */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: Ip6;
  dst: Ip6;
}

/**
 * Parses the fixed header at `bytes[offset]` with `length` bytes available. With
 * `requireWholeDatagram` (the default) a payload length beyond the available
 * bytes is 'truncated'; pass false for the cut datagram quoted in an ICMPv6 error.
 */
export function parseIpv6(
  bytes: Uint8Array, offset: number, length: number, requireWholeDatagram = true,
): ParseResult<Ipv6Header> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < IPV6_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  const b0 = bytes[o]!;
  if (b0 >>> 4 !== 6) return parseFailure('bad-version');
  const b1 = bytes[o + 1]!;
  const payloadLength = (bytes[o + 4]! << 8) | bytes[o + 5]!;
  const nextHeader = bytes[o + 6]!;
  if (payloadLength === 0 && nextHeader === IP_PROTO_HOPOPTS) {
    // Jumbogram: the hop-by-hop header carries (or the frame gives) the length.
  } else if (requireWholeDatagram && IPV6_HEADER_LENGTH + payloadLength > length) {
    return parseFailure('truncated');
  }
  return parseSuccess<Ipv6Header>(
    {
      trafficClass: ((b0 & 0x0f) << 4) | (b1 >>> 4),
      flowLabel: ((b1 & 0x0f) << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!,
      payloadLength,
      nextHeader,
      hopLimit: bytes[o + 7]!,
      src: readIp6(bytes, o + 8),
      dst: readIp6(bytes, o + 24),
    },
    IPV6_HEADER_LENGTH,
  );
}

/**
 * Payload bytes to use: the header's payload length, or for a jumbogram (0 with
 * hop-by-hop) everything the frame holds after the fixed header.
 */
export function ipv6PayloadLength(h: Ipv6Header, available: number): number {
  if (h.payloadLength === 0 && h.nextHeader === IP_PROTO_HOPOPTS) return Math.max(0, available - IPV6_HEADER_LENGTH);
  return h.payloadLength;
}

/**
 * Folded sum of the IPv6 pseudo-header (source, destination, upper-layer length
 * as 32 bits, next header) that TCP, UDP and ICMPv6 add to their checksum. The
 * addresses are the packet's own, except that with a routing header the
 * destination is the final one.
 */
export function ipv6PseudoHeaderSum(src: Ip6, dst: Ip6, nextHeader: number, upperLength: number): number {
  let s = onesComplementSum(src, 0, 16) + onesComplementSum(dst, 0, 16);
  s += ((upperLength / 0x10000) & 0xffff) + (upperLength & 0xffff) + (nextHeader & 0xff);
  return foldSum(s);
}

/** Writes every field of `h` verbatim at `bytes[offset]`; returns 40. */
export function encodeIpv6Header(bytes: Uint8Array, offset: number, h: Ipv6Header): number {
  const o = offset;
  bytes[o] = 0x60 | ((h.trafficClass >>> 4) & 0x0f);
  bytes[o + 1] = ((h.trafficClass & 0x0f) << 4) | ((h.flowLabel >>> 16) & 0x0f);
  bytes[o + 2] = h.flowLabel >>> 8;
  bytes[o + 3] = h.flowLabel;
  bytes[o + 4] = h.payloadLength >>> 8;
  bytes[o + 5] = h.payloadLength;
  bytes[o + 6] = h.nextHeader;
  bytes[o + 7] = h.hopLimit;
  writeIp6(bytes, o + 8, h.src);
  writeIp6(bytes, o + 24, h.dst);
  return IPV6_HEADER_LENGTH;
}

/**
 * Prepends the fixed header in front of the buffer's data (extension headers and
 * upper layer); the payload length is computed, `h.payloadLength` ignored. Returns the new start.
 */
export function writeIpv6Header(buf: PacketBuffer, h: Ipv6Header): number {
  const payloadLength = buf.length;
  if (payloadLength > 0xffff) throw new BufferError(`IPv6 payload of ${payloadLength} bytes needs a jumbogram`);
  const start = buf.prepend(IPV6_HEADER_LENGTH);
  encodeIpv6Header(buf.bytes, start, h);
  buf.bytes[start + 4] = payloadLength >>> 8;
  buf.bytes[start + 5] = payloadLength;
  return start;
}

/** Header (verbatim, payload length included) followed by `payload`. */
export function emitIpv6(h: Ipv6Header, payload: Uint8Array = EMPTY_BYTES): Uint8Array {
  const out = new Uint8Array(IPV6_HEADER_LENGTH + payload.length);
  encodeIpv6Header(out, 0, h);
  out.set(payload, IPV6_HEADER_LENGTH);
  return out;
}
