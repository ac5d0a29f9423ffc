/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), where M
 * is a timer ticking every 4 microseconds and F a keyed pseudo-random function.
 * F here is HMAC-SHA-256 from node:crypto, computed once per connection (the
 * cost is per open, never per segment). The secret comes from the runtime's
 * seeded random source unless configured, so simulations reproduce.
 *
 * The same digest gives each connection its own timestamp offset (RFC 7323
 * section 5.4), so TSval does not reveal the host's uptime and is unrelated
 * across connections: F takes the digest's first 32 bits, the offset the next
 * 32. One HMAC per connection, not two: at about 7 µs each they were a sixth
 * of the cost of opening one.
 */
import { createHmac } from 'node:crypto';
import type { IpAddress } from '../net.js';
import { TUPLE4_LENGTH, TUPLE6_LENGTH, writeTuple } from './tuple.js';

export class IsnGenerator {
  private readonly tuple = Buffer.alloc(TUPLE4_LENGTH + 1);
  private readonly tuple6 = Buffer.alloc(TUPLE6_LENGTH + 1);
  /** The last tuple and its digest: a connection asks for its ISN and its offset in turn. */
  private last: Buffer = Buffer.alloc(0);
  private digest: Buffer | null = null;

  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 8) throw new RangeError('ISN secret shorter than 8 bytes');
  }

  /** The ISN for a connection opened at `nowMs` on this 4-tuple. */
  isn(nowMs: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    const m = Math.floor(nowMs * 250) % 0x1_0000_0000; // 4 us ticks, mod 2^32
    return (m + this.f(localIp, localPort, remoteIp, remotePort).readUInt32BE(0)) >>> 0;
  }

  /** A per-connection offset added to the millisecond clock for TSval. */
  timestampOffset(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    return this.f(localIp, localPort, remoteIp, remotePort).readUInt32BE(4);
  }

  private f(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): Buffer {
    // the byte after the tuple stays 0 (it once labelled the ISN's digest: ISNs are unchanged)
    const t = writeTuple(this.tuple, this.tuple6, localIp, localPort, remoteIp, remotePort);
    if (this.digest !== null && t.equals(this.last)) return this.digest;
    this.last = Buffer.from(t);
    return (this.digest = createHmac('sha256', this.secret).update(t).digest());
  }
}
