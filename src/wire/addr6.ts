/**
 * IPv6 addresses (RFC 4291) and their text form (RFC 5952).
 *
 * An `Ip6` is a 16-byte Uint8Array. A parsed header's addresses are views into
 * the packet (no copy, like IPv4 options): a record kept beyond the buffer's
 * life must `ip6Copy` them. Compare with `ip6Equal`; use `formatIp6` (canonical,
 * so equal addresses give equal strings) as a Map key.
 */

import type { Mac } from './addr.js';

export type Ip6 = Uint8Array;

export const IP6_LENGTH = 16;

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const V4_TAIL = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function fromHex(text: string): Ip6 {
  const a = tryParseIp6(text);
  if (a === undefined) throw new RangeError(`bad constant ${text}`);
  return a;
}

/** Shared constants: never write to them. */
export const IP6_ANY: Ip6 = new Uint8Array(16);
export const IP6_LOOPBACK: Ip6 = fromHex('::1');
export const IP6_ALL_NODES: Ip6 = fromHex('ff02::1');
export const IP6_ALL_ROUTERS: Ip6 = fromHex('ff02::2');

/** A view of the 16 bytes at `offset`; the caller has checked the bounds. */
export function readIp6(bytes: Uint8Array, offset: number): Ip6 {
  return bytes.subarray(offset, offset + IP6_LENGTH);
}

export function writeIp6(bytes: Uint8Array, offset: number, a: Ip6): void {
  bytes.set(a.subarray(0, IP6_LENGTH), offset);
}

/** An owned copy (for records that outlive the packet buffer). */
export function ip6Copy(a: Ip6): Ip6 {
  return a.slice(0, IP6_LENGTH);
}

export function ip6Equal(a: Ip6, b: Ip6): boolean {
  for (let i = 0; i < IP6_LENGTH; i++) if (a[i] !== b[i]) return false;
  return true;
}

function parseGroups(part: string, out: number[]): boolean {
  if (part === '') return true;
  const groups = part.split(':');
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (i === groups.length - 1 && g.includes('.')) {
      const m = V4_TAIL.exec(g);
      if (m === null) return false;
      const b: number[] = [];
      for (let j = 1; j <= 4; j++) {
        const s = m[j]!;
        if ((s.length > 1 && s[0] === '0') || Number(s) > 255) return false;
        b.push(Number(s));
      }
      out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    } else {
      if (!HEX_GROUP.test(g)) return false;
      out.push(parseInt(g, 16));
    }
  }
  return true;
}

/** Parses any RFC 4291 text form (with `::`, with a dotted IPv4 tail); undefined otherwise. Zones are refused. */
export function tryParseIp6(text: string): Ip6 | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head: number[] = [];
  const tail: number[] = [];
  if (!parseGroups(halves[0]!, head)) return undefined;
  if (halves.length === 2 && !parseGroups(halves[1]!, tail)) return undefined;
  const n = head.length + tail.length;
  if (halves.length === 1 ? n !== 8 : n > 7) return undefined;
  const words = [...head, ...new Array<number>(8 - n).fill(0), ...tail];
  const a = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    a[2 * i] = words[i]! >>> 8;
    a[2 * i + 1] = words[i]!;
  }
  return a;
}

/** Parses IPv6 text; throws on anything else (configuration is programmer input). */
export function parseIp6(text: string): Ip6 {
  const a = tryParseIp6(text);
  if (a === undefined) throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return a;
}

/**
 * RFC 5952 text: lower case, no leading zeros, the longest run of two or more
 * zero groups (the first of equal runs) as `::`, and IPv4-mapped addresses with a
 * dotted tail, which is also how tshark prints them.
 */
export function formatIp6(a: Ip6): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (a[2 * i]! << 8) | a[2 * i + 1]!;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  }
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => w.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

export function isIp6Unspecified(a: Ip6): boolean {
  return ip6Equal(a, IP6_ANY);
}

export function isIp6Loopback(a: Ip6): boolean {
  return ip6Equal(a, IP6_LOOPBACK);
}

export function isIp6Multicast(a: Ip6): boolean {
  return a[0] === 0xff;
}

/** fe80::/10 */
export function isIp6LinkLocal(a: Ip6): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** The scope field (low 4 bits of byte 1) of a multicast address: 1 interface, 2 link, 5 site, 14 global. */
export function ip6MulticastScope(a: Ip6): number {
  return a[1]! & 0x0f;
}

/** Whether `a` lies in `prefix`/`prefixLength`. */
export function ip6InPrefix(a: Ip6, prefix: Ip6, prefixLength: number): boolean {
  const full = Math.min(16, Math.max(0, prefixLength) >>> 3);
  for (let i = 0; i < full; i++) if (a[i] !== prefix[i]) return false;
  const bits = prefixLength & 7;
  if (bits === 0 || full >= 16) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (a[full]! & mask) === (prefix[full]! & mask);
}

/** The solicited-node multicast address of `a` (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX. */
export function ip6SolicitedNode(a: Ip6): Ip6 {
  const m = new Uint8Array(16);
  m[0] = 0xff;
  m[1] = 0x02;
  m[11] = 0x01;
  m[12] = 0xff;
  m[13] = a[13]!;
  m[14] = a[14]!;
  m[15] = a[15]!;
  return m;
}

export function isIp6SolicitedNode(a: Ip6): boolean {
  if (a[0] !== 0xff || a[1] !== 0x02 || a[11] !== 0x01 || a[12] !== 0xff) return false;
  for (let i = 2; i < 11; i++) if (a[i] !== 0) return false;
  return true;
}

/** The Ethernet group address a multicast IPv6 address maps to (RFC 2464 §7): 33:33 + the last 4 bytes. */
export function ip6MulticastMac(a: Ip6): Mac {
  return 0x3333 * 0x1_0000_0000 + (((a[12]! << 24) | (a[13]! << 16) | (a[14]! << 8) | a[15]!) >>> 0);
}

/** The modified EUI-64 interface identifier of a MAC (RFC 4291 appendix A) after `prefix`'s first 8 bytes. */
export function ip6FromPrefixAndMac(prefix: Ip6, mac: Mac): Ip6 {
  const a = new Uint8Array(16);
  a.set(prefix.subarray(0, 8), 0);
  const hi = Math.floor(mac / 0x1_0000_0000);
  const lo = mac % 0x1_0000_0000;
  a[8] = (hi >>> 8) ^ 0x02;
  a[9] = hi;
  a[10] = lo >>> 24;
  a[11] = 0xff;
  a[12] = 0xfe;
  a[13] = lo >>> 16;
  a[14] = lo >>> 8;
  a[15] = lo;
  return a;
}

const LINK_LOCAL_PREFIX: Ip6 = fromHex('fe80::');

/** The link-local address a host forms from its MAC (RFC 4862 §5.3). */
export function ip6LinkLocalFromMac(mac: Mac): Ip6 {
  return ip6FromPrefixAndMac(LINK_LOCAL_PREFIX, mac);
}
