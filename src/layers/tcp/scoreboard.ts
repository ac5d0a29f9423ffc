/**
 * The SACK scoreboard (RFC 2018, used as RFC 6675 does): which ranges above
 * snd.una the receiver reported holding, which unacknowledged bytes are deemed
 * lost, and which were retransmitted and may still be in flight. From these
 * the sender computes `pipe` (RFC 6675 SetPipe) and the next segment to repair
 * (NextSeg rule 1), so a whole window's worth of holes is repaired in one round
 * trip instead of one hole per round trip as plain NewReno must.
 *
 * A byte is lost (RFC 6675 IsLost) when more than DupThresh-1 segments' worth
 * of bytes, or DupThresh discontiguous blocks, are SACKed above it. Because the
 * SACKed bytes above a point only decrease as the point rises, the lost bytes
 * form a prefix: everything unSACKed below one edge. A second edge, `lossTo`,
 * extends that prefix where the sender knows more than the blocks tell:
 * after a timeout everything outstanding is lost, and once a retransmission is
 * delivered every never-retransmitted byte sent before it that is still
 * missing is lost too (the time-ordering argument of RACK, RFC 8985, made with
 * sequence numbers instead of timestamps: data is sent in order, so "sent
 * before the retransmission" is "below snd.max as it was then").
 *
 * Retransmissions are remembered as [left, right, order, mark] records: `order`
 * counts retransmissions, `mark` is snd.max when it left. A retransmission is
 * itself deemed lost (RFC 6675 leaves this to the RTO; Linux and RACK do not)
 * when more than DupThresh-1 segments' worth of data first sent after it was
 * SACKed, or when a retransmission sent DupThresh or more later was delivered.
 *
 * Data is never freed on the word of a SACK (only a cumulative ACK does that).
 * After a timeout the blocks are kept, as Linux keeps them, so the go-back
 * skips what the receiver holds; a second timeout of the same data forgets them
 * in case the receiver reneged (RFC 2018 section 8).
 */
import { seqGt, seqLeq, seqLt } from '../../wire/seq.js';

/** RFC 6675 DupThresh. */
export const DUP_THRESH = 3;

/** A byte sequence number and how many bytes follow it to the next obstacle. */
export interface Hole {
  seq: number;
  room: number;
}

/**
 * The lists of a scoreboard that never saw a SACK block nor retransmitted (most
 * connections): one shared empty array, never grown (add and retransmitted
 * give a scoreboard its own list first); emptying it is harmless.
 */
const NONE: number[] = [];

export class Scoreboard {
  /** Sorted, disjoint [left, right) pairs. */
  private blocks: number[] = NONE;
  /** Bytes the blocks cover. */
  sackedBytes = 0;
  /** Retransmissions not yet delivered nor deemed lost: [left, right, order, mark] sorted by left. */
  private rtx: number[] = NONE;
  private orders = 0;
  /** Highest order of a retransmission known delivered (-1: none). */
  private deliveredOrder = -1;
  /** Unsacked, never-retransmitted bytes below this are lost whatever the blocks say. */
  private lossTo = 0;
  private lossToSet = false;
  /** Scratch result of the hole searches (no allocation per segment; made on the first, as most connections never search). */
  private hole: Hole | null = null;

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  /** Something beyond a plain flight is known: blocks, retransmissions or lost bytes. */
  active(una: number): boolean {
    return this.blocks.length > 0 || this.rtx.length > 0 || (this.lossToSet && seqGt(this.lossTo, una));
  }

  /** Right edge of the highest block (only meaningful when not empty). */
  get highest(): number {
    return this.blocks[this.blocks.length - 1]!;
  }

  /** Retransmissions still counted in flight. */
  get retransmissionsInFlight(): number {
    return this.rtx.length >>> 2;
  }

  /** Adds the reported blocks that lie within (una, max]. Returns the bytes newly SACKed. */
  update(sack: readonly number[], una: number, max: number): number {
    const before = this.sackedBytes;
    for (let i = 0; i + 1 < sack.length; i += 2) {
      let l = sack[i]!;
      const r = sack[i + 1]!;
      if (!seqGt(r, una) || seqGt(r, max) || !seqLt(l, r)) continue;
      if (seqLt(l, una)) l = una;
      this.add(l, r);
    }
    return this.sackedBytes - before;
  }

  /**
   * Forgets what the cumulative ACK now covers. A retransmission wholly
   * covered was delivered (by it or by the original).
   */
  advance(una: number): void {
    const b = this.blocks;
    let k = 0;
    while (k < b.length && seqLeq(b[k + 1]!, una)) {
      this.sackedBytes -= (b[k + 1]! - b[k]!) >>> 0;
      k += 2;
    }
    if (k > 0) b.splice(0, k);
    if (b.length > 0 && seqLt(b[0]!, una)) {
      this.sackedBytes -= (una - b[0]!) >>> 0;
      b[0] = una;
    }
    const x = this.rtx;
    k = 0;
    while (k < x.length && seqLeq(x[k + 1]!, una)) {
      this.delivered(x[k + 2]!, x[k + 3]!);
      k += 4;
    }
    if (k > 0) x.splice(0, k);
    if (x.length > 0 && seqLt(x[0]!, una)) x[0] = una;
    // Passed: forget it before sequence numbers wrap and it looks ahead again.
    if (this.lossToSet && !seqGt(this.lossTo, una)) this.lossToSet = false;
  }

  /** Forgets everything (the connection is reset, or the receiver may have reneged). */
  clear(): void {
    this.blocks.length = 0;
    this.sackedBytes = 0;
    this.rtx.length = 0;
    this.deliveredOrder = -1;
    this.lossToSet = false;
  }

  /**
   * A retransmission timeout: everything outstanding is lost and every
   * retransmission with it. `renege` also forgets the blocks.
   */
  timedOut(max: number, renege: boolean): void {
    if (renege) {
      this.blocks.length = 0;
      this.sackedBytes = 0;
    }
    this.rtx.length = 0;
    this.deliveredOrder = -1;
    this.markLost(max);
  }

  /** Everything unsacked below `seq` that was not retransmitted is lost. */
  markLost(seq: number): void {
    if (!this.lossToSet || seqGt(seq, this.lossTo)) {
      this.lossTo = seq;
      this.lossToSet = true;
    }
  }

  /** [l, r) was sent again, when snd.max was `mark`. */
  retransmitted(l: number, r: number, mark: number): void {
    if (this.rtx === NONE) this.rtx = [];
    const x = this.rtx;
    let i = 0;
    while (i < x.length && seqLt(x[i]!, l)) i += 4;
    x.splice(i, 0, l, r, this.orders++, mark);
  }

  /**
   * Settles the retransmissions after the blocks changed: those the blocks now
   * cover were delivered; those the evidence says were lost again are
   * forgotten, so their bytes count as lost and are sent once more.
   * Returns how many were deemed lost.
   */
  settle(mss: number): number {
    const x = this.rtx;
    if (x.length === 0) return 0;
    for (let i = 0; i < x.length; ) {
      if (this.covered(x[i]!, x[i + 1]!)) {
        this.delivered(x[i + 2]!, x[i + 3]!);
        x.splice(i, 4);
      } else {
        i += 4;
      }
    }
    let lost = 0;
    const limit = (DUP_THRESH - 1) * mss;
    for (let i = 0; i < x.length; ) {
      const sentAfter = this.deliveredOrder - x[i + 2]! >= DUP_THRESH;
      if (sentAfter || (this.blocks.length > 0 && seqGt(this.highest, x[i + 3]!) && this.sackedAbove(x[i + 3]!) > limit)) {
        x.splice(i, 4);
        lost++;
      } else {
        i += 4;
      }
    }
    return lost;
  }

  /**
   * The left edge of the bytes deemed lost: unsacked bytes in [una, edge) are
   * lost, unless retransmitted since. Equal to `una` when nothing is lost.
   */
  lossEdge(una: number, max: number, mss: number): number {
    let edge = una;
    const b = this.blocks;
    let bytes = 0;
    let count = 0;
    const limit = (DUP_THRESH - 1) * mss;
    for (let i = b.length - 2; i >= 0; i -= 2) {
      bytes += (b[i + 1]! - b[i]!) >>> 0;
      count++;
      if (bytes > limit || count >= DUP_THRESH) {
        edge = b[i]!;
        break;
      }
    }
    if (this.lossToSet && seqGt(this.lossTo, edge)) edge = this.lossTo;
    if (seqGt(edge, max)) edge = max;
    if (seqLt(edge, una)) edge = una;
    return edge;
  }

  /** RFC 6675 IsLost(una): is the first unacknowledged byte lost? */
  headLost(una: number, max: number, mss: number): boolean {
    return seqGt(this.lossEdge(una, max, mss), una);
  }

  /**
   * RFC 6675 SetPipe: bytes believed in the network. Each unsacked byte counts
   * once unless it is lost, and once more if it was retransmitted.
   */
  pipe(una: number, max: number, mss: number): number {
    const outstanding = (max - una) | 0;
    if (outstanding <= 0) return 0;
    const edge = this.lossEdge(una, max, mss);
    const lost = ((edge - una) | 0) - this.sackedIn(una, edge);
    let again = 0;
    const x = this.rtx;
    for (let i = 0; i < x.length; i += 4) {
      const l = x[i]!;
      const r = x[i + 1]!;
      again += ((r - l) | 0) - this.sackedIn(l, r);
    }
    const p = outstanding - this.sackedBytes - lost + again;
    return p > 0 ? p : 0;
  }

  /**
   * NextSeg rule 1: the first lost byte that is neither SACKed nor already
   * retransmitted, and the bytes after it up to the next such obstacle (or
   * `max`). Null when nothing is left to repair. The result is reused.
   */
  nextLost(una: number, max: number, mss: number): Hole | null {
    return this.firstGap(una, this.lossEdge(una, max, mss), max);
  }

  /**
   * NextSeg rule 3: the first byte below the highest SACKed one that is neither
   * SACKed nor retransmitted, lost or not. Null when there is none.
   */
  nextUnsacked(una: number, max: number): Hole | null {
    if (this.blocks.length === 0) return null;
    return this.firstGap(una, this.highest, max);
  }

  /** SACKed bytes at or above `seq`. */
  sackedAbove(seq: number): number {
    const b = this.blocks;
    let n = 0;
    for (let i = b.length - 2; i >= 0; i -= 2) {
      const l = b[i]!;
      const r = b[i + 1]!;
      if (seqLeq(r, seq)) break;
      n += seqLt(l, seq) ? (r - seq) >>> 0 : (r - l) >>> 0;
    }
    return n;
  }

  /** First byte in [from, below) covered by neither a block nor a retransmission. */
  private firstGap(from: number, below: number, max: number): Hole | null {
    const b = this.blocks;
    const x = this.rtx;
    let s = from;
    let i = 0;
    let j = 0;
    for (;;) {
      if (!seqLt(s, below) || !seqLt(s, max)) return null;
      while (i < b.length && seqLeq(b[i + 1]!, s)) i += 2;
      while (j < x.length && seqLeq(x[j + 1]!, s)) j += 4;
      if (i < b.length && seqLeq(b[i]!, s)) {
        s = b[i + 1]!;
        continue;
      }
      if (j < x.length && seqLeq(x[j]!, s)) {
        s = x[j + 1]!;
        continue;
      }
      let stop = max;
      if (i < b.length && seqLt(b[i]!, stop)) stop = b[i]!;
      if (j < x.length && seqLt(x[j]!, stop)) stop = x[j]!;
      const h = (this.hole ??= { seq: 0, room: 0 });
      h.seq = s;
      h.room = (stop - s) >>> 0;
      return h;
    }
  }

  /** A retransmission was delivered: later evidence is measured against it. */
  private delivered(order: number, mark: number): void {
    if (order > this.deliveredOrder) this.deliveredOrder = order;
    // Everything sent before it and still missing is lost (see the file comment).
    this.markLost(mark);
  }

  /** Whether the blocks cover [l, r) entirely. */
  private covered(l: number, r: number): boolean {
    const b = this.blocks;
    for (let i = 0; i < b.length; i += 2) {
      if (seqLeq(b[i]!, l) && seqLeq(r, b[i + 1]!)) return true;
      if (seqGt(b[i]!, l)) return false;
    }
    return false;
  }

  /** SACKed bytes within [l, r). */
  private sackedIn(l: number, r: number): number {
    if (!seqLt(l, r)) return 0;
    const b = this.blocks;
    let n = 0;
    for (let i = 0; i < b.length; i += 2) {
      const bl = b[i]!;
      const br = b[i + 1]!;
      if (seqLeq(br, l)) continue;
      if (!seqLt(bl, r)) break;
      const lo = seqLt(bl, l) ? l : bl;
      const hi = seqLt(br, r) ? br : r;
      n += (hi - lo) >>> 0;
    }
    return n;
  }

  private add(l: number, r: number): void {
    if (this.blocks === NONE) this.blocks = [];
    const b = this.blocks;
    let i = 0;
    while (i < b.length && seqLt(b[i + 1]!, l)) i += 2;
    let j = i;
    let removed = 0;
    while (j < b.length && seqLeq(b[j]!, r)) {
      if (seqLt(b[j]!, l)) l = b[j]!;
      if (seqGt(b[j + 1]!, r)) r = b[j + 1]!;
      removed += (b[j + 1]! - b[j]!) >>> 0;
      j += 2;
    }
    this.sackedBytes += ((r - l) >>> 0) - removed;
    if (j - i === 2) {
      b[i] = l;
      b[i + 1] = r;
    } else {
      b.splice(i, j - i, l, r);
    }
  }
}
