/**
 * UDP header (RFC 768). The checksum covers a pseudo-header (addresses, protocol,
 * UDP length), the header and the data; a zero checksum means the sender computed
 * none, and a computed zero is sent as 0xffff.
 */

import type { Ip4 } from './addr.js';
import { BufferError, EMPTY_BYTES, inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';
import { finishChecksum, onesComplementSum, pseudoHeaderSum } from './checksum.js';
import { IP_PROTO_UDP } from './ipv4.js';

export const UDP_HEADER_LENGTH = 8;

export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** Header plus data, in bytes, as written in the header. */
  length: number;
  /** 0 when the sender computed none. */
  checksum: number;
}

/**
 * Parses the header at `bytes[offset]`; `length` is the IP payload length. The data
 * is `header.length - 8` bytes after the header (anything beyond is not UDP's).
 */
export function parseUdp(bytes: Uint8Array, offset: number, length: number): ParseResult<UdpHeader> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < UDP_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  const udpLength = (bytes[o + 4]! << 8) | bytes[o + 5]!;
  if (udpLength < UDP_HEADER_LENGTH) return parseFailure('bad-length');
  if (udpLength > length) return parseFailure('truncated');
  return parseSuccess(
    {
      srcPort: (bytes[o]! << 8) | bytes[o + 1]!,
      dstPort: (bytes[o + 2]! << 8) | bytes[o + 3]!,
      length: udpLength,
      checksum: (bytes[o + 6]! << 8) | bytes[o + 7]!,
    },
    UDP_HEADER_LENGTH,
  );
}

/** The checksum field value for the datagram at `offset` (its own checksum field is ignored). */
export function computeUdpChecksum(bytes: Uint8Array, offset: number, length: number, src: Ip4, dst: Ip4): number {
  let s = pseudoHeaderSum(src, dst, IP_PROTO_UDP, length);
  s = onesComplementSum(bytes, offset, 6, s);
  s = onesComplementSum(bytes, offset + 8, length - 8, s);
  const c = finishChecksum(s);
  return c === 0 ? 0xffff : c;
}

/**
 * Whether the datagram at `offset` (`length` = UDP length) passes its checksum.
 * True as well when the checksum field is 0 (none was computed); check
 * `header.checksum === 0` to tell the two apart.
 */
export function udpChecksumOk(bytes: Uint8Array, offset: number, length: number, src: Ip4, dst: Ip4): boolean {
  if (bytes[offset + 6] === 0 && bytes[offset + 7] === 0) return true;
  return onesComplementSum(bytes, offset, length, pseudoHeaderSum(src, dst, IP_PROTO_UDP, length)) === 0xffff;
}

export function encodeUdpHeader(bytes: Uint8Array, offset: number, h: UdpHeader): number {
  const o = offset;
  bytes[o] = h.srcPort >>> 8;
  bytes[o + 1] = h.srcPort;
  bytes[o + 2] = h.dstPort >>> 8;
  bytes[o + 3] = h.dstPort;
  bytes[o + 4] = h.length >>> 8;
  bytes[o + 5] = h.length;
  bytes[o + 6] = h.checksum >>> 8;
  bytes[o + 7] = h.checksum;
  return UDP_HEADER_LENGTH;
}

/**
 * Prepends the header in front of the buffer's data. Length is computed; the
 * checksum is computed over the pseudo-header when `computeChecksum` (default),
 * else written as 0. `h.length` and `h.checksum` are ignored. Returns the new start.
 */
export function writeUdpHeader(buf: PacketBuffer, h: UdpHeader, src: Ip4, dst: Ip4, computeChecksum = true): number {
  const length = UDP_HEADER_LENGTH + buf.length;
  if (length > 0xffff) throw new BufferError(`UDP datagram of ${length} bytes exceeds 65535`);
  const start = buf.prepend(UDP_HEADER_LENGTH);
  const bytes = buf.bytes;
  encodeUdpHeader(bytes, start, { srcPort: h.srcPort, dstPort: h.dstPort, length, checksum: 0 });
  if (computeChecksum) {
    const c = computeUdpChecksum(bytes, start, length, src, dst);
    bytes[start + 6] = c >>> 8;
    bytes[start + 7] = c;
  }
  return start;
}

/** Header (every field verbatim) followed by `payload`. */
export function emitUdp(h: UdpHeader, payload: Uint8Array = EMPTY_BYTES): Uint8Array {
  const out = new Uint8Array(UDP_HEADER_LENGTH + payload.length);
  encodeUdpHeader(out, 0, h);
  out.set(payload, UDP_HEADER_LENGTH);
  return out;
}

/** Recomputes and stores the checksum of the datagram at `offset`. */
export function setUdpChecksum(bytes: Uint8Array, offset: number, length: number, src: Ip4, dst: Ip4): number {
  const c = computeUdpChecksum(bytes, offset, length, src, dst);
  bytes[offset + 6] = c >>> 8;
  bytes[offset + 7] = c;
  return c;
}
