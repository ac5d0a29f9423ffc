import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReassemblyQueue } from '../../../src/layers/tcp/reassembly.js';

const ISN = 0xffff_ff00; // exercise wrap-around of the sequence space

describe('ReassemblyQueue', () => {
  it('rebuilds the stream exactly once from overlapping, duplicated, shuffled pieces', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4000 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 700 })), { minLength: 1, maxLength: 40 }),
        (total, cuts) => {
          const stream = new Uint8Array(total).map((_, i) => (i * 7) & 0xff);
          const q = new ReassemblyQueue(1 << 20);
          let rcvNxt = ISN;
          const out: number[] = [];
          const pieces = cuts.map(([s, l]) => {
            const start = s % total;
            return [start, Math.min(total, start + l)] as const;
          });
          // Finally the whole stream in order, so everything becomes deliverable.
          for (const [a, b] of [...pieces, [0, total] as const]) {
            const seq = (ISN + a) >>> 0;
            const nxtOff = (rcvNxt - ISN) >>> 0;
            if (a <= nxtOff && b > nxtOff) {
              out.push(...stream.subarray(nxtOff, b));
              rcvNxt = (ISN + b) >>> 0;
              rcvNxt = q.take(rcvNxt, (c) => out.push(...c));
            } else if (a > nxtOff) {
              q.insert(seq, stream.subarray(a, b));
            }
          }
          expect(out.length).toBe(total);
          expect(Buffer.compare(Buffer.from(out), Buffer.from(stream))).toBe(0);
          expect(q.empty).toBe(true);
          expect(q.bytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses data beyond its memory bound and reports duplicates', () => {
    const q = new ReassemblyQueue(100);
    expect(q.insert(1000, new Uint8Array(60))).toBe('stored');
    expect(q.insert(1000, new Uint8Array(60))).toBe('duplicate');
    expect(q.insert(2000, new Uint8Array(60))).toBe('no-memory');
    expect(q.bytes).toBe(60);
  });

  it('gives SACK blocks, the most recent first, merged where contiguous', () => {
    const q = new ReassemblyQueue(1 << 16);
    q.insert(100, new Uint8Array(10));
    q.insert(110, new Uint8Array(10));
    q.insert(300, new Uint8Array(10));
    q.insert(200, new Uint8Array(5));
    const out: number[] = [];
    expect(q.sackBlocks(3, out)).toBe(3);
    expect(out).toEqual([200, 205, 100, 120, 300, 310]);
    expect(q.sackBlocks(2, out)).toBe(2);
    expect(out).toEqual([200, 205, 100, 120]);
  });
});
