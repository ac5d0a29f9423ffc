/**
 * Link and network addresses as plain numbers.
 *
 * Both kinds are numbers rather than byte arrays so that parsing a header
 * allocates nothing for its addresses, comparison is `===`, and they work as
 * Map keys without conversion.
 *
 * - `Ip4`: an IPv4 address as an unsigned 32-bit integer (0 .. 2^32-1),
 *   most significant byte first: 10.0.0.1 is 0x0a000001.
 * - `Mac`: a 48-bit Ethernet address as a non-negative integer below 2^48
 *   (exactly representable in a double), first byte on the wire most
 *   significant: ff:ff:ff:ff:ff:ff is 0xffffffffffff. Bitwise operators must
 *   not be applied to a whole `Mac` (they truncate to 32 bits); use the
 *   helpers here.
 */

export type Ip4 = number;
export type Mac = number;

const TWO_32 = 0x1_0000_0000;

export const BROADCAST_MAC: Mac = 0xffff_ffff_ffff;
export const ZERO_MAC: Mac = 0;
export const IP4_ANY: Ip4 = 0;
export const IP4_BROADCAST: Ip4 = 0xffff_ffff;

const IP4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad text, or returns undefined when it is not one. */
export function tryParseIp4(text: string): Ip4 | undefined {
  const m = IP4_RE.exec(text);
  if (m === null) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    // Leading zeros are rejected because some resolvers read them as octal.
    if (part.length > 1 && part[0] === '0') return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Parses dotted-quad text such as '10.0.0.1'; throws on anything else (configuration is programmer input). */
export function parseIp4(text: string): Ip4 {
  const n = tryParseIp4(text);
  if (n === undefined) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  return n;
}

export function formatIp4(ip: Ip4): string {
  return `${(ip >>> 24) & 0xff}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** Reads a big-endian IPv4 address; the caller has checked the bounds. */
export function readIp4(bytes: Uint8Array, offset: number): Ip4 {
  return (
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
  );
}

export function writeIp4(bytes: Uint8Array, offset: number, ip: Ip4): void {
  bytes[offset] = ip >>> 24;
  bytes[offset + 1] = ip >>> 16;
  bytes[offset + 2] = ip >>> 8;
  bytes[offset + 3] = ip;
}

/** Whether `ip` lies in `network`/`prefixLength`. */
export function ip4InSubnet(ip: Ip4, network: Ip4, prefixLength: number): boolean {
  if (prefixLength <= 0) return true;
  const mask = prefixLength >= 32 ? 0xffff_ffff : (0xffff_ffff << (32 - prefixLength)) >>> 0;
  return ((ip & mask) >>> 0) === ((network & mask) >>> 0);
}

/** Reads a 6-byte MAC address; the caller has checked the bounds. */
export function readMac(bytes: Uint8Array, offset: number): Mac {
  const hi = (bytes[offset]! << 8) | bytes[offset + 1]!;
  const lo =
    ((bytes[offset + 2]! << 24) | (bytes[offset + 3]! << 16) | (bytes[offset + 4]! << 8) | bytes[offset + 5]!) >>> 0;
  return hi * TWO_32 + lo;
}

export function writeMac(bytes: Uint8Array, offset: number, mac: Mac): void {
  const hi = Math.floor(mac / TWO_32);
  const lo = mac % TWO_32;
  bytes[offset] = hi >>> 8;
  bytes[offset + 1] = hi;
  bytes[offset + 2] = lo >>> 24;
  bytes[offset + 3] = lo >>> 16;
  bytes[offset + 4] = lo >>> 8;
  bytes[offset + 5] = lo;
}

const MAC_RE = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

export function tryParseMac(text: string): Mac | undefined {
  const m = MAC_RE.exec(text);
  if (m === null) return undefined;
  let n = 0;
  for (let i = 1; i <= 6; i++) n = n * 256 + parseInt(m[i]!, 16);
  return n;
}

/** Parses 'aa:bb:cc:dd:ee:ff' (or with dashes); throws on anything else. */
export function parseMac(text: string): Mac {
  const n = tryParseMac(text);
  if (n === undefined) throw new RangeError(`not a MAC address: ${JSON.stringify(text)}`);
  return n;
}

/** Lower-case, colon-separated, as tshark prints it. */
export function formatMac(mac: Mac): string {
  let s = '';
  for (let shift = 40; shift >= 0; shift -= 8) {
    const b = Math.floor(mac / 2 ** shift) % 256;
    s += (shift === 40 ? '' : ':') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

export function macToBytes(mac: Mac): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}

export function macFromBytes(bytes: Uint8Array, offset = 0): Mac {
  if (offset < 0 || offset + 6 > bytes.length) throw new RangeError('MAC address out of bounds');
  return readMac(bytes, offset);
}

/** Group bit (least significant bit of the first byte): multicast or broadcast. */
export function isMulticastMac(mac: Mac): boolean {
  return Math.floor(mac / 2 ** 40) % 2 === 1;
}

export function isBroadcastMac(mac: Mac): boolean {
  return mac === BROADCAST_MAC;
}
