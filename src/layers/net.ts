/**
 * What a transport (TCP, UDP) needs of a network layer, whichever the family.
 *
 * The IPv4 module (`Ip`) and the IPv6 module (`Ipv6`) both offer this shape, so
 * TCP and UDP run over either through one code path: the address family and the
 * pseudo-header are the only difference. An `IpAddress` is an `Ip4` (a number)
 * or an `Ip6` (16 bytes); `familyOf` tells them apart without a tag.
 */
import type { Binding, Module } from '../core/index.js';
import { formatIp4, tryParseIp4, type Ip4 } from '../wire/addr.js';
import { formatIp6, ip6Copy, ip6Equal, tryParseIp6, type Ip6 } from '../wire/addr6.js';
import type { PacketBuffer } from '../wire/buffer.js';
import { pseudoHeaderSum } from '../wire/checksum.js';
import { ipv6PseudoHeaderSum } from '../wire/ipv6.js';

export type IpAddress = Ip4 | Ip6;
export type Family = 4 | 6;

export function familyOf(a: IpAddress): Family {
  return typeof a === 'number' ? 4 : 6;
}

export function formatIp(a: IpAddress): string {
  return typeof a === 'number' ? formatIp4(a) : formatIp6(a);
}

/** Either family's text form; undefined when it is neither. */
export function tryParseIp(text: string): IpAddress | undefined {
  return tryParseIp4(text) ?? tryParseIp6(text);
}

export function ipEqual(a: IpAddress, b: IpAddress): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  return ip6Equal(a, b);
}

/** An address a record may keep beyond the packet it was read from. */
export function ipOwned(a: IpAddress): IpAddress {
  return typeof a === 'number' ? a : ip6Copy(a);
}

/** Folded pseudo-header sum for a transport checksum, for the family of the addresses (both of one family). */
export function transportPseudoSum(src: IpAddress, dst: IpAddress, protocol: number, length: number): number {
  if (typeof src === 'number' && typeof dst === 'number') return pseudoHeaderSum(src, dst, protocol, length);
  if (typeof src === 'number' || typeof dst === 'number') throw new TypeError('pseudo-header of mixed address families');
  return ipv6PseudoHeaderSum(src, dst, protocol, length);
}

/** Bytes of the network header a transport's segment size must leave room for (IPv4 without options, IPv6 without extensions). */
export function netHeaderLength(family: Family): number {
  return family === 4 ? 20 : 40;
}

/** The unspecified address of a family (0.0.0.0, ::). */
export function unspecifiedOf(family: Family): IpAddress {
  return family === 4 ? 0 : new Uint8Array(16);
}

/** Text for an address and port: `10.0.0.1:23`, `[fd00::1]:23`. */
export function formatEndpoint(a: IpAddress, port: number | string): string {
  return typeof a === 'number' ? `${formatIp4(a)}:${port}` : `[${formatIp6(a)}]:${port}`;
}

/** A datagram a network module hands to the transport bound to its protocol. Valid during the upcall only. */
export interface NetPacket {
  readonly src: IpAddress;
  readonly dst: IpAddress;
  /** The upper-layer protocol (IPv4 protocol, IPv6 final next header). */
  readonly protocol: number;
  /** IPv4 TTL or IPv6 hop limit. */
  readonly ttl: number;
  /** `buf.start` = first byte of the transport header, `buf.end` = its end. */
  readonly buf: PacketBuffer;
  readonly missing?: number;
}

export interface NetSlots {
  onPacket(pkt: NetPacket): void;
}

export type NetSendResult = 'sent' | 'queued' | 'no-route' | 'dropped';

export interface NetSendOptions {
  /** TTL / hop limit. */
  ttl?: number;
  /** IPv4 TOS byte / IPv6 traffic class. */
  tos?: number;
  /** Don't fragment (IPv6 never fragments in transit; its source does only when asked by this being false). */
  df?: boolean;
  src?: IpAddress;
}

/** The network layer as a transport sees it. `Ip` satisfies it for family 4, `Ipv6` for family 6. */
export interface NetLower {
  readonly family: Family;
  /** Primary local address. */
  readonly address: IpAddress;
  bindProtocol(protocol: number, owner: Module, handlers: Partial<NetSlots>): Binding<NetSlots>;
  /** Takes ownership of `buf` (transport segment at start..end, headroom in front). */
  send(dst: IpAddress, protocol: number, buf: PacketBuffer, opts?: NetSendOptions): NetSendResult;
  /** A buffer with headroom for every header below the transport and `payloadLength` bytes of data. */
  alloc(payloadLength: number, label?: string): PacketBuffer;
  sourceFor(dst: IpAddress): IpAddress | undefined;
  pathMtu(dst: IpAddress): number;
  /** Forward progress with `dst` (new data acknowledged): its next hop is reachable, the resolver need not probe it. */
  confirmReachable?(dst: IpAddress): void;
  /** Report a datagram no transport would take (ICMP / ICMPv6 answers port unreachable). `code` is the IPv4 ICMP code; IPv6 maps it. */
  unreachable(pkt: NetPacket, code: number): void;
}

/**
 * What an error report of the network layer (ICMP, ICMPv6) says about a
 * datagram we sent, in the same words for both families, for the transport
 * that sent it.
 */
export interface NetError {
  readonly kind: 'unreachable' | 'too-big' | 'time-exceeded' | 'parameter-problem';
  /** The destination itself refused (port or protocol unreachable): a hard error (RFC 1122 4.2.3.9). */
  readonly refused: boolean;
  /** Our address and the destination's, as the quoted datagram had them. */
  readonly src: IpAddress;
  readonly dst: IpAddress;
  /** The quoted datagram's transport protocol (-1 when the quote does not reach it). */
  readonly protocol: number;
  /** The quoted transport bytes (the first 8 at least, when the sender followed the RFCs). Valid during the call only. */
  readonly transport: Uint8Array;
  /** too-big: the MTU the path allows (IPv4's "fragmentation needed" may give 0: unknown); else 0. */
  readonly mtu: number;
}

