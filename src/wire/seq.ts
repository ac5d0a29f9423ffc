/**
 * TCP sequence-number arithmetic modulo 2^32 (RFC 793 §3.3, RFC 1982).
 * Sequence numbers are unsigned 32-bit numbers; comparisons hold while the two
 * numbers are less than 2^31 apart, which TCP's window rules guarantee.
 */

export type Seq = number;

/** a < b */
export function seqLt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b */
export function seqLeq(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b */
export function seqGt(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b */
export function seqGeq(a: Seq, b: Seq): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n, wrapped to 0..2^32-1 (n may be negative). */
export function seqAdd(a: Seq, n: number): Seq {
  return (a + n) >>> 0;
}

/** The signed distance a - b, in [-2^31, 2^31). */
export function seqDiff(a: Seq, b: Seq): number {
  return (a - b) | 0;
}

export function seqMax(a: Seq, b: Seq): Seq {
  return seqGt(a, b) ? a : b;
}

export function seqMin(a: Seq, b: Seq): Seq {
  return seqLt(a, b) ? a : b;
}

/** start <= x < start + length, for a window of `length` (0..2^32-1) bytes. */
export function seqInWindow(x: Seq, start: Seq, length: number): boolean {
  return ((x - start) >>> 0) < length;
}
