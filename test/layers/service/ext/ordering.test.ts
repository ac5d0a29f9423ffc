import { describe, expect, it } from 'vitest';
import { PendingQueue } from '../../../../src/layers/service/ext/ordering.js';
import type { CallContext } from '../../../../src/layers/service/ext/context.js';
import { advance, FakeService, job, sleep, testbed } from './harness.js';

describe('arrival order per client', () => {
  it('runs one client\'s calls in arrival order, each after the previous completed, even when a later one is quicker', async () => {
    const { rt, clock } = testbed();
    const log: string[] = [];
    // put takes longer than get: without ordering, the get would overtake the put and read the old value.
    const store = new Map<string, string>([['k', 'old']]);
    const svc = new FakeService(rt, {
      put: async (a: { v: string }) => { log.push('put start'); await sleep(clock, 50); store.set('k', a.v); log.push('put end'); },
      get: async () => { log.push('get start'); await sleep(clock, 5); log.push('get end'); return store.get('k'); },
    });
    svc.executor.submit(job('c1', 'put', { v: 'new' }));
    svc.executor.submit(job('c1', 'get', null));
    await advance(clock, 100, 5);
    expect(log).toEqual(['put start', 'put end', 'get start', 'get end']);
    expect(svc.outcomes.map((o) => o.outcome)).toEqual([{ ok: true, value: undefined }, { ok: true, value: 'new' }]);
  });

  it('does not hold one client back for another', async () => {
    const { rt, clock } = testbed();
    const log: string[] = [];
    const svc = new FakeService(rt, { work: async (a: { who: string; ms: number }) => { await sleep(clock, a.ms); log.push(a.who); } });
    svc.executor.submit(job('slow', 'work', { who: 'slow', ms: 50 }));
    svc.executor.submit(job('fast', 'work', { who: 'fast', ms: 5 }));
    await advance(clock, 100, 5);
    expect(log).toEqual(['fast', 'slow']);
  });

  it("'any' calls are not held back: the quicker one completes first", async () => {
    const { rt, clock } = testbed();
    const log: string[] = [];
    const svc = new FakeService(rt, { work: async (a: { who: string; ms: number }) => { await sleep(clock, a.ms); log.push(a.who); } });
    svc.executor.submit(job('c1', 'work', { who: 'slow', ms: 50 }, { order: 'any' }));
    svc.executor.submit(job('c1', 'work', { who: 'fast', ms: 5 }, { order: 'any' }));
    await advance(clock, 100, 5);
    expect(log).toEqual(['fast', 'slow']);
  });
});

describe('out-of-order calls and the pending queue', () => {
  it('a handler sees the waiting calls and picks the next one (nearest block first, like a disk)', async () => {
    const { rt, clock } = testbed();
    const served: number[] = [];
    let head = 0;
    const read = async (block: number, ctx: CallContext): Promise<number> => {
      await sleep(clock, Math.abs(block - head));
      head = block;
      served.push(block);
      // Before returning, choose the waiting read nearest to where the head now is.
      const waiting = ctx.pending().map((c) => c.args as number);
      if (waiting.length > 0) {
        const nearest = waiting.reduce((a, b) => (Math.abs(b - head) < Math.abs(a - head) ? b : a));
        ctx.takeNext((c) => c.args === nearest);
      }
      return block;
    };
    const svc = new FakeService(rt, { read }, { structure: 'async' });
    for (const [i, b] of [90, 10, 85, 15, 80].entries()) svc.executor.submit(job(`c${i}`, 'read', b, { order: 'any' }));
    await advance(clock, 1000, 5);
    expect(served).toEqual([90, 85, 80, 15, 10]);
    // Arrival order would have sought 80+75+70+65+70 = 360 blocks; this order 90+5+5+65+5 = 170.
  });

  it('without out-of-order the same calls run in arrival order, and the handler sees no queue', async () => {
    const { rt, clock } = testbed();
    const served: number[] = [];
    const seen: number[] = [];
    const svc = new FakeService(rt, {
      read: async (block: number, ctx: CallContext) => { seen.push(ctx.pending().length); await sleep(clock, 1); served.push(block); },
    }, { structure: 'async' });
    for (const [i, b] of [90, 10, 85].entries()) svc.executor.submit(job(`c${i}`, 'read', b));
    await advance(clock, 100, 5);
    expect(served).toEqual([90, 10, 85]);
    expect(seen).toEqual([0, 0, 0]);
  });

  it('reorder sorts the waiting calls', () => {
    const q = new PendingQueue();
    for (const n of [3, 1, 2]) q.push(job('c', 'x', n, { order: 'any' }));
    q.reorder((a, b) => (a.args as number) - (b.args as number));
    expect(q.pending().map((c) => c.args)).toEqual([1, 2, 3]);
    expect([q.next()?.args, q.next()?.args, q.next()?.args, q.next()]).toEqual([1, 2, 3, undefined]);
  });

  it('between clients and kinds, the earliest arrival goes first; a client with nothing left leaves no lane', () => {
    const q = new PendingQueue();
    const a1 = job('a', 'x', 'a1');
    const b1 = job('b', 'x', 'b1', { order: 'any' });
    const a2 = job('a', 'x', 'a2');
    q.push(a1);
    q.push(b1);
    q.push(a2);
    expect(q.next()).toBe(a1);
    expect(q.next()).toBe(b1);
    expect(q.next()).toBeUndefined(); // a2 waits for a1
    q.finished(a1);
    expect(q.next()).toBe(a2);
    q.finished(a2);
    expect(q.size).toBe(0);
  });
});

describe('ordering invariants (property)', () => {
  it('whatever the interleaving, a client\'s arrival-ordered calls are taken in arrival order, never two at once; nothing is lost', async () => {
    const fc = (await import('fast-check')).default;
    type Op = { push: { client: number; any: boolean; admit: boolean } } | { next: true } | { finish: number };
    const op = fc.oneof(
      fc.record({ push: fc.record({ client: fc.integer({ min: 0, max: 3 }), any: fc.boolean(), admit: fc.boolean() }) }),
      fc.constant({ next: true as const }),
      fc.record({ finish: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops: Op[]) => {
        const q = new PendingQueue();
        const pushed: ReturnType<typeof job>[] = [];
        const running: ReturnType<typeof job>[] = [];
        const taken: ReturnType<typeof job>[] = [];
        const step = (): void => {
          const j = q.next() as ReturnType<typeof job> | undefined;
          if (j === undefined) return;
          if (j.ext.order !== 'any') expect(running.some((r) => r.client === j.client && r.ext.order !== 'any')).toBe(false);
          running.push(j);
          taken.push(j);
        };
        for (const o of ops) {
          if ('push' in o) {
            const j = job(`c${o.push.client}`, 'x', null, o.push.any ? { order: 'any' } : {});
            pushed.push(j);
            // The executor's shortcut: taken at once when nothing waits and its turn has come.
            if (o.push.admit && q.admit(j)) {
              if (j.ext.order !== 'any') expect(running.some((r) => r.client === j.client && r.ext.order !== 'any')).toBe(false);
              running.push(j);
              taken.push(j);
            } else q.push(j);
          } else if ('next' in o) step();
          else if (running.length > 0) q.finished(running.splice(o.finish % running.length, 1)[0]!);
        }
        // Drain: finish everything, take everything.
        for (;;) {
          while (running.length > 0) q.finished(running.pop()!);
          const before = taken.length;
          step();
          if (taken.length === before) break;
        }
        expect(new Set(taken)).toEqual(new Set(pushed));
        expect(q.size).toBe(0);
        for (let c = 0; c < 4; c++) {
          const order = (xs: typeof pushed) => xs.filter((j) => j.client === `c${c}` && j.ext.order !== 'any');
          expect(order(taken)).toEqual(order(pushed));
        }
      }),
      { seed: 4242, numRuns: 300 },
    );
  });
});
