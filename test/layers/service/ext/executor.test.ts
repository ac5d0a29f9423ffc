import { describe, expect, it } from 'vitest';
import { advance, FakeService, flush, job, sleep, testbed } from './harness.js';
import type { CallContext } from '../../../../src/layers/service/ext/context.js';

describe('deadline', () => {
  it('expends the task of a call still running at its deadline: cleanups run, the outcome says deadline', async () => {
    const { rt, clock } = testbed();
    const undone: string[] = [];
    let aborted = false;
    const store = new Map<string, number>();
    const svc = new FakeService(rt, {
      slowPut: async (args: { key: string }, ctx: CallContext) => {
        ctx.signal.addEventListener('abort', () => (aborted = true));
        store.set(args.key, 1); // a change the server's cleanup must undo
        await sleep(clock, 500);
        return 'done';
      },
    }, {}, (j, reason) => {
      store.delete((j.args as { key: string }).key);
      undone.push(reason);
    });
    const j = job('c1', 'slowPut', { key: 'k' }, { deadlineMs: 100 }, { deadlineAt: clock.now() + 100 });
    svc.executor.submit(j);
    await advance(clock, 99);
    expect(svc.outcomes).toEqual([]);
    await advance(clock, 10);
    expect(svc.outcomes).toHaveLength(1);
    expect(svc.outcomes[0]!.outcome).toMatchObject({ ok: false, reason: 'deadline' });
    expect(svc.outcomes[0]!.at).toBe(100);
    expect(svc.cleaned).toEqual([expect.stringMatching(/^slowPut#\d+@c1: deadline/)]);
    expect(undone).toHaveLength(1);
    expect(store.has('k')).toBe(false);
    expect(aborted).toBe(true);
    expect(svc.executor.stats).toMatchObject({ failed: 1, deadlines: 1, completed: 0 });
    // The handler resuming later changes nothing: the call ended once.
    await advance(clock, 600, 50);
    expect(svc.outcomes).toHaveLength(1);
  });

  it('without a deadline the same call just keeps running (what the deadline is for)', async () => {
    const { rt, clock } = testbed();
    const svc = new FakeService(rt, { slowPut: () => new Promise(() => {}) });
    svc.executor.submit(job('c1', 'slowPut', {}));
    await advance(clock, 10_000, 500);
    expect(svc.outcomes).toEqual([]);
    expect(svc.cleaned).toEqual([]);
  });

  it('a call that finishes in time completes normally, no cleanup', async () => {
    const { rt, clock } = testbed();
    const svc = new FakeService(rt, { quick: async (x: number) => (await sleep(clock, 20), x * 2) });
    svc.executor.submit(job('c1', 'quick', 21, { deadlineMs: 100 }, { deadlineAt: 100 }));
    await advance(clock, 200, 10);
    expect(svc.outcomes.map((o) => o.outcome)).toEqual([{ ok: true, value: 42 }]);
    expect(svc.cleaned).toEqual([]);
  });

  it('a call whose deadline passed while it waited its turn never runs', async () => {
    const { rt, clock } = testbed();
    const ran: number[] = [];
    const svc = new FakeService(rt, { work: async (n: number) => (ran.push(n), await sleep(clock, 50), n) }, { structure: 'async' });
    svc.executor.submit(job('c1', 'work', 1));
    svc.executor.submit(job('c2', 'work', 2, { deadlineMs: 30 }, { deadlineAt: 30 }));
    await advance(clock, 200, 5);
    expect(ran).toEqual([1]);
    expect(svc.outcomes.map((o) => o.outcome.ok ? 'ok' : o.outcome.reason)).toEqual(['ok', 'deadline']);
  });

  it('a handler that throws fails its call with the reason, and the next call runs', async () => {
    const { rt, clock } = testbed();
    const svc = new FakeService(rt, { boom: () => { throw new Error('disk on fire'); }, ok: () => 'fine' });
    svc.executor.submit(job('c1', 'boom', null));
    svc.executor.submit(job('c1', 'ok', null));
    await advance(clock, 5);
    expect(svc.outcomes.map((o) => o.outcome)).toEqual([{ ok: false, reason: 'threw', detail: 'disk on fire' }, { ok: true, value: 'fine' }]);
    expect(svc.cleaned).toHaveLength(1);
  });
});

describe('structures', () => {
  it("'direct' runs a synchronous handler at once, in the task that submitted it", () => {
    const { rt } = testbed();
    const svc = new FakeService(rt, { add: (a: [number, number]) => a[0] + a[1] });
    svc.executor.submit(job('c1', 'add', [2, 3]));
    expect(svc.outcomes.map((o) => o.outcome)).toEqual([{ ok: true, value: 5 }]);
  });

  it("'async' takes calls through the service module's mailbox, one after the other", async () => {
    const { rt, clock } = testbed();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    const svc = new FakeService(rt, {
      work: async (n: number) => {
        inside++;
        most = Math.max(most, inside);
        log.push(`start ${n}`);
        await sleep(clock, 10);
        log.push(`end ${n}`);
        inside--;
        return n;
      },
    }, { structure: 'async' });
    for (let i = 1; i <= 3; i++) svc.executor.submit(job(`c${i}`, 'work', i, { order: 'any' }));
    // Nothing runs in the submitting turn: the mailbox delivers later.
    expect(log).toEqual([]);
    await advance(clock, 100, 5);
    expect(most).toBe(1);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(svc.mailbox?.stats.messages).toBe(3);
  });

  it("'direct' lets calls of different clients overlap", async () => {
    const { rt, clock } = testbed();
    let inside = 0;
    let most = 0;
    const svc = new FakeService(rt, { work: async () => { inside++; most = Math.max(most, inside); await sleep(clock, 10); inside--; } });
    for (let i = 1; i <= 3; i++) svc.executor.submit(job(`c${i}`, 'work', i));
    await advance(clock, 50, 5);
    await flush();
    expect(most).toBe(3);
    expect(svc.outcomes).toHaveLength(3);
  });
});

describe('a server module taking its upcalls through a mailbox (queued dispatch)', () => {
  it('still gets each result, and its deadline still expends the task the handler runs in', async () => {
    const { rt, clock } = testbed();
    const svc = new FakeService(rt, {
      quick: (x: number) => x + 1,
      slow: async () => {
        await sleep(clock, 500);
        return 'late';
      },
    });
    rt.app('server').dispatch = 'queued';
    svc.executor.submit(job('c1', 'quick', 1));
    svc.executor.submit(job('c2', 'slow', null, { deadlineMs: 50 }, { deadlineAt: 50 }));
    await advance(clock, 200, 5);
    expect(svc.outcomes.map((o) => o.outcome)).toEqual([{ ok: true, value: 2 }, expect.objectContaining({ ok: false, reason: 'deadline' })]);
    expect(svc.outcomes[1]!.at).toBe(50);
    expect(rt.app('server').mailbox?.stats.messages).toBe(2);
  });
});
