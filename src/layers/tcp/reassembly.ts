/**
 * Out-of-order segments waiting for the gap before them to fill.
 *
 * Pieces are kept sorted and never overlapping: a segment that overlaps what is
 * held contributes only its new bytes (the bytes that arrived first win), so a
 * duplicate costs nothing and delivery is exactly once. Each piece is a copy
 * (the packet buffer it came in lives only for the upcall).
 *
 * A peer chooses how its data is cut, so both the bytes and the number of
 * pieces are bounded, and the work per segment does not grow with what is held:
 * the place of a segment is found by binary search, small neighbours are merged
 * on insert (a flood of 1-byte segments becomes a few pieces of up to
 * MERGE_LIMIT bytes), and the array move of an insert is bounded by the piece
 * limit. A segment that would exceed either bound is refused whole, and the
 * sender retransmits it later.
 */
import { seqGt, seqLt } from '../../wire/seq.js';

interface Piece {
  seq: number;
  /** seq + data.length, mod 2^32. */
  end: number;
  data: Uint8Array;
}

export type InsertResult = 'stored' | 'duplicate' | 'no-memory';

/** Adjacent pieces are merged while the result stays this small, so a merge copies at most this much. */
export const MERGE_LIMIT = 2048;

/** Default piece limit for a byte bound: enough for full-size segments of the smallest MSS, within [64, 4096]. */
export function defaultMaxPieces(maxBytes: number): number {
  return Math.max(64, Math.min(4096, Math.ceil(maxBytes / 256)));
}

export class ReassemblyQueue {
  private pieces: Piece[] = [];
  /** Bytes held. */
  bytes = 0;
  /** Left edge of the block most recently added to (first SACK block, RFC 2018 section 4). */
  private recent = -1;
  /** Segments refused because the piece limit was reached (the byte bound is the other reason). */
  refusedForPieces = 0;

  readonly maxPieces: number;

  constructor(
    readonly maxBytes: number,
    maxPieces?: number,
  ) {
    this.maxPieces = maxPieces ?? defaultMaxPieces(maxBytes);
  }

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  get count(): number {
    return this.pieces.length;
  }

  /** Index of the first piece that ends after `seq` (the first that can hold or follow it). */
  private firstEndingAfter(seq: number): number {
    const ps = this.pieces;
    let lo = 0;
    let hi = ps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqGt(ps[mid]!.end, seq)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Stores the part of `data` (starting at `seq`) that is not held yet. */
  insert(seq: number, data: Uint8Array): InsertResult {
    if (data.length === 0) return 'duplicate';
    const end = (seq + data.length) >>> 0;
    const ps = this.pieces;
    let lo = this.firstEndingAfter(seq);
    let start = seq;
    if (lo < ps.length && !seqGt(ps[lo]!.seq, seq)) {
      // A held piece covers the segment's start: the new part begins after it.
      start = ps[lo]!.end;
      if (!seqLt(start, end)) return 'duplicate';
      lo++;
    }
    // Pieces wholly inside [start, end) are absorbed into the new one; one that
    // reaches past `end` stays and the new piece stops where it begins.
    let hi = lo;
    let stop = end;
    let covered = 0;
    while (hi < ps.length && seqLt(ps[hi]!.seq, end)) {
      const p = ps[hi]!;
      if (seqGt(p.end, end)) {
        stop = p.seq;
        break;
      }
      covered += p.data.length;
      hi++;
    }
    const span = (stop - start) >>> 0;
    const fresh = span - covered;
    if (fresh <= 0) return 'duplicate';
    if (this.bytes + fresh > this.maxBytes) return 'no-memory';
    // Small neighbours that touch the new piece are merged into it.
    const left = lo > 0 && ps[lo - 1]!.end === start && ps[lo - 1]!.data.length + span <= MERGE_LIMIT ? ps[lo - 1]! : null;
    const right =
      hi < ps.length && ps[hi]!.seq === stop && ps[hi]!.data.length + span + (left?.data.length ?? 0) <= MERGE_LIMIT
        ? ps[hi]!
        : null;
    const removed = hi - lo + (left ? 1 : 0) + (right ? 1 : 0);
    if (ps.length - removed + 1 > this.maxPieces) {
      this.refusedForPieces++;
      return 'no-memory';
    }
    const leftLen = left ? left.data.length : 0;
    const buf = new Uint8Array(leftLen + span + (right ? right.data.length : 0));
    if (left) buf.set(left.data, 0);
    const from = (start - seq) >>> 0;
    buf.set(data.subarray(from, from + span), leftLen);
    for (let i = lo; i < hi; i++) {
      const p = ps[i]!;
      buf.set(p.data, leftLen + ((p.seq - start) >>> 0));
    }
    if (right) buf.set(right.data, leftLen + span);
    const piece: Piece = { seq: left ? left.seq : start, end: right ? right.end : stop, data: buf };
    ps.splice(left ? lo - 1 : lo, removed, piece);
    this.bytes += fresh;
    this.recent = seq;
    return 'stored';
  }

  /**
   * Removes the data that now follows `rcvNxt` without a gap (and anything
   * wholly before it), calling `deliver` for each chunk in order. Returns the
   * new rcvNxt.
   */
  take(rcvNxt: number, deliver: (chunk: Uint8Array) => void): number {
    const ps = this.pieces;
    let i = 0;
    let nxt = rcvNxt;
    for (; i < ps.length; i++) {
      const p = ps[i]!;
      if (seqGt(p.seq, nxt)) break;
      this.bytes -= p.data.length;
      if (!seqGt(p.end, nxt)) continue; // entirely old
      const chunk = p.data.subarray((nxt - p.seq) >>> 0);
      nxt = p.end;
      deliver(chunk);
    }
    if (i > 0) ps.splice(0, i);
    return nxt;
  }

  /** Whether data at `rcvNxt` is held (the gap has just been filled). */
  startsAt(rcvNxt: number): boolean {
    const p = this.pieces[0];
    return p !== undefined && !seqGt(p.seq, rcvNxt);
  }

  /**
   * Up to `max` SACK blocks as [left, right) pairs: the block holding the most
   * recent arrival first, then the others from the lowest. Only the blocks
   * reported are walked, not the whole queue.
   */
  sackBlocks(max: number, out: number[]): number {
    out.length = 0;
    const ps = this.pieces;
    if (ps.length === 0 || max <= 0) return 0;
    let skipFrom = -1;
    let skipTo = -1;
    if (this.recent >= 0) {
      const k = this.firstEndingAfter(this.recent);
      if (k < ps.length && !seqGt(ps[k]!.seq, this.recent)) {
        let a = k;
        while (a > 0 && ps[a - 1]!.end === ps[a]!.seq) a--;
        let b = k;
        while (b + 1 < ps.length && ps[b]!.end === ps[b + 1]!.seq) b++;
        out.push(ps[a]!.seq, ps[b]!.end);
        skipFrom = a;
        skipTo = b;
      }
    }
    for (let i = 0; i < ps.length && out.length < 2 * max; ) {
      if (i === skipFrom) {
        i = skipTo + 1;
        continue;
      }
      const l = ps[i]!.seq;
      let r = ps[i]!.end;
      i++;
      while (i < ps.length && ps[i]!.seq === r) r = ps[i++]!.end;
      out.push(l, r);
    }
    return out.length / 2;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }
}
