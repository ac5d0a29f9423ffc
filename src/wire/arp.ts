/**
 * ARP (RFC 826) for Ethernet hardware and IPv4 protocol addresses: the only
 * combination the stack speaks. Other hardware/protocol pairs parse as failures,
 * so the fixed fields need not be kept in the record.
 *
 *   0 htype=1  2 ptype=0x0800  4 hlen=6  5 plen=4  6 op
 *   8 sender MAC  14 sender IP  18 target MAC  24 target IP   (28 bytes)
 */

import { readIp4, readMac, writeIp4, writeMac, type Ip4, type Mac } from './addr.js';
import { inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';

export const ARP_LENGTH = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

const HTYPE_ETHERNET = 1;
const PTYPE_IPV4 = 0x0800;

export interface ArpPacket {
  /** ARP_REQUEST, ARP_REPLY, or another opcode (kept as is). */
  operation: number;
  senderMac: Mac;
  senderIp: Ip4;
  targetMac: Mac;
  targetIp: Ip4;
}

export function parseArp(bytes: Uint8Array, offset: number, length: number): ParseResult<ArpPacket> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < 8) return parseFailure('truncated');
  const o = offset;
  if (((bytes[o]! << 8) | bytes[o + 1]!) !== HTYPE_ETHERNET) return parseFailure('unsupported-hardware');
  if (((bytes[o + 2]! << 8) | bytes[o + 3]!) !== PTYPE_IPV4) return parseFailure('unsupported-protocol');
  if (bytes[o + 4] !== 6 || bytes[o + 5] !== 4) return parseFailure('bad-address-length');
  if (length < ARP_LENGTH) return parseFailure('truncated');
  return parseSuccess(
    {
      operation: (bytes[o + 6]! << 8) | bytes[o + 7]!,
      senderMac: readMac(bytes, o + 8),
      senderIp: readIp4(bytes, o + 14),
      targetMac: readMac(bytes, o + 18),
      targetIp: readIp4(bytes, o + 24),
    },
    ARP_LENGTH,
  );
}

export function encodeArp(bytes: Uint8Array, offset: number, p: ArpPacket): number {
  const o = offset;
  bytes[o] = 0;
  bytes[o + 1] = HTYPE_ETHERNET;
  bytes[o + 2] = PTYPE_IPV4 >>> 8;
  bytes[o + 3] = PTYPE_IPV4 & 0xff;
  bytes[o + 4] = 6;
  bytes[o + 5] = 4;
  bytes[o + 6] = p.operation >>> 8;
  bytes[o + 7] = p.operation;
  writeMac(bytes, o + 8, p.senderMac);
  writeIp4(bytes, o + 14, p.senderIp);
  writeMac(bytes, o + 18, p.targetMac);
  writeIp4(bytes, o + 24, p.targetIp);
  return ARP_LENGTH;
}

/** Prepends the ARP packet in front of the buffer's data (normally empty); returns the new start. */
export function writeArp(buf: PacketBuffer, p: ArpPacket): number {
  const start = buf.prepend(ARP_LENGTH);
  encodeArp(buf.bytes, start, p);
  return start;
}

/** Alias of `writeArp`, named like the other formats' writers. */
export const writeArpHeader = writeArp;

export function emitArp(p: ArpPacket): Uint8Array {
  const out = new Uint8Array(ARP_LENGTH);
  encodeArp(out, 0, p);
  return out;
}
