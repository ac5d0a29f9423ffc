import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seqAdd, seqDiff, seqGeq, seqGt, seqInWindow, seqLeq, seqLt, seqMax, seqMin } from '../../src/wire/seq.js';

describe('sequence-number arithmetic', () => {
  it('compares across the 2^32 wrap', () => {
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqLeq(5, 5)).toBe(true);
    expect(seqGeq(5, 5)).toBe(true);
    expect(seqLt(5, 5)).toBe(false);
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(0xffffffff);
    expect(seqDiff(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqDiff(0xfffffff0, 0x10)).toBe(-0x20);
    expect(seqMax(0xfffffff0, 0x10)).toBe(0x10);
    expect(seqMin(0xfffffff0, 0x10)).toBe(0xfffffff0);
  });

  it('tests window membership across the wrap', () => {
    expect(seqInWindow(0x05, 0xfffffffe, 10)).toBe(true);
    expect(seqInWindow(0x08, 0xfffffffe, 10)).toBe(false);
    expect(seqInWindow(0xfffffffd, 0xfffffffe, 10)).toBe(false);
    expect(seqInWindow(7, 7, 0)).toBe(false);
  });

  it('agrees with ordinary arithmetic for any base and distance below 2^31', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 }), (a, d) => {
        const b = seqAdd(a, d);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(0xffffffff);
        expect(seqDiff(b, a)).toBe(d);
        expect(seqLt(a, b)).toBe(d > 0);
        expect(seqGt(a, b)).toBe(d < 0);
        expect(seqLeq(a, b)).toBe(d >= 0);
        expect(seqGeq(a, b)).toBe(d <= 0);
      }),
    );
  });
});
