import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { elementaryCycles, stronglyConnected } from '../../src/check/cycles.js';

/** Every elementary cycle (length >= 2) by brute force: each path from its smallest node. */
function bruteForce(succ: number[][]): string[] {
  const out = new Set<string>();
  const n = succ.length;
  for (let s = 0; s < n; s++) {
    const path = [s];
    const on = new Set([s]);
    const walk = (v: number): void => {
      for (const w of succ[v]!) {
        if (w === s && path.length >= 2) out.add(path.join(','));
        else if (w > s && !on.has(w)) {
          path.push(w);
          on.add(w);
          walk(w);
          path.pop();
          on.delete(w);
        }
      }
    };
    walk(s);
  }
  return [...out].sort();
}

/** Rotate so the smallest node comes first, to compare with the brute force. */
function canonical(c: readonly number[]): string {
  let m = 0;
  for (let i = 1; i < c.length; i++) if (c[i]! < c[m]!) m = i;
  return [...c.slice(m), ...c.slice(0, m)].join(',');
}

const graphArb = fc.integer({ min: 1, max: 7 }).chain((n) =>
  fc.array(fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: n }), { minLength: n, maxLength: n }),
);

const unlimited = { maxCycles: 1e9, maxSteps: 1e9 };

describe('elementaryCycles', () => {
  it('finds every elementary cycle exactly once (against brute force)', () => {
    fc.assert(
      fc.property(graphArb, (succ) => {
        const r = elementaryCycles(succ, () => true, () => true, unlimited);
        const got = r.cycles.map(canonical);
        expect(new Set(got).size).toBe(got.length);
        expect(got.sort()).toEqual(bruteForce(succ));
        expect(r.truncated).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps only accepted cycles and skips components not worth searching', () => {
    // 0<->1 and 2->3->4->2
    const succ = [[1], [0], [3], [4], [2]];
    const all = elementaryCycles(succ, () => true, () => true, unlimited).cycles.map(canonical).sort();
    expect(all).toEqual(['0,1', '2,3,4']);
    const long = elementaryCycles(succ, (c) => c.length > 2, () => true, unlimited).cycles.map(canonical);
    expect(long).toEqual(['2,3,4']);
    const skip = elementaryCycles(succ, () => true, (comp) => !comp.includes(0), unlimited).cycles.map(canonical);
    expect(skip).toEqual(['2,3,4']);
  });

  it('stops at its limits and says so', () => {
    // A complete digraph on 8 nodes has thousands of elementary cycles.
    const n = 8;
    const succ = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => j).filter((j) => j !== i));
    const capped = elementaryCycles(succ, () => true, () => true, { maxCycles: 50, maxSteps: 1e9 });
    expect(capped.cycles).toHaveLength(50);
    expect(capped.truncated).toBe(true);
    const stepped = elementaryCycles(succ, () => true, () => true, { maxCycles: 1e9, maxSteps: 100 });
    expect(stepped.truncated).toBe(true);
    expect(stepped.steps).toBeGreaterThan(100);
  });

  it('ignores self-loops', () => {
    expect(elementaryCycles([[0, 1], [0]], () => true, () => true, unlimited).cycles.map(canonical)).toEqual(['0,1']);
  });

  it('handles a long chain without deep recursion', () => {
    const n = 50_000;
    const succ = Array.from({ length: n }, (_, i) => [(i + 1) % n]);
    const r = elementaryCycles(succ, () => true, () => true, unlimited);
    expect(r.cycles).toHaveLength(1);
    expect(r.cycles[0]).toHaveLength(n);
  });
});

describe('stronglyConnected', () => {
  it('groups mutually reachable nodes', () => {
    const succ = [[1], [2], [0, 3], [4], [3], []];
    const comps = stronglyConnected(succ, () => true, [0, 1, 2, 3, 4, 5]).map((c) => [...c].sort().join(','));
    expect(comps.sort()).toEqual(['0,1,2', '3,4', '5']);
  });
});
