/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), where M
 * is a timer ticking every 4 microseconds and F a keyed pseudo-random function.
 * F here is SipHash-2-4 (src/wire/siphash.ts), as in Linux: a keyed PRF, so
 * without the secret the ISN of one tuple says nothing about another's, which
 * is all RFC 6528 asks. It costs about 0.2 µs where HMAC-SHA-256 from
 * node:crypto cost about 7 µs and a Buffer per digest (a tenth of the CPU of
 * opening a connection). The secret comes from the runtime's seeded random
 * source unless configured, so simulations reproduce.
 *
 * The same 64-bit result gives each connection its own timestamp offset (RFC
 * 7323 section 5.4), so TSval does not reveal the host's uptime and is
 * unrelated across connections: F is its low 32 bits, the offset its high 32.
 */
import { createHash } from 'node:crypto';
import { SipHash24 } from '../../wire/siphash.js';
import type { IpAddress } from '../net.js';
import { TUPLE4_LENGTH, TUPLE6_LENGTH, writeTuple } from './tuple.js';

/**
 * The 128-bit SipHash key of a secret of any length (at least 8 bytes): the
 * first half of its SHA-256, computed once per module.
 */
export function keyedHashOf(secret: Uint8Array): SipHash24 {
  if (secret.length < 8) throw new RangeError('ISN secret shorter than 8 bytes');
  return new SipHash24(createHash('sha256').update(secret).digest().subarray(0, 16));
}

export class IsnGenerator {
  // The byte after the tuple is a label, 0 here (SYN cookies use others).
  private readonly tuple = Buffer.alloc(TUPLE4_LENGTH + 1);
  private readonly tuple6 = Buffer.alloc(TUPLE6_LENGTH + 1);
  private readonly prf: SipHash24;

  constructor(secret: Uint8Array) {
    this.prf = keyedHashOf(secret);
  }

  /**
   * The tuple's timestamp offset, as computed by the last isn(): a connection
   * takes both from one hash.
   */
  offset = 0;

  /** The ISN for a connection opened at `nowMs` on this 4-tuple (and its timestamp offset in `offset`). */
  isn(nowMs: number, localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    const m = Math.floor(nowMs * 250) % 0x1_0000_0000; // 4 us ticks, mod 2^32
    const f = this.f(localIp, localPort, remoteIp, remotePort);
    this.offset = this.prf.hi;
    return (m + f) >>> 0;
  }

  /** A per-connection offset added to the millisecond clock for TSval. */
  timestampOffset(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    this.f(localIp, localPort, remoteIp, remotePort);
    return this.prf.hi;
  }

  private f(localIp: IpAddress, localPort: number, remoteIp: IpAddress, remotePort: number): number {
    const t = writeTuple(this.tuple, this.tuple6, localIp, localPort, remoteIp, remotePort);
    return this.prf.hash(t);
  }
}
