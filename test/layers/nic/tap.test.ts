import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/core/index.js';
import { MAX_INTERFACE_NAME, pickTapName } from '../../../src/layers/nic/tap.js';

/** A seeded byte source in place of crypto's. */
function seeded(seed: number): (n: number) => Uint8Array {
  const rng = new Rng(seed);
  return (n) => rng.bytes(n);
}

describe('TAP names', () => {
  it('fit IFNAMSIZ and do not come from the pid: two processes with the same pid digits still differ', () => {
    const names = new Set<string>();
    const a = seeded(1);
    const b = seeded(2);
    for (let i = 0; i < 500; i++) {
      for (const name of [pickTapName(() => false, a), pickTapName(() => false, b)]) {
        expect(name).toMatch(/^uptap[0-9a-f]{8}$/);
        expect(name.length).toBeLessThanOrEqual(MAX_INTERFACE_NAME);
        names.add(name);
      }
    }
    expect(names.size).toBe(1000);
  });

  it('draws again while the name is taken, and gives up after a bounded number of tries', () => {
    const taken = new Set<string>();
    const first = pickTapName(() => false, seeded(9));
    taken.add(first);
    // The same random source again: its first draw is taken, so the second is used.
    const asked: string[] = [];
    const second = pickTapName((n) => (asked.push(n), taken.has(n)), seeded(9));
    expect(asked).toEqual([first, second]);
    expect(second).not.toBe(first);
    expect(() => pickTapName(() => true, seeded(3), 4)).toThrow('no free TAP name after 4 tries');
  });
});
