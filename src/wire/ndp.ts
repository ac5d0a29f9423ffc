/**
 * Neighbor Discovery messages (RFC 4861 §4) and options (§4.6): router
 * solicitation and advertisement, neighbor solicitation and advertisement,
 * redirect. A message is parsed from the whole ICMPv6 message (header
 * included) so type, code and checksum round-trip with the body.
 *
 * `ndpValidityProblem` is the list of checks of §6.1, §7.1 and §8.1 that every
 * receiver must make before it believes a message (hop limit 255 proves the
 * sender is on the link); the NDP module counts the reason and drops.
 */

import { readMac, writeMac, type Mac } from './addr.js';
import {
  ip6Equal, isIp6LinkLocal, isIp6Multicast, isIp6SolicitedNode, isIp6Unspecified, ip6SolicitedNode, readIp6,
  writeIp6, type Ip6,
} from './addr6.js';
import { BufferError, inBounds, parseFailure, parseSuccess, type PacketBuffer, type ParseResult } from './buffer.js';
import { ICMPV6_HEADER_LENGTH, icmpv6ChecksumOk, setIcmpv6Checksum } from './icmpv6.js';
import type { Ipv6Header } from './ipv6.js';

export const NDP_ROUTER_SOLICITATION = 133;
export const NDP_ROUTER_ADVERTISEMENT = 134;
export const NDP_NEIGHBOR_SOLICITATION = 135;
export const NDP_NEIGHBOR_ADVERTISEMENT = 136;
export const NDP_REDIRECT = 137;

export const NDP_OPT_SOURCE_LINK_LAYER = 1;
export const NDP_OPT_TARGET_LINK_LAYER = 2;
export const NDP_OPT_PREFIX_INFORMATION = 3;
export const NDP_OPT_REDIRECTED_HEADER = 4;
export const NDP_OPT_MTU = 5;

/** Neighbor advertisement flags as they appear in `flags` (the top bits of bytes 4..7). */
export const NDP_NA_ROUTER = 0x8000_0000;
export const NDP_NA_SOLICITED = 0x4000_0000;
export const NDP_NA_OVERRIDE = 0x2000_0000;

/** Router advertisement flag byte bits. */
export const NDP_RA_MANAGED = 0x80;
export const NDP_RA_OTHER = 0x40;

/** Prefix information flag byte bits. */
export const NDP_PREFIX_ON_LINK = 0x80;
export const NDP_PREFIX_AUTONOMOUS = 0x40;

/** The hop limit every NDP message is sent with and must arrive with. */
export const NDP_HOP_LIMIT = 255;

/**
 * A link-layer address option holding a 6-byte (Ethernet) address. The two kinds
 * are records of their own, so that `findNdpOption(options, 'source-link-layer')`
 * narrows to one of them (a shared record with a union `kind` extracts to never).
 */
export interface NdpSourceLinkLayerOption {
  kind: 'source-link-layer';
  mac: Mac;
}

export interface NdpTargetLinkLayerOption {
  kind: 'target-link-layer';
  mac: Mac;
}

export type NdpLinkLayerOption = NdpSourceLinkLayerOption | NdpTargetLinkLayerOption;

export interface NdpPrefixOption {
  kind: 'prefix';
  prefixLength: number;
  /** NDP_PREFIX_* bits and the 6 reserved ones. */
  flags: number;
  /** Seconds; 0xffffffff is infinity. */
  validLifetime: number;
  preferredLifetime: number;
  reserved: number;
  prefix: Ip6;
}

export interface NdpMtuOption {
  kind: 'mtu';
  reserved: number;
  mtu: number;
}

export interface NdpRedirectedHeaderOption {
  kind: 'redirected-header';
  /** The 6 reserved bytes as a 48-bit number. */
  reserved: number;
  /** As much of the redirected packet as fits. */
  data: Uint8Array;
}

/** Any other option, or a link-layer address that is not 6 bytes: kept as bytes. */
export interface NdpRawOption {
  kind: 'raw';
  type: number;
  /** The bytes after the type and length (length * 8 - 2 of them). */
  data: Uint8Array;
}

export type NdpOption = NdpLinkLayerOption | NdpPrefixOption | NdpMtuOption | NdpRedirectedHeaderOption | NdpRawOption;

interface NdpCommon {
  code: number;
  checksum: number;
  options: NdpOption[];
}

export interface RouterSolicitation extends NdpCommon {
  type: typeof NDP_ROUTER_SOLICITATION;
  reserved: number;
}

export interface RouterAdvertisement extends NdpCommon {
  type: typeof NDP_ROUTER_ADVERTISEMENT;
  curHopLimit: number;
  /** NDP_RA_* bits and the reserved ones. */
  flags: number;
  /** Seconds; 0 means "not a default router". */
  routerLifetime: number;
  /** Milliseconds; 0 means unspecified. */
  reachableTime: number;
  retransTimer: number;
}

export interface NeighborSolicitation extends NdpCommon {
  type: typeof NDP_NEIGHBOR_SOLICITATION;
  reserved: number;
  target: Ip6;
}

export interface NeighborAdvertisement extends NdpCommon {
  type: typeof NDP_NEIGHBOR_ADVERTISEMENT;
  /** Bytes 4..7: NDP_NA_* bits and the reserved ones. */
  flags: number;
  target: Ip6;
}

export interface Redirect extends NdpCommon {
  type: typeof NDP_REDIRECT;
  reserved: number;
  /** The better first hop (a link-local router address, or the destination itself when it is on link). */
  target: Ip6;
  destination: Ip6;
}

export type NdpMessage = RouterSolicitation | RouterAdvertisement | NeighborSolicitation | NeighborAdvertisement | Redirect;

/** The fixed part (ICMPv6 header included) before the options of each type. */
export function ndpFixedLength(type: number): number {
  switch (type) {
    case NDP_ROUTER_SOLICITATION: return 8;
    case NDP_ROUTER_ADVERTISEMENT: return 16;
    case NDP_NEIGHBOR_SOLICITATION:
    case NDP_NEIGHBOR_ADVERTISEMENT: return 24;
    case NDP_REDIRECT: return 40;
    default: return -1;
  }
}

export function isNdpType(type: number): boolean {
  return type >= NDP_ROUTER_SOLICITATION && type <= NDP_REDIRECT;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * Parses the options in `bytes[offset, offset+length)`. Failures: 'bad-option-length'
 * (a zero length, which RFC 4861 §4.6 says to drop the message for, or an option past
 * the end) and 'bad-option' (a prefix or MTU option of the wrong size).
 */
export function parseNdpOptions(bytes: Uint8Array, offset: number, length: number): ParseResult<NdpOption[]> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  const out: NdpOption[] = [];
  const end = offset + length;
  let p = offset;
  while (p < end) {
    if (p + 2 > end) return parseFailure('bad-option-length');
    const type = bytes[p]!;
    const n = bytes[p + 1]! * 8;
    if (n === 0 || p + n > end) return parseFailure('bad-option-length');
    if ((type === NDP_OPT_SOURCE_LINK_LAYER || type === NDP_OPT_TARGET_LINK_LAYER) && n === 8) {
      out.push({ kind: type === NDP_OPT_SOURCE_LINK_LAYER ? 'source-link-layer' : 'target-link-layer', mac: readMac(bytes, p + 2) });
    } else if (type === NDP_OPT_PREFIX_INFORMATION) {
      if (n !== 32) return parseFailure('bad-option');
      out.push({
        kind: 'prefix', prefixLength: bytes[p + 2]!, flags: bytes[p + 3]!, validLifetime: u32(bytes, p + 4),
        preferredLifetime: u32(bytes, p + 8), reserved: u32(bytes, p + 12), prefix: readIp6(bytes, p + 16),
      });
    } else if (type === NDP_OPT_MTU) {
      if (n !== 8) return parseFailure('bad-option');
      out.push({ kind: 'mtu', reserved: (bytes[p + 2]! << 8) | bytes[p + 3]!, mtu: u32(bytes, p + 4) });
    } else if (type === NDP_OPT_REDIRECTED_HEADER) {
      out.push({
        kind: 'redirected-header', reserved: ((bytes[p + 2]! << 8) | bytes[p + 3]!) * 0x1_0000_0000 + u32(bytes, p + 4),
        data: bytes.subarray(p + 8, p + n),
      });
    } else {
      out.push({ kind: 'raw', type, data: bytes.subarray(p + 2, p + n) });
    }
    p += n;
  }
  return parseSuccess(out, length);
}

/**
 * Parses the NDP message that is the ICMPv6 message at `bytes[offset]` (`length`
 * bytes, header included). Failures: 'out-of-bounds', 'not-ndp', 'truncated' (shorter
 * than its type's fixed part), and those of `parseNdpOptions`. The checksum and the
 * other §6.1/§7.1 checks are `ndpValidityProblem`'s.
 */
export function parseNdp(bytes: Uint8Array, offset: number, length: number): ParseResult<NdpMessage> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (length < ICMPV6_HEADER_LENGTH) return parseFailure('truncated');
  const o = offset;
  const type = bytes[o]!;
  const fixed = ndpFixedLength(type);
  if (fixed < 0) return parseFailure('not-ndp');
  if (length < fixed) return parseFailure('truncated');
  const opts = parseNdpOptions(bytes, o + fixed, length - fixed);
  if (!opts.ok) return opts;
  const code = bytes[o + 1]!;
  const checksum = (bytes[o + 2]! << 8) | bytes[o + 3]!;
  const options = opts.header;
  let m: NdpMessage;
  switch (type) {
    case NDP_ROUTER_SOLICITATION:
      m = { type, code, checksum, reserved: u32(bytes, o + 4), options };
      break;
    case NDP_ROUTER_ADVERTISEMENT:
      m = {
        type, code, checksum, curHopLimit: bytes[o + 4]!, flags: bytes[o + 5]!, routerLifetime: (bytes[o + 6]! << 8) | bytes[o + 7]!,
        reachableTime: u32(bytes, o + 8), retransTimer: u32(bytes, o + 12), options,
      };
      break;
    case NDP_NEIGHBOR_SOLICITATION:
      m = { type, code, checksum, reserved: u32(bytes, o + 4), target: readIp6(bytes, o + 8), options };
      break;
    case NDP_NEIGHBOR_ADVERTISEMENT:
      m = { type, code, checksum, flags: u32(bytes, o + 4), target: readIp6(bytes, o + 8), options };
      break;
    default:
      m = {
        type: NDP_REDIRECT, code, checksum, reserved: u32(bytes, o + 4), target: readIp6(bytes, o + 8),
        destination: readIp6(bytes, o + 24), options,
      };
  }
  return parseSuccess(m, length);
}

/** Bytes an option takes on the wire (a multiple of 8). */
export function ndpOptionLength(opt: NdpOption): number {
  switch (opt.kind) {
    case 'source-link-layer':
    case 'target-link-layer':
    case 'mtu': return 8;
    case 'prefix': return 32;
    case 'redirected-header': return roundUp8(8 + opt.data.length);
    default: {
      const n = 2 + opt.data.length;
      if (n % 8 !== 0 || n > 255 * 8) throw new BufferError(`NDP option of ${n} bytes is not a multiple of 8 up to 2040`);
      return n;
    }
  }
}

function roundUp8(n: number): number {
  const r = (n + 7) & ~7;
  if (r > 255 * 8) throw new BufferError(`NDP option of ${n} bytes exceeds 2040`);
  return r;
}

/** Writes one option at `offset` (padding zeroed); returns its length. */
export function encodeNdpOption(bytes: Uint8Array, offset: number, opt: NdpOption): number {
  const n = ndpOptionLength(opt);
  const o = offset;
  bytes.fill(0, o, o + n);
  bytes[o + 1] = n / 8;
  switch (opt.kind) {
    case 'source-link-layer':
    case 'target-link-layer':
      bytes[o] = opt.kind === 'source-link-layer' ? NDP_OPT_SOURCE_LINK_LAYER : NDP_OPT_TARGET_LINK_LAYER;
      writeMac(bytes, o + 2, opt.mac);
      break;
    case 'prefix':
      bytes[o] = NDP_OPT_PREFIX_INFORMATION;
      bytes[o + 2] = opt.prefixLength;
      bytes[o + 3] = opt.flags;
      put32(bytes, o + 4, opt.validLifetime);
      put32(bytes, o + 8, opt.preferredLifetime);
      put32(bytes, o + 12, opt.reserved);
      writeIp6(bytes, o + 16, opt.prefix);
      break;
    case 'mtu':
      bytes[o] = NDP_OPT_MTU;
      bytes[o + 2] = opt.reserved >>> 8;
      bytes[o + 3] = opt.reserved;
      put32(bytes, o + 4, opt.mtu);
      break;
    case 'redirected-header': {
      bytes[o] = NDP_OPT_REDIRECTED_HEADER;
      const hi = Math.floor(opt.reserved / 0x1_0000_0000);
      bytes[o + 2] = hi >>> 8;
      bytes[o + 3] = hi;
      put32(bytes, o + 4, opt.reserved % 0x1_0000_0000);
      bytes.set(opt.data, o + 8);
      break;
    }
    default:
      bytes[o] = opt.type;
      bytes.set(opt.data, o + 2);
  }
  return n;
}

/** Bytes the whole message takes (ICMPv6 header included). */
export function ndpMessageLength(m: NdpMessage): number {
  let n = ndpFixedLength(m.type);
  for (const opt of m.options) n += ndpOptionLength(opt);
  return n;
}

/** Writes the message verbatim (checksum included) at `offset`; returns its length. */
export function encodeNdp(bytes: Uint8Array, offset: number, m: NdpMessage): number {
  const o = offset;
  bytes[o] = m.type;
  bytes[o + 1] = m.code;
  bytes[o + 2] = m.checksum >>> 8;
  bytes[o + 3] = m.checksum;
  switch (m.type) {
    case NDP_ROUTER_SOLICITATION:
      put32(bytes, o + 4, m.reserved);
      break;
    case NDP_ROUTER_ADVERTISEMENT:
      bytes[o + 4] = m.curHopLimit;
      bytes[o + 5] = m.flags;
      bytes[o + 6] = m.routerLifetime >>> 8;
      bytes[o + 7] = m.routerLifetime;
      put32(bytes, o + 8, m.reachableTime);
      put32(bytes, o + 12, m.retransTimer);
      break;
    case NDP_NEIGHBOR_SOLICITATION:
      put32(bytes, o + 4, m.reserved);
      writeIp6(bytes, o + 8, m.target);
      break;
    case NDP_NEIGHBOR_ADVERTISEMENT:
      put32(bytes, o + 4, m.flags);
      writeIp6(bytes, o + 8, m.target);
      break;
    default:
      put32(bytes, o + 4, m.reserved);
      writeIp6(bytes, o + 8, m.target);
      writeIp6(bytes, o + 24, m.destination);
  }
  let p = o + ndpFixedLength(m.type);
  for (const opt of m.options) p += encodeNdpOption(bytes, p, opt);
  return p - o;
}

/** The message verbatim (checksum as in `m`). */
export function emitNdp(m: NdpMessage): Uint8Array {
  const out = new Uint8Array(ndpMessageLength(m));
  encodeNdp(out, 0, m);
  return out;
}

/**
 * Prepends the whole message in front of the buffer's data (normally empty) and
 * computes the checksum for `src` -> `dst`. Returns the new start.
 */
export function writeNdp(buf: PacketBuffer, m: NdpMessage, src: Ip6, dst: Ip6): number {
  const n = ndpMessageLength(m);
  const start = buf.prepend(n);
  encodeNdp(buf.bytes, start, m);
  setIcmpv6Checksum(buf.bytes, start, buf.end - start, src, dst);
  return start;
}

/** The first option of a kind, if any (e.g. the source link-layer address). */
export function findNdpOption<K extends NdpOption['kind']>(
  options: readonly NdpOption[], kind: K,
): Extract<NdpOption, { kind: K }> | undefined {
  for (const o of options) if (o.kind === kind) return o as Extract<NdpOption, { kind: K }>;
  return undefined;
}

/**
 * The RFC 4861 validity checks (§6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1) of message
 * `m`, parsed from the ICMPv6 bytes at `bytes[offset, offset+length)` carried in
 * the datagram with header `ip`. Returns the reason to drop it, or undefined when
 * the message may be believed. Parsing already refused zero-length options and
 * messages shorter than their type's fixed part.
 */
export function ndpValidityProblem(
  ip: Ipv6Header, bytes: Uint8Array, offset: number, length: number, m: NdpMessage,
): string | undefined {
  if (ip.hopLimit !== NDP_HOP_LIMIT) return 'bad-hop-limit';
  if (!icmpv6ChecksumOk(bytes, offset, length, ip.src, ip.dst)) return 'bad-checksum';
  if (m.code !== 0) return 'bad-code';
  const unspecified = isIp6Unspecified(ip.src);
  const sllao = findNdpOption(m.options, 'source-link-layer') !== undefined;
  switch (m.type) {
    case NDP_ROUTER_SOLICITATION:
      if (unspecified && sllao) return 'unspecified-source-with-link-layer-option';
      return undefined;
    case NDP_ROUTER_ADVERTISEMENT:
      if (!isIp6LinkLocal(ip.src)) return 'source-not-link-local';
      return undefined;
    case NDP_NEIGHBOR_SOLICITATION:
      if (isIp6Multicast(m.target)) return 'multicast-target';
      if (unspecified) {
        // Duplicate address detection: only to the target's solicited-node group, and no link-layer address.
        if (!isIp6SolicitedNode(ip.dst) || !ip6Equal(ip.dst, ip6SolicitedNode(m.target))) return 'bad-destination-for-dad';
        if (sllao) return 'unspecified-source-with-link-layer-option';
      }
      return undefined;
    case NDP_NEIGHBOR_ADVERTISEMENT:
      if (isIp6Multicast(m.target)) return 'multicast-target';
      if (isIp6Multicast(ip.dst) && (m.flags & NDP_NA_SOLICITED) !== 0) return 'solicited-to-multicast';
      return undefined;
    default:
      if (!isIp6LinkLocal(ip.src)) return 'source-not-link-local';
      if (isIp6Multicast(m.destination)) return 'multicast-destination';
      if (!isIp6LinkLocal(m.target) && !ip6Equal(m.target, m.destination)) return 'bad-redirect-target';
      return undefined;
  }
}
