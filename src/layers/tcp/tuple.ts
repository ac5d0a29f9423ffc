/**
 * A connection's 4-tuple as bytes, the input of the keyed hashes that make
 * ISNs, timestamp offsets and SYN cookies: 12 bytes for IPv4, 36 for IPv6.
 */
import type { Ip6 } from '../../wire/addr6.js';
import type { IpAddress } from '../net.js';

export const TUPLE4_LENGTH = 12;
export const TUPLE6_LENGTH = 36;

/**
 * Writes the tuple into `v4` or `v6` (by the family of `localIp`; each at
 * least its tuple's length) and returns the one written; the bytes after the
 * tuple are the caller's (labels, counters).
 */
export function writeTuple(v4: Buffer, v6: Buffer, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): Buffer {
  if (typeof localIp === 'number') {
    v4.writeUInt32BE(localIp >>> 0, 0);
    v4.writeUInt16BE(localPort, 4);
    v4.writeUInt32BE((remoteIp as number) >>> 0, 6);
    v4.writeUInt16BE(remotePort, 10);
    return v4;
  }
  v6.set(localIp, 0);
  v6.writeUInt16BE(localPort, 16);
  v6.set(remoteIp as Ip6, 18);
  v6.writeUInt16BE(remotePort, 34);
  return v6;
}
