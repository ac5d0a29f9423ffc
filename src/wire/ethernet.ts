/**
 * Ethernet II frame header (no preamble, no FCS), with any number of 802.1Q /
 * 802.1ad VLAN tags. Tags are stepped over on parse so `ethertype` is the payload's
 * protocol, but kept in the record so emit reproduces the frame.
 *
 * A type/length field below 0x0600 is an IEEE 802.3 length, not an ethertype; the
 * parser reports it unchanged in `ethertype` and the caller decides (see
 * `isEthertype`).
 */

import { readMac, writeMac, type Mac } from './addr.js';
import { inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_QINQ_OLD = 0x9100;
/** PPPoE discovery and session stages (RFC 2516); only sessions carry IP. */
export const ETHERTYPE_PPPOE_DISCOVERY = 0x8863;
export const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** Smallest value of the type/length field that is an ethertype. */
export const ETHERTYPE_MIN = 0x0600;

export const ETHERNET_HEADER_LENGTH = 14;
export const VLAN_TAG_LENGTH = 4;
/** Minimum frame length without FCS; shorter frames are padded by the sender. */
export const ETHERNET_MIN_FRAME = 60;

export interface VlanTag {
  /** The tag protocol identifier that introduced this tag (0x8100, 0x88a8, 0x9100). */
  tpid: number;
  /** Tag control information: priority (3 bits), DEI (1), VLAN id (12). */
  tci: number;
}

export interface EthernetHeader {
  dst: Mac;
  src: Mac;
  /** VLAN tags in wire order (outermost first); empty when untagged. */
  vlans: readonly VlanTag[];
  /** Protocol of the payload (after the tags), or an 802.3 length when below 0x0600. */
  ethertype: number;
}

const NO_VLANS: readonly VlanTag[] = Object.freeze([]);
/** At most this many stacked tags are stepped over; more is treated as malformed. */
const MAX_VLAN_TAGS = 8;

export function isVlanTpid(type: number): boolean {
  return type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD;
}

/** Whether the type/length field is an ethertype (Ethernet II) rather than an 802.3 length. */
export function isEthertype(type: number): boolean {
  return type >= ETHERTYPE_MIN;
}

export function vlanId(tag: VlanTag): number {
  return tag.tci & 0x0fff;
}

export function vlanPriority(tag: VlanTag): number {
  return tag.tci >>> 13;
}

export function ethernetHeaderLength(h: EthernetHeader): number {
  return ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH * h.vlans.length;
}

/** Parses the header at `bytes[offset]`; `length` is the bytes available from there. */
export function parseEthernet(bytes: Uint8Array, offset: number, length: number): ParseResult<EthernetHeader> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < ETHERNET_HEADER_LENGTH) return parseFailure('truncated');
  const dst = readMac(bytes, offset);
  const src = readMac(bytes, offset + 6);
  let p = offset + 12;
  let type = (bytes[p]! << 8) | bytes[p + 1]!;
  let vlans = NO_VLANS;
  if (isVlanTpid(type)) {
    const tags: VlanTag[] = [];
    while (isVlanTpid(type)) {
      if (tags.length === MAX_VLAN_TAGS) return parseFailure('too-many-vlan-tags');
      if (p + 6 > offset + length) return parseFailure('truncated');
      tags.push({ tpid: type, tci: (bytes[p + 2]! << 8) | bytes[p + 3]! });
      p += 4;
      type = (bytes[p]! << 8) | bytes[p + 1]!;
    }
    vlans = tags;
  }
  return parseSuccess({ dst, src, vlans, ethertype: type }, p + 2 - offset);
}

/** PPPoE header (version/type, code, session id, payload length) before the PPP protocol field. */
export const PPPOE_HEADER_LENGTH = 6;
export const PPP_PROTOCOL_IPV4 = 0x0021;
export const PPP_PROTOCOL_IPV6 = 0x0057;

/**
 * What a PPPoE session frame carries: the ethertype its PPP protocol maps to
 * (IPv4 or IPv6; -1 for anything else: LCP, IPCP...), the PPPoE and PPP header
 * bytes to step over, and the payload length the PPPoE header declares (it
 * excludes Ethernet padding).
 */
export interface PppoeSession {
  ethertype: number;
  headerLength: number;
  /** Payload bytes after the PPP protocol field, as the PPPoE length says. */
  payloadLength: number;
  pppProtocol: number;
}

/**
 * Parses a PPPoE session header and its PPP protocol field at `bytes[offset]`
 * into `out` (reused by the caller); returns a failure reason or null. An odd
 * first protocol byte is a compressed one-byte protocol (RFC 1661 PFC).
 */
export function parsePppoeSession(bytes: Uint8Array, offset: number, length: number, out: PppoeSession): string | null {
  if (length < PPPOE_HEADER_LENGTH + 1) return 'truncated';
  if (bytes[offset] !== 0x11) return 'bad-pppoe-version';
  if (bytes[offset + 1] !== 0) return 'pppoe-not-session-data';
  const declared = (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  const p = offset + PPPOE_HEADER_LENGTH;
  let proto: number;
  let protoLength: number;
  if ((bytes[p]! & 1) === 1) {
    proto = bytes[p]!;
    protoLength = 1;
  } else {
    if (length < PPPOE_HEADER_LENGTH + 2) return 'truncated';
    proto = (bytes[p]! << 8) | bytes[p + 1]!;
    protoLength = 2;
  }
  if (declared < protoLength) return 'bad-pppoe-length';
  out.pppProtocol = proto;
  out.ethertype = proto === PPP_PROTOCOL_IPV4 ? ETHERTYPE_IPV4 : proto === PPP_PROTOCOL_IPV6 ? ETHERTYPE_IPV6 : -1;
  out.headerLength = PPPOE_HEADER_LENGTH + protoLength;
  out.payloadLength = declared - protoLength;
  return null;
}

/** Writes the header at `bytes[offset]` (room already checked); returns its length. */
export function encodeEthernetHeader(bytes: Uint8Array, offset: number, h: EthernetHeader): number {
  writeMac(bytes, offset, h.dst);
  writeMac(bytes, offset + 6, h.src);
  let p = offset + 12;
  for (const tag of h.vlans) {
    bytes[p] = tag.tpid >>> 8;
    bytes[p + 1] = tag.tpid;
    bytes[p + 2] = tag.tci >>> 8;
    bytes[p + 3] = tag.tci;
    p += 4;
  }
  bytes[p] = h.ethertype >>> 8;
  bytes[p + 1] = h.ethertype;
  return p + 2 - offset;
}

/** Prepends the header in front of the buffer's data; returns the new start. */
export function writeEthernetHeader(buf: PacketBuffer, h: EthernetHeader): number {
  const start = buf.prepend(ethernetHeaderLength(h));
  encodeEthernetHeader(buf.bytes, start, h);
  return start;
}

/** The header followed by `payload`, as a new array (tests, round trips). */
export function emitEthernet(h: EthernetHeader, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const hl = ethernetHeaderLength(h);
  const out = new Uint8Array(hl + payload.length);
  encodeEthernetHeader(out, 0, h);
  out.set(payload, hl);
  return out;
}
