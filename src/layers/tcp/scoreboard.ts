/**
 * The SACK scoreboard (RFC 2018, used as RFC 6675 does): which ranges above
 * snd.una the receiver reported holding. During fast recovery the sender
 * repairs the holes between them, one segment per arriving ACK, instead of one
 * hole per round trip as plain NewReno must. Data is never freed on the word of
 * a SACK (only a cumulative ACK does that), and the board is forgotten on a
 * retransmission timeout in case the receiver reneged.
 */
import { seqGt, seqLeq, seqLt } from '../../wire/seq.js';

export class Scoreboard {
  /** Sorted, disjoint [left, right) pairs. */
  private blocks: number[] = [];

  get empty(): boolean {
    return this.blocks.length === 0;
  }

  /** Right edge of the highest block (only meaningful when not empty). */
  get highest(): number {
    return this.blocks[this.blocks.length - 1]!;
  }

  /** Adds the reported blocks that lie within (una, max]. */
  update(sack: readonly number[], una: number, max: number): void {
    for (let i = 0; i + 1 < sack.length; i += 2) {
      let l = sack[i]!;
      const r = sack[i + 1]!;
      if (!seqGt(r, una) || seqGt(r, max) || !seqLt(l, r)) continue;
      if (seqLt(l, una)) l = una;
      this.add(l, r);
    }
  }

  /** Forgets what the cumulative ACK now covers. */
  advance(una: number): void {
    const b = this.blocks;
    let k = 0;
    while (k < b.length && seqLeq(b[k + 1]!, una)) k += 2;
    if (k > 0) b.splice(0, k);
    if (b.length > 0 && seqLt(b[0]!, una)) b[0] = una;
  }

  clear(): void {
    this.blocks.length = 0;
  }

  /**
   * The first byte at or after `from` that no block covers, and how many bytes
   * follow it before the next block (Infinity when none follows).
   */
  nextHole(from: number): { seq: number; room: number } {
    const b = this.blocks;
    let s = from;
    for (let i = 0; i < b.length; i += 2) {
      const l = b[i]!;
      const r = b[i + 1]!;
      if (seqLeq(r, s)) continue;
      if (seqLeq(l, s)) {
        s = r;
        continue;
      }
      return { seq: s, room: (l - s) >>> 0 };
    }
    return { seq: s, room: Infinity };
  }

  private add(l: number, r: number): void {
    const b = this.blocks;
    const out: number[] = [];
    let i = 0;
    while (i < b.length && seqLt(b[i + 1]!, l)) {
      out.push(b[i]!, b[i + 1]!);
      i += 2;
    }
    while (i < b.length && seqLeq(b[i]!, r)) {
      if (seqLt(b[i]!, l)) l = b[i]!;
      if (seqGt(b[i + 1]!, r)) r = b[i + 1]!;
      i += 2;
    }
    out.push(l, r);
    for (; i < b.length; i += 2) out.push(b[i]!, b[i + 1]!);
    this.blocks = out;
  }
}
