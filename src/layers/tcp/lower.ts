/**
 * The part of the network layer that TCP uses, as an interface: the real `Ip`
 * (family 4) and `Ipv6` (family 6) modules satisfy it, and so does a test
 * double, so TCP can be exercised over any substrate that delivers datagrams.
 * TCP is built over one lower per family; what differs between the families
 * (the pseudo-header, the header overhead, the default MSS) is said here.
 */
import { checksumVerifies, internetChecksum } from '../../wire/checksum.js';
import { IP_PROTO_TCP } from '../../wire/ipv4.js';
import { familyOf, netHeaderLength, transportPseudoSum, type Family, type IpAddress, type NetLower } from '../net.js';

export type { NetPacket, NetSlots, NetSendOptions, NetSendResult } from '../net.js';

/**
 * NetLower without what TCP never asks for (`unreachable`: TCP answers with
 * RST), and with `family` optional: a lower written for IPv4 alone before there
 * were two families (a benchmark's or a structure's stand-in) is taken for
 * the family of its address.
 */
export type TcpLower = Omit<NetLower, 'family' | 'unreachable'> & { readonly family?: Family };

/** The family of a lower. */
export function lowerFamily(l: TcpLower): Family {
  return l.family ?? familyOf(l.address);
}

/** The MSS assumed when a SYN carries none (RFC 9293 3.7.1, RFC 8200 8.3: IPv6 minimum MTU - 60). */
export function defaultMss(family: Family): number {
  return family === 4 ? 536 : 1220;
}

/** The MSS a path MTU allows: MTU minus the network and TCP headers, within the 16-bit option. */
export function mssForMtu(family: Family, mtu: number): number {
  return Math.max(64, Math.min(65_495, mtu - netHeaderLength(family) - 20));
}

/** Whether the segment at `off` (`len` = header + payload) passes its checksum, for either family. */
export function segmentChecksumOk(bytes: Uint8Array, off: number, len: number, src: IpAddress, dst: IpAddress): boolean {
  return checksumVerifies(bytes, off, len, transportPseudoSum(src, dst, IP_PROTO_TCP, len));
}

/** Computes and stores the checksum of a segment whose checksum field is zero. */
export function setSegmentChecksum(bytes: Uint8Array, off: number, len: number, src: IpAddress, dst: IpAddress): void {
  const sum = internetChecksum(bytes, off, len, transportPseudoSum(src, dst, IP_PROTO_TCP, len));
  bytes[off + 16] = sum >>> 8;
  bytes[off + 17] = sum;
}
