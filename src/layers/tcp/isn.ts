/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), where M
 * is a timer ticking every 4 microseconds and F a keyed pseudo-random function.
 * F here is HMAC-SHA-256 from node:crypto, computed once per connection (the
 * cost is per open, never per segment). The secret comes from the runtime's
 * seeded random source unless configured, so simulations reproduce.
 *
 * The same function with a different label gives each connection its own
 * timestamp offset (RFC 7323 section 5.4), so TSval does not reveal the host's
 * uptime and is unrelated across connections.
 */
import { createHmac } from 'node:crypto';
import type { Ip6 } from '../../wire/addr6.js';
import type { IpAddress } from '../net.js';

export class IsnGenerator {
  private readonly tuple = Buffer.alloc(13);
  private readonly tuple6 = Buffer.alloc(37);

  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 8) throw new RangeError('ISN secret shorter than 8 bytes');
  }

  /** The ISN for a connection opened at `nowMs` on this 4-tuple. */
  isn(nowMs: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    const m = Math.floor(nowMs * 250) % 0x1_0000_0000; // 4 us ticks, mod 2^32
    return (m + this.f(0, localIp, localPort, remoteIp, remotePort)) >>> 0;
  }

  /** A per-connection offset added to the millisecond clock for TSval. */
  timestampOffset(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    return this.f(1, localIp, localPort, remoteIp, remotePort);
  }

  private f(label: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    if (typeof localIp !== 'number') return this.f6(label, localIp, localPort, remoteIp as Ip6, remotePort);
    const t = this.tuple;
    t.writeUInt32BE(localIp >>> 0, 0);
    t.writeUInt16BE(localPort, 4);
    t.writeUInt32BE((remoteIp as number) >>> 0, 6);
    t.writeUInt16BE(remotePort, 10);
    t[12] = label;
    return createHmac('sha256', this.secret).update(t).digest().readUInt32BE(0);
  }

  private f6(label: number, localIp: Ip6, localPort: number, remoteIp: Ip6, remotePort: number): number {
    const t = this.tuple6;
    t.set(localIp, 0);
    t.writeUInt16BE(localPort, 16);
    t.set(remoteIp, 18);
    t.writeUInt16BE(remotePort, 34);
    t[36] = label;
    return createHmac('sha256', this.secret).update(t).digest().readUInt32BE(0);
  }
}
