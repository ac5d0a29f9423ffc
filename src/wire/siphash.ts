/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF",
 * 2012): a keyed pseudo-random function with a 128-bit key and a 64-bit
 * output, built for short inputs such as a connection's 4-tuple. It is what
 * Linux uses for TCP's initial sequence numbers and SYN cookies; RFC 6528 asks
 * only that F be a keyed PRF whose output cannot be predicted without the key,
 * which SipHash is designed to be (it is a MAC, stronger than that need).
 *
 * Written for the per-connection path: the 64-bit lanes are pairs of int32
 * (no BigInt), the state lives in one preallocated array, and a hash
 * allocates nothing. The low half of the result is returned, the high half
 * left in `hi`.
 */

/** The four 64-bit lanes, each as [low, high] int32: v0.lo, v0.hi, v1.lo, … */
const v = new Int32Array(8);

/** One SipRound (the paper's ARX network) on `v`. */
function sipRound(): void {
  let v0l = v[0]!, v0h = v[1]!, v1l = v[2]!, v1h = v[3]!, v2l = v[4]!, v2h = v[5]!, v3l = v[6]!, v3h = v[7]!;
  let s: number, t: number;
  // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
  s = (v0l >>> 0) + (v1l >>> 0);
  v0h = (v0h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
  v0l = s | 0;
  t = (v1l << 13) | (v1h >>> 19);
  v1h = (v1h << 13) | (v1l >>> 19);
  v1l = t ^ v0l;
  v1h ^= v0h;
  t = v0l;
  v0l = v0h;
  v0h = t;
  // v2 += v3; v3 <<<= 16; v3 ^= v2
  s = (v2l >>> 0) + (v3l >>> 0);
  v2h = (v2h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
  v2l = s | 0;
  t = (v3l << 16) | (v3h >>> 16);
  v3h = (v3h << 16) | (v3l >>> 16);
  v3l = t ^ v2l;
  v3h ^= v2h;
  // v0 += v3; v3 <<<= 21; v3 ^= v0
  s = (v0l >>> 0) + (v3l >>> 0);
  v0h = (v0h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
  v0l = s | 0;
  t = (v3l << 21) | (v3h >>> 11);
  v3h = (v3h << 21) | (v3l >>> 11);
  v3l = t ^ v0l;
  v3h ^= v0h;
  // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
  s = (v2l >>> 0) + (v1l >>> 0);
  v2h = (v2h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
  v2l = s | 0;
  t = (v1l << 17) | (v1h >>> 15);
  v1h = (v1h << 17) | (v1l >>> 15);
  v1l = t ^ v2l;
  v1h ^= v2h;
  t = v2l;
  v2l = v2h;
  v2h = t;
  v[0] = v0l;
  v[1] = v0h;
  v[2] = v1l;
  v[3] = v1h;
  v[4] = v2l;
  v[5] = v2h;
  v[6] = v3l;
  v[7] = v3h;
}

/** Mixes one 64-bit message word in: c = 2 rounds (the "2" of SipHash-2-4). */
function compress(ml: number, mh: number): void {
  v[6]! ^= ml;
  v[7]! ^= mh;
  sipRound();
  sipRound();
  v[0]! ^= ml;
  v[1]! ^= mh;
}

function le32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

export class SipHash24 {
  private readonly k0l: number;
  private readonly k0h: number;
  private readonly k1l: number;
  private readonly k1h: number;
  /** The high 32 bits (unsigned) of the last hash's result. */
  hi = 0;

  /** `key`: exactly 16 bytes (k0 then k1, little-endian, as in the paper). */
  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError('SipHash key must be 16 bytes');
    this.k0l = le32(key, 0);
    this.k0h = le32(key, 4);
    this.k1l = le32(key, 8);
    this.k1h = le32(key, 12);
  }

  /**
   * SipHash-2-4 of the first `len` bytes of `msg`: returns the result's low 32
   * bits (unsigned) and leaves the high 32 in `hi`. The result as the paper's
   * 8 output bytes is low then high, each little-endian.
   */
  hash(msg: Uint8Array, len: number = msg.length): number {
    if (len > msg.length) throw new RangeError('SipHash length beyond the message');
    // "somepseudorandomlygeneratedbytes", the paper's initial constants.
    v[0] = this.k0l ^ 0x70736575;
    v[1] = this.k0h ^ 0x736f6d65;
    v[2] = this.k1l ^ 0x6e646f6d;
    v[3] = this.k1h ^ 0x646f7261;
    v[4] = this.k0l ^ 0x6e657261;
    v[5] = this.k0h ^ 0x6c796765;
    v[6] = this.k1l ^ 0x79746573;
    v[7] = this.k1h ^ 0x74656462;
    const full = len & ~7;
    for (let o = 0; o < full; o += 8) compress(le32(msg, o), le32(msg, o + 4));
    // The last word: the 0..7 bytes left, and the length's low byte on top.
    let ml = 0;
    let mh = (len & 0xff) << 24;
    for (let i = len - 1; i >= full; i--) {
      const shift = (i - full) * 8;
      if (shift < 32) ml |= msg[i]! << shift;
      else mh |= msg[i]! << (shift - 32);
    }
    compress(ml, mh);
    v[4]! ^= 0xff;
    // d = 4 finalization rounds.
    sipRound();
    sipRound();
    sipRound();
    sipRound();
    this.hi = (v[1]! ^ v[3]! ^ v[5]! ^ v[7]!) >>> 0;
    return (v[0]! ^ v[2]! ^ v[4]! ^ v[6]!) >>> 0;
  }
}
