import { describe, expect, it } from 'vitest';
import { IsnGenerator } from '../../../src/layers/tcp/isn.js';

describe('IsnGenerator: one hash per connection', () => {
  it('gives each tuple its own timestamp offset, the same whatever was asked before', () => {
    const g = new IsnGenerator(new Uint8Array(16).fill(1));
    const fresh = new IsnGenerator(new Uint8Array(16).fill(1));
    const off = g.timestampOffset(1, 1000, 2, 80);
    // Asked in another order, or after other tuples, the answers do not change.
    expect(fresh.isn(0, 1, 1001, 2, 80)).toBe(g.isn(0, 1, 1001, 2, 80));
    expect(g.timestampOffset(1, 1000, 2, 80)).toBe(off);
    expect(fresh.timestampOffset(1, 1000, 2, 80)).toBe(off);
    expect(g.timestampOffset(1, 1001, 2, 80)).not.toBe(off);
    expect(new IsnGenerator(new Uint8Array(16).fill(2)).timestampOffset(1, 1000, 2, 80)).not.toBe(off);
    // The offset is not the ISN's keyed part (the ISN at time 0).
    expect(g.isn(0, 1, 1000, 2, 80)).not.toBe(off);
    // isn() leaves the same offset for its tuple, from the same hash.
    expect(g.offset).toBe(off);
    fresh.isn(5, 1, 1001, 2, 80);
    expect(fresh.offset).toBe(g.timestampOffset(1, 1001, 2, 80));
  });
});
