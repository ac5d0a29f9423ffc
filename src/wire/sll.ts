/**
 * Linux "cooked" capture header (SLL, LINKTYPE_LINUX_SLL = 113), what tcpdump
 * writes for `-i any`: 16 bytes in place of a link-layer header.
 *
 *   0  packet type (to us, broadcast, multicast, to someone else, sent by us)
 *   2  ARPHRD_ device type
 *   4  link-layer address length
 *   6  link-layer address, 8 bytes, zero-padded (or cut) to 8
 *   14 protocol: an ethertype for Ethernet-like devices
 */

import { readMac, type Mac } from './addr.js';
import { inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';

export const SLL_HEADER_LENGTH = 16;

export const SLL_HOST = 0;
export const SLL_BROADCAST = 1;
export const SLL_MULTICAST = 2;
export const SLL_OTHERHOST = 3;
export const SLL_OUTGOING = 4;

export const ARPHRD_ETHER = 1;
export const ARPHRD_LOOPBACK = 772;

export interface SllHeader {
  packetType: number;
  arphrdType: number;
  /** The address length as recorded (may exceed 8; only 8 bytes are kept). */
  addressLength: number;
  /** The whole 8-byte address field, padding included. */
  address: Uint8Array;
  /** Payload protocol; an ethertype for Ethernet-like devices. */
  protocol: number;
}

export function parseSll(bytes: Uint8Array, offset: number, length: number): ParseResult<SllHeader> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < SLL_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  return parseSuccess(
    {
      packetType: (bytes[o]! << 8) | bytes[o + 1]!,
      arphrdType: (bytes[o + 2]! << 8) | bytes[o + 3]!,
      addressLength: (bytes[o + 4]! << 8) | bytes[o + 5]!,
      address: bytes.subarray(o + 6, o + 14),
      protocol: (bytes[o + 14]! << 8) | bytes[o + 15]!,
    },
    SLL_HEADER_LENGTH,
  );
}

/** The sender's MAC when the device is Ethernet-like with a 6-byte address. */
export function sllSourceMac(h: SllHeader): Mac | undefined {
  return h.addressLength === 6 && h.address.length >= 6 ? readMac(h.address, 0) : undefined;
}

export function encodeSllHeader(bytes: Uint8Array, offset: number, h: SllHeader): number {
  const o = offset;
  bytes[o] = h.packetType >>> 8;
  bytes[o + 1] = h.packetType;
  bytes[o + 2] = h.arphrdType >>> 8;
  bytes[o + 3] = h.arphrdType;
  bytes[o + 4] = h.addressLength >>> 8;
  bytes[o + 5] = h.addressLength;
  const n = Math.min(8, h.address.length);
  bytes.set(h.address.subarray(0, n), o + 6);
  bytes.fill(0, o + 6 + n, o + 14);
  bytes[o + 14] = h.protocol >>> 8;
  bytes[o + 15] = h.protocol;
  return SLL_HEADER_LENGTH;
}

export function writeSllHeader(buf: PacketBuffer, h: SllHeader): number {
  const start = buf.prepend(SLL_HEADER_LENGTH);
  encodeSllHeader(buf.bytes, start, h);
  return start;
}

export function emitSll(h: SllHeader, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(SLL_HEADER_LENGTH + payload.length);
  encodeSllHeader(out, 0, h);
  out.set(payload, SLL_HEADER_LENGTH);
  return out;
}
