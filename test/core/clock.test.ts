import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/core/clock.js';

type Op = { kind: 'schedule'; delay: number } | { kind: 'cancel'; pick: number } | { kind: 'advance'; ms: number } | { kind: 'step' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('schedule' as const), delay: fc.oneof(fc.constant(0), fc.constant(0.02), fc.constant(200), fc.integer({ min: -5, max: 50 }), fc.double({ min: 0, max: 100, noNaN: true })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 60, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('step' as const) }) },
);

describe('VirtualClock', () => {
  it('runs entries in (time, scheduling order), whatever mix of lanes and heap holds them', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const clock = new VirtualClock();
        const ran: number[] = [];
        // The reference: every live entry, run in order of (time, sequence).
        const model: Array<{ at: number; id: number; live: boolean }> = [];
        const entries: Array<ReturnType<VirtualClock['schedule']>> = [];
        const expected: number[] = [];
        const runModel = (until: number | 'one'): void => {
          const live = model.filter((m) => m.live).sort((a, b) => a.at - b.at || a.id - b.id);
          for (const m of live) {
            if (until !== 'one' && m.at > until) break;
            m.live = false;
            expected.push(m.id);
            if (until === 'one') break;
          }
        };
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const id = model.length;
            const at = clock.now() + o.delay;
            model.push({ at: Math.max(at, clock.now()), id, live: true });
            entries.push(clock.schedule(at, () => ran.push(id)));
          } else if (o.kind === 'cancel' && entries.length > 0) {
            const i = o.pick % entries.length;
            clock.cancel(entries[i]!);
            model[i]!.live = false;
          } else if (o.kind === 'advance') {
            runModel(clock.now() + o.ms);
            clock.advance(o.ms);
          } else if (o.kind === 'step') {
            runModel('one');
            clock.step();
          }
          expect(clock.pending).toBe(model.filter((m) => m.live).length);
        }
        runModel(Infinity);
        clock.runAll(Infinity);
        expect(ran).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order among entries due at the same time across lanes and heap', () => {
    const clock = new VirtualClock();
    const ran: string[] = [];
    clock.schedule(10, () => ran.push('a'));
    clock.schedule(5, () => ran.push('b'));
    clock.schedule(10, () => ran.push('c'));
    clock.schedule(1, () => ran.push('d'));
    clock.schedule(7, () => ran.push('e'));
    clock.schedule(3, () => ran.push('f'));
    clock.schedule(10, () => ran.push('g'));
    clock.schedule(0.5, () => ran.push('h'));
    clock.schedule(10, () => ran.push('i'));
    clock.runAll();
    expect(ran).toEqual(['h', 'd', 'f', 'b', 'e', 'a', 'c', 'g', 'i']);
  });
});
