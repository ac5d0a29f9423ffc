/**
 * Out-of-order segments waiting for the gap before them to fill.
 *
 * Pieces are kept sorted and never overlapping: a segment that overlaps what is
 * held contributes only its new bytes, so a duplicate costs nothing and delivery
 * is exactly once. Each piece is a copy (the packet buffer it came in lives only
 * for the upcall). The bytes held are bounded; a segment that would exceed the
 * bound is refused whole, and the sender retransmits it later.
 */
import { seqGt, seqLt } from '../../wire/seq.js';

interface Piece {
  seq: number;
  data: Uint8Array;
}

export type InsertResult = 'stored' | 'duplicate' | 'no-memory';

export class ReassemblyQueue {
  private pieces: Piece[] = [];
  /** Bytes held. */
  bytes = 0;
  /** Left edge of the block most recently added to (first SACK block, RFC 2018 section 4). */
  private recent = -1;

  constructor(readonly maxBytes: number) {}

  get empty(): boolean {
    return this.pieces.length === 0;
  }

  get count(): number {
    return this.pieces.length;
  }

  /** Stores the part of `data` (starting at `seq`) that is not held yet. */
  insert(seq: number, data: Uint8Array): InsertResult {
    const end = (seq + data.length) >>> 0;
    const ps = this.pieces;
    // Pieces of [seq, end) not covered by what is held.
    let fresh: Piece[] | null = null;
    let freshBytes = 0;
    let pos = seq;
    let at = -1; // index where the first fresh piece goes
    for (let i = 0; i < ps.length && seqLt(pos, end); i++) {
      const p = ps[i]!;
      const pEnd = (p.seq + p.data.length) >>> 0;
      if (!seqGt(pEnd, pos)) continue;
      if (at < 0) at = i;
      if (seqLt(pos, p.seq)) {
        const stop = seqLt(p.seq, end) ? p.seq : end;
        const len = (stop - pos) >>> 0;
        (fresh ??= []).push({ seq: pos, data: data.slice((pos - seq) >>> 0, ((pos - seq) >>> 0) + len) });
        freshBytes += len;
      }
      if (seqGt(pEnd, pos)) pos = pEnd;
    }
    if (seqLt(pos, end)) {
      const off = (pos - seq) >>> 0;
      (fresh ??= []).push({ seq: pos, data: data.slice(off) });
      freshBytes += data.length - off;
      if (at < 0) at = ps.length;
    }
    if (fresh === null) return 'duplicate';
    if (this.bytes + freshBytes > this.maxBytes) return 'no-memory';
    this.bytes += freshBytes;
    this.recent = seq;
    // Fresh pieces interleave with the held ones from index `at`: merge in order.
    const merged = ps.slice(0, at);
    let j = 0;
    for (let i = at; i < ps.length || j < fresh.length; ) {
      if (j < fresh.length && (i >= ps.length || seqLt(fresh[j]!.seq, ps[i]!.seq))) merged.push(fresh[j++]!);
      else merged.push(ps[i++]!);
    }
    this.pieces = merged;
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
      const pEnd = (p.seq + p.data.length) >>> 0;
      this.bytes -= p.data.length;
      if (!seqGt(pEnd, nxt)) continue; // entirely old
      const chunk = p.data.subarray((nxt - p.seq) >>> 0);
      nxt = pEnd;
      deliver(chunk);
    }
    if (i > 0) this.pieces = ps.slice(i);
    return nxt;
  }

  /** Whether data at `rcvNxt` is held (the gap has just been filled). */
  startsAt(rcvNxt: number): boolean {
    const p = this.pieces[0];
    return p !== undefined && !seqGt(p.seq, rcvNxt);
  }

  /**
   * Up to `max` SACK blocks as [left, right) pairs: the block holding the most
   * recent arrival first, then the others from the lowest.
   */
  sackBlocks(max: number, out: number[]): number {
    out.length = 0;
    const ps = this.pieces;
    if (ps.length === 0 || max <= 0) return 0;
    const blocks: number[] = [];
    let first = -1;
    for (let i = 0; i < ps.length; ) {
      const left = ps[i]!.seq;
      let right = (left + ps[i]!.data.length) >>> 0;
      let hasRecent = this.recent === left || this.inPiece(ps[i]!, this.recent);
      i++;
      while (i < ps.length && ps[i]!.seq === right) {
        if (!hasRecent) hasRecent = this.inPiece(ps[i]!, this.recent);
        right = (right + ps[i]!.data.length) >>> 0;
        i++;
      }
      if (hasRecent && first < 0) first = blocks.length;
      blocks.push(left, right);
    }
    if (first > 0) {
      out.push(blocks[first]!, blocks[first + 1]!);
      blocks.splice(first, 2);
    }
    for (let k = 0; k < blocks.length && out.length < 2 * max; k += 2) out.push(blocks[k]!, blocks[k + 1]!);
    return out.length / 2;
  }

  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }

  private inPiece(p: Piece, seq: number): boolean {
    if (seq < 0) return false;
    return !seqLt(seq, p.seq) && seqLt(seq, (p.seq + p.data.length) >>> 0);
  }
}
