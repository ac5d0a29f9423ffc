import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentTask, Monitor } from '../../src/core/index.js';
import { chain, FAILED } from './support.js';

type Action =
  | { kind: 'ok'; client: number; value: number }
  | { kind: 'throw'; client: number }
  | { kind: 'defer'; client: number; value: number }
  | { kind: 'reentrant'; client: number; value: number }
  | { kind: 'reject'; client: number }
  | { kind: 'async-reject'; client: number }
  | { kind: 'lock-then-throw'; client: number }
  | { kind: 'advance'; ms: number };

const CLIENTS = 4;
const client = fc.integer({ min: 0, max: CLIENTS - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('ok' as const), client, value: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ kind: fc.constant('throw' as const), client }),
  fc.record({ kind: fc.constant('defer' as const), client, value: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ kind: fc.constant('reentrant' as const), client, value: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ kind: fc.constant('reject' as const), client }),
  fc.record({ kind: fc.constant('async-reject' as const), client }),
  fc.record({ kind: fc.constant('lock-then-throw' as const), client }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 500 }) }),
);

describe('runtime invariants under random tasks, failures and deferrals', () => {
  it('no held locks, no timers of dead clients, each cleanup once, survivors intact', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 60 }), async (actions) => {
        const { rt, clock, bottom, middle, top } = chain();
        // what each client's handler should do next, set before each arrival
        const plan = new Map<number, Action>();
        const expected = new Map<number, number[]>();
        const dead = new Set<number>();
        const clients = Array.from({ length: CLIENTS }, (_, i) => {
          expected.set(i, []);
          const c = middle.open(`c${i}`, top, {
            onValue: (cl, v) => {
              const p = plan.get(i)!;
              switch (p.kind) {
                case 'throw':
                  throw new Error('handler failed');
                case 'defer':
                  middle.sendDeferred(cl, v);
                  return undefined;
                case 'reentrant':
                  return middle.sendReentrant(cl, v);
                case 'reject':
                  return middle.sendRejected(cl, v);
                case 'async-reject':
                  return Promise.resolve().then(() => {
                    throw new Error('async failure');
                  });
                case 'lock-then-throw':
                  top.lock.locked(() => {
                    throw new Error('under lock');
                  });
                  return undefined;
                default:
                  return undefined;
              }
            },
          });
          middle.timer(c, 'keepalive', () => {}).arm(1000);
          return c;
        });
        for (const a of actions) {
          if (a.kind === 'advance') {
            clock.advance(a.ms);
            continue;
          }
          plan.set(a.client, a);
          const value = 'value' in a ? a.value : 0;
          const r = bottom.arrive(`c${a.client}`, value);
          if (dead.has(a.client)) {
            expect(r).toBeUndefined(); // dropped: its client is gone
            continue;
          }
          if (a.kind === 'defer' || a.kind === 'reentrant') expected.get(a.client)!.push(value);
          if (a.kind === 'throw' || a.kind === 'reject' || a.kind === 'lock-then-throw') {
            expect(r).toBe(FAILED);
            dead.add(a.client);
          }
          if (a.kind === 'async-reject') {
            await Promise.resolve();
            await Promise.resolve();
            dead.add(a.client);
          }
        }
        await Promise.all(rt.tasks().map((t) => t.ended()));
        // no locks held
        for (const m of [bottom, middle, top]) expect(m.lock.held).toBe(false);
        // no live tasks
        expect(rt.tasks()).toEqual([]);
        for (let i = 0; i < CLIENTS; i++) {
          const c = clients[i]!;
          if (dead.has(i)) {
            expect(middle.liveTimers(c)).toBe(0);
            expect(middle.cleaned.filter((x) => x[0] === `c${i}`).length).toBe(1);
            expect(top.cleaned.filter((x) => x[0] === `c${i}`).length).toBe(1);
          } else {
            expect(middle.liveTimers(c) + (c.open ? 0 : 1)).toBeGreaterThanOrEqual(0);
            expect(middle.cleaned.some((x) => x[0] === `c${i}`)).toBe(false);
            // survivors' results intact
            expect(c.sent).toEqual(expected.get(i));
          }
        }
        expect(rt.stats.tasksExpended).toBe(dead.size);
      }),
      { numRuns: 300, seed: Number(process.env['FC_SEED'] ?? 20261121) },
    );
  });
});

describe('Monitor', () => {
  it('is FIFO across async holders and re-entrant for its owner', async () => {
    const { bottom } = chain();
    const m = new Monitor('m');
    const order: string[] = [];
    const release = await m.acquire();
    const a = m.locked(() => order.push('a'));
    const b = m.locked(() => order.push('b'));
    expect(order).toEqual([]);
    expect(m.contended).toBe(2);
    release();
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    // re-entrant for the same task
    bottom.startTask('input', () => {
      m.locked(() => m.locked(() => order.push('nested')));
      expect(m.heldBy(currentTask())).toBe(false);
    });
    expect(order).toEqual(['a', 'b', 'nested']);
    expect(m.held).toBe(false);
  });

  it('a lock held by an expended task is given back to the next waiter', async () => {
    const { rt, bottom, middle, top } = chain();
    const m = new Monitor('m');
    middle.open('holder', top, {
      onValue: async () => {
        await m.acquire(); // never released by the handler
        await new Promise(() => {});
      },
    });
    bottom.arrive('holder', 1);
    await Promise.resolve();
    const holder = m.owner!;
    expect(holder).not.toBeNull();
    let granted = false;
    const waiting = m.locked(() => (granted = true));
    expect(granted).toBe(false);
    rt.abort(holder, 'stuck');
    await waiting;
    expect(granted).toBe(true);
    expect(m.held).toBe(false);
  });

  it('a task that ends normally gives back what it still holds', () => {
    const { bottom } = chain();
    const m = new Monitor('m');
    bottom.startTask('input', () => void m.acquire());
    expect(m.held).toBe(false);
  });
});
