import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Executor } from '../../../../src/layers/service/ext/executor.js';
import type { Outcome } from '../../../../src/layers/service/ext/types.js';
import { job, testbed } from './harness.js';

const worker = { url: new URL('./worker-handlers.ts', import.meta.url).href, export: 'handlers' };
const open: Executor[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

function threaded(workers = 2) {
  const { rt, clock } = testbed();
  const outcomes = new Map<number, Outcome>();
  const waiters = new Map<number, (o: Outcome) => void>();
  const ex = new Executor(rt.app('service'), {
    structure: 'threaded',
    worker,
    workers,
    done: (j, o) => {
      outcomes.set(j.id, o);
      waiters.get(j.id)?.(o);
    },
  });
  open.push(ex);
  const call = (name: string, args: unknown, deadlineAt?: number): Promise<Outcome> => {
    const j = job('c', name, args, { order: 'any' }, deadlineAt !== undefined ? { deadlineAt } : {});
    return new Promise((resolve) => {
      waiters.set(j.id, resolve);
      ex.submit(j);
    });
  };
  return { rt, clock, ex, call, outcomes };
}

describe("'threaded' servers", () => {
  it('run handlers in worker threads, not in this one, no more calls at once than workers', async () => {
    const { ex, call } = threaded(2);
    await ex.pool!.ready;
    const [a, b] = await Promise.all([call('square', 7), call('where', null)]);
    expect(a).toEqual({ ok: true, value: 49 });
    expect(b.ok && b.value).not.toBe(threadId);
    expect(await call('later', 1)).toEqual({ ok: true, value: 2 });
    expect(await call('boom', null)).toMatchObject({ ok: false, reason: 'threw', detail: 'worker handler failed' });
    // Never more calls at once than workers.
    const all = Promise.all([1, 2, 3, 4, 5].map((x) => call('later', x)));
    expect(ex.active).toBe(2);
    expect((await all).map((o) => o.ok && o.value)).toEqual([2, 3, 4, 5, 6]);
  });

  it('a call computing past its deadline has its thread terminated and replaced; the server goes on', async () => {
    const { clock, ex, call } = threaded(1);
    await ex.pool!.ready;
    const spinning = call('spin', 20_000, 50);
    // Let the call reach its worker, then move virtual time past the deadline.
    await new Promise((r) => setTimeout(r, 50));
    clock.advance(60);
    expect(await spinning).toMatchObject({ ok: false, reason: 'deadline' });
    expect(ex.pool!.stats.killed).toBe(1);
    expect(ex.stats.deadlines).toBe(1);
    expect(await call('square', 3)).toEqual({ ok: true, value: 9 });
    expect(ex.pool!.stats.started).toBe(2);
  });
});

describe('a threaded server whose handlers cannot load', () => {
  it('fails its calls with the reason instead of hanging', async () => {
    const { rt } = testbed();
    const outcomes: Outcome[] = [];
    const ex = new Executor(rt.app('service'), {
      structure: 'threaded',
      worker: { url: new URL('./worker-handlers.ts', import.meta.url).href, export: 'noSuchExport' },
      workers: 1,
      done: (_j, o) => outcomes.push(o),
    });
    open.push(ex);
    ex.submit(job('c', 'square', 2));
    for (let i = 0; i < 200 && outcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(outcomes).toEqual([{ ok: false, reason: 'threw', detail: expect.stringContaining("no export 'noSuchExport'") }]);
  });
});
