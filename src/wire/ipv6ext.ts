/**
 * IPv6 extension headers (RFC 8200 §4): records for hop-by-hop and destination
 * options, routing and fragment headers, and a walker that follows a chain from
 * the fixed header to the upper layer.
 *
 * The walker is the receive path's view: it allocates nothing per header,
 * bounds everything (header count, bytes), and reports what RFC 8200 asks a
 * node to do with what it does not know (an option's two high bits, a routing
 * header with segments left) as `problem` with the ICMPv6 parameter-problem
 * code and pointer, so the IPv6 module can count the drop and answer.
 */

import {
  BufferError, inBounds, parseFailure, parseSuccess, type ParseResult,
} from './buffer.js';
import {
  IP_PROTO_AH, IP_PROTO_HOPOPTS, IP_PROTO_IPV6_DSTOPTS, IP_PROTO_IPV6_FRAG, IP_PROTO_IPV6_ROUTE, IPV6_HEADER_LENGTH,
} from './ipv6.js';

export const IPV6_OPTION_PAD1 = 0;
export const IPV6_OPTION_PADN = 1;
export const IPV6_OPTION_ROUTER_ALERT = 5;
export const IPV6_OPTION_JUMBO = 0xc2;

export const IPV6_FRAGMENT_HEADER_LENGTH = 8;

/** What RFC 8200 §4.2 asks of a node that does not recognise an option, from its two high bits. */
export type Ipv6OptionAction = 'skip' | 'discard' | 'discard-icmp' | 'discard-icmp-unless-multicast';

export function ipv6OptionAction(optionType: number): Ipv6OptionAction {
  switch (optionType >>> 6) {
    case 0: return 'skip';
    case 1: return 'discard';
    case 2: return 'discard-icmp';
    default: return 'discard-icmp-unless-multicast';
  }
}

/** One TLV option; Pad1 has no length byte and empty data. */
export interface Ipv6Option {
  type: number;
  data: Uint8Array;
}

export interface Ipv6OptionsHeader {
  kind: 'hop-by-hop' | 'destination';
  nextHeader: number;
  /** Every option in order, padding included, so the header round-trips. */
  options: Ipv6Option[];
}

export interface Ipv6RoutingHeader {
  kind: 'routing';
  nextHeader: number;
  routingType: number;
  segmentsLeft: number;
  /** Bytes 4.. of the header (type-specific). */
  data: Uint8Array;
}

export interface Ipv6FragmentHeader {
  kind: 'fragment';
  nextHeader: number;
  /** Byte 1 (reserved, should be 0). */
  reserved: number;
  /** Offset of this fragment's data in bytes (a multiple of 8). */
  fragmentOffset: number;
  /** The two reserved bits between offset and M. */
  reservedBits: number;
  moreFragments: boolean;
  identification: number;
}

export type Ipv6ExtensionHeader = Ipv6OptionsHeader | Ipv6RoutingHeader | Ipv6FragmentHeader;

/** Whether `protocol` is an extension header the walker follows. */
export function isIpv6ExtensionHeader(protocol: number): boolean {
  return protocol === IP_PROTO_HOPOPTS || protocol === IP_PROTO_IPV6_ROUTE || protocol === IP_PROTO_IPV6_FRAG ||
    protocol === IP_PROTO_IPV6_DSTOPTS || protocol === IP_PROTO_AH;
}

/** The protocol number of a record's header. */
export function ipv6ExtensionProtocol(h: Ipv6ExtensionHeader): number {
  switch (h.kind) {
    case 'hop-by-hop': return IP_PROTO_HOPOPTS;
    case 'destination': return IP_PROTO_IPV6_DSTOPTS;
    case 'routing': return IP_PROTO_IPV6_ROUTE;
    default: return IP_PROTO_IPV6_FRAG;
  }
}

/** Length in bytes of the extension header at `offset` of type `protocol`, from its length byte. */
function extLength(bytes: Uint8Array, offset: number, protocol: number): number {
  if (protocol === IP_PROTO_IPV6_FRAG) return IPV6_FRAGMENT_HEADER_LENGTH;
  if (protocol === IP_PROTO_AH) return (bytes[offset + 1]! + 2) * 4;
  return (bytes[offset + 1]! + 1) * 8;
}

/**
 * Parses the TLV options in `bytes[offset, offset+length)`. Failures:
 * 'bad-option-length' when an option runs past the end.
 */
export function parseIpv6Options(bytes: Uint8Array, offset: number, length: number): ParseResult<Ipv6Option[]> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  const out: Ipv6Option[] = [];
  const end = offset + length;
  let p = offset;
  while (p < end) {
    const type = bytes[p]!;
    if (type === IPV6_OPTION_PAD1) {
      out.push({ type, data: bytes.subarray(p + 1, p + 1) });
      p++;
      continue;
    }
    if (p + 2 > end || p + 2 + bytes[p + 1]! > end) return parseFailure('bad-option-length');
    const n = bytes[p + 1]!;
    out.push({ type, data: bytes.subarray(p + 2, p + 2 + n) });
    p += 2 + n;
  }
  return parseSuccess(out, length);
}

/**
 * Parses one extension header of type `protocol` (0, 43, 44 or 60) at `offset`.
 * Failures: 'truncated', 'not-an-extension-header', 'bad-option-length'.
 */
export function parseIpv6ExtensionHeader(
  bytes: Uint8Array, offset: number, length: number, protocol: number,
): ParseResult<Ipv6ExtensionHeader> {
  if (!inBounds(bytes, offset, length)) return parseFailure('out-of-bounds');
  if (protocol !== IP_PROTO_HOPOPTS && protocol !== IP_PROTO_IPV6_DSTOPTS && protocol !== IP_PROTO_IPV6_ROUTE &&
    protocol !== IP_PROTO_IPV6_FRAG) return parseFailure('not-an-extension-header');
  if (length < 8) return parseFailure('truncated');
  const o = offset;
  const hl = extLength(bytes, o, protocol);
  if (hl > length) return parseFailure('truncated');
  const nextHeader = bytes[o]!;
  if (protocol === IP_PROTO_IPV6_FRAG) {
    const w = (bytes[o + 2]! << 8) | bytes[o + 3]!;
    return parseSuccess<Ipv6FragmentHeader>({
      kind: 'fragment',
      nextHeader,
      reserved: bytes[o + 1]!,
      fragmentOffset: (w >>> 3) * 8,
      reservedBits: (w >>> 1) & 3,
      moreFragments: (w & 1) === 1,
      identification: ((bytes[o + 4]! << 24) | (bytes[o + 5]! << 16) | (bytes[o + 6]! << 8) | bytes[o + 7]!) >>> 0,
    }, hl);
  }
  if (protocol === IP_PROTO_IPV6_ROUTE) {
    return parseSuccess<Ipv6RoutingHeader>({
      kind: 'routing',
      nextHeader,
      routingType: bytes[o + 2]!,
      segmentsLeft: bytes[o + 3]!,
      data: bytes.subarray(o + 4, o + hl),
    }, hl);
  }
  const opts = parseIpv6Options(bytes, o + 2, hl - 2);
  if (!opts.ok) return opts;
  return parseSuccess<Ipv6OptionsHeader>({
    kind: protocol === IP_PROTO_HOPOPTS ? 'hop-by-hop' : 'destination',
    nextHeader,
    options: opts.header,
  }, hl);
}

/** Bytes the header takes on the wire. Throws (programmer error) if it cannot be encoded. */
export function ipv6ExtensionHeaderLength(h: Ipv6ExtensionHeader): number {
  let n: number;
  if (h.kind === 'fragment') return IPV6_FRAGMENT_HEADER_LENGTH;
  if (h.kind === 'routing') n = 4 + h.data.length;
  else {
    n = 2;
    for (const opt of h.options) {
      if (opt.data.length > 255) throw new BufferError(`IPv6 option of ${opt.data.length} data bytes exceeds 255`);
      n += opt.type === IPV6_OPTION_PAD1 ? 1 : 2 + opt.data.length;
    }
  }
  if (n % 8 !== 0 || n > 2048) throw new BufferError(`IPv6 extension header of ${n} bytes is not a multiple of 8 up to 2048`);
  return n;
}

/** Writes the header verbatim at `offset`; returns its length. */
export function encodeIpv6ExtensionHeader(bytes: Uint8Array, offset: number, h: Ipv6ExtensionHeader): number {
  const hl = ipv6ExtensionHeaderLength(h);
  const o = offset;
  bytes[o] = h.nextHeader;
  if (h.kind === 'fragment') {
    if (h.fragmentOffset % 8 !== 0 || h.fragmentOffset < 0 || h.fragmentOffset > 0x1fff * 8) {
      throw new BufferError(`IPv6 fragment offset ${h.fragmentOffset} is not a multiple of 8 below 65536`);
    }
    bytes[o + 1] = h.reserved;
    const w = ((h.fragmentOffset >>> 3) << 3) | ((h.reservedBits & 3) << 1) | (h.moreFragments ? 1 : 0);
    bytes[o + 2] = w >>> 8;
    bytes[o + 3] = w;
    bytes[o + 4] = h.identification >>> 24;
    bytes[o + 5] = h.identification >>> 16;
    bytes[o + 6] = h.identification >>> 8;
    bytes[o + 7] = h.identification;
    return hl;
  }
  bytes[o + 1] = hl / 8 - 1;
  if (h.kind === 'routing') {
    bytes[o + 2] = h.routingType;
    bytes[o + 3] = h.segmentsLeft;
    bytes.set(h.data, o + 4);
    return hl;
  }
  let p = o + 2;
  for (const opt of h.options) {
    bytes[p++] = opt.type;
    if (opt.type === IPV6_OPTION_PAD1) continue;
    bytes[p++] = opt.data.length;
    bytes.set(opt.data, p);
    p += opt.data.length;
  }
  return hl;
}

export function emitIpv6ExtensionHeader(h: Ipv6ExtensionHeader): Uint8Array {
  const out = new Uint8Array(ipv6ExtensionHeaderLength(h));
  encodeIpv6ExtensionHeader(out, 0, h);
  return out;
}

/**
 * Options padded (Pad1 / PadN) so that the header is a multiple of 8 bytes; for
 * building a hop-by-hop or destination options header.
 */
export function padIpv6Options(options: readonly Ipv6Option[]): Ipv6Option[] {
  let n = 2;
  for (const opt of options) n += opt.type === IPV6_OPTION_PAD1 ? 1 : 2 + opt.data.length;
  const pad = (8 - (n % 8)) % 8;
  const out = options.slice();
  if (pad === 1) out.push({ type: IPV6_OPTION_PAD1, data: new Uint8Array(0) });
  else if (pad > 1) out.push({ type: IPV6_OPTION_PADN, data: new Uint8Array(pad - 2) });
  return out;
}

// ---- the walker ------------------------------------------------------------------

/** Why a walk stopped short of the upper layer although the bytes were well formed. */
export interface Ipv6ChainProblem {
  /** 'unknown-option' | 'unknown-routing-type' | 'misplaced-hop-by-hop'. */
  reason: string;
  /** For an unknown option, its action; otherwise 'discard-icmp'. */
  action: Ipv6OptionAction;
  /** ICMPv6 parameter-problem code: 0 erroneous field, 1 unrecognised next header, 2 unrecognised option. */
  code: number;
  /** Offset from the start of the IPv6 header of the byte at fault (the ICMPv6 pointer). */
  pointer: number;
}

export interface Ipv6Chain {
  /** Protocol after the last extension header (an upper layer, 59 "no next header", ESP...). */
  upperProtocol: number;
  /** Offset of the upper-layer header from the start of the IPv6 header. */
  upperOffset: number;
  /** Extension headers walked. */
  headerCount: number;
  /** Offset of the fragment header from the start of the IPv6 header, or -1. */
  fragmentHeaderOffset: number;
  /** Offset of the routing header, or -1. */
  routingHeaderOffset: number;
  /** Set when the walk stopped at something RFC 8200 tells the node not to process further. */
  problem: Ipv6ChainProblem | undefined;
}

export interface Ipv6WalkLimits {
  /** Most extension headers followed before 'too-many-headers' (default 8). */
  maxHeaders?: number;
  /** Most bytes of extension headers before 'chain-too-long' (default 1024). */
  maxChainBytes?: number;
  /** Options this node recognises (default: Pad1, PadN, router alert, jumbo payload). */
  isKnownOption?: (protocol: number, optionType: number) => boolean;
}

function defaultKnownOption(_protocol: number, t: number): boolean {
  return t === IPV6_OPTION_PAD1 || t === IPV6_OPTION_PADN || t === IPV6_OPTION_ROUTER_ALERT || t === IPV6_OPTION_JUMBO;
}

const NO_LIMITS: Ipv6WalkLimits = {};

/**
 * Follows the chain of the datagram whose fixed header is at `ipOffset`, with
 * `datagramLength` bytes (fixed header included). Stops at the first protocol that
 * is not an extension header, after a fragment header whose offset is not 0 (the
 * rest is not in this fragment), or at a `problem`. Failures (counted drops, no
 * answer owed): 'out-of-bounds', 'truncated' (a header runs past the datagram),
 * 'bad-option-length', 'too-many-headers', 'chain-too-long'.
 */
export function walkIpv6Chain(
  bytes: Uint8Array, ipOffset: number, datagramLength: number, firstNextHeader: number,
  limits: Ipv6WalkLimits = NO_LIMITS,
): ParseResult<Ipv6Chain> {
  if (!inBounds(bytes, ipOffset, datagramLength) || datagramLength < IPV6_HEADER_LENGTH) {
    return parseFailure('out-of-bounds');
  }
  const maxHeaders = limits.maxHeaders ?? 8;
  const maxChainBytes = limits.maxChainBytes ?? 1024;
  const known = limits.isKnownOption ?? defaultKnownOption;
  const end = ipOffset + datagramLength;
  let protocol = firstNextHeader;
  let p = ipOffset + IPV6_HEADER_LENGTH;
  let count = 0;
  let fragmentAt = -1;
  let routingAt = -1;
  let problem: Ipv6ChainProblem | undefined;
  while (isIpv6ExtensionHeader(protocol)) {
    if (protocol === IP_PROTO_HOPOPTS && count > 0) {
      // RFC 8200 §4.1: only right after the fixed header; the pointer names the next-header field that led here.
      problem = { reason: 'misplaced-hop-by-hop', action: 'discard-icmp', code: 1, pointer: prevNextHeaderAt(bytes, ipOffset, p) };
      break;
    }
    if (count >= maxHeaders) return parseFailure('too-many-headers');
    if (p + 8 > end) return parseFailure('truncated');
    const hl = extLength(bytes, p, protocol);
    if (p + hl > end) return parseFailure('truncated');
    if (p + hl - (ipOffset + IPV6_HEADER_LENGTH) > maxChainBytes) return parseFailure('chain-too-long');
    count++;
    if (protocol === IP_PROTO_HOPOPTS || protocol === IP_PROTO_IPV6_DSTOPTS) {
      let q = p + 2;
      const qEnd = p + hl;
      while (q < qEnd) {
        const t = bytes[q]!;
        if (t === IPV6_OPTION_PAD1) {
          q++;
          continue;
        }
        if (q + 2 > qEnd || q + 2 + bytes[q + 1]! > qEnd) return parseFailure('bad-option-length');
        if (problem === undefined && !known(protocol, t)) {
          const action = ipv6OptionAction(t);
          if (action !== 'skip') problem = { reason: 'unknown-option', action, code: 2, pointer: q - ipOffset };
        }
        q += 2 + bytes[q + 1]!;
      }
      if (problem !== undefined) break;
    } else if (protocol === IP_PROTO_IPV6_ROUTE) {
      routingAt = p - ipOffset;
      // A host is the final destination of no source route it does not know (RFC 8200 §4.4; type 0 is gone, RFC 5095).
      if (bytes[p + 3]! !== 0) {
        problem = { reason: 'unknown-routing-type', action: 'discard-icmp', code: 0, pointer: p + 2 - ipOffset };
        break;
      }
    } else if (protocol === IP_PROTO_IPV6_FRAG) {
      fragmentAt = p - ipOffset;
      if (((bytes[p + 2]! << 8) | bytes[p + 3]!) >>> 3 !== 0) {
        protocol = bytes[p]!;
        p += hl;
        break;
      }
    }
    protocol = bytes[p]!;
    p += hl;
  }
  return parseSuccess<Ipv6Chain>({
    upperProtocol: protocol,
    upperOffset: p - ipOffset,
    headerCount: count,
    fragmentHeaderOffset: fragmentAt,
    routingHeaderOffset: routingAt,
    problem,
  }, p - ipOffset);
}

/** Offset (from the IPv6 header) of the next-header field that names the header at `at`. */
function prevNextHeaderAt(bytes: Uint8Array, ipOffset: number, at: number): number {
  // Walk again from the top: chains are short and this path is only taken for a bad packet.
  let field = ipOffset + 6;
  let p = ipOffset + IPV6_HEADER_LENGTH;
  let protocol = bytes[field]!;
  while (p < at) {
    field = p;
    const hl = extLength(bytes, p, protocol);
    protocol = bytes[p]!;
    p += hl;
  }
  return field - ipOffset;
}
