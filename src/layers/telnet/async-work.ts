/**
 * Work a module starts without keeping a task alive for it, and a driver for
 * the virtual clock that stays deterministic while such work is in flight.
 *
 * Two kinds:
 *  - 'external': finishes in the outside world, not on the stack's clock
 *    (scrypt on libuv's thread pool). The driver does not advance the virtual
 *    clock while any is in flight, so its result arrives at the virtual instant
 *    it was started, whatever the real time it took: a run stays a function of
 *    its seed.
 *  - 'clock': finishes because the clock moves (a ping waiting for replies). The
 *    driver lets promise continuations run after each clock step while any is
 *    in flight, so a completion is seen at the virtual time it happened.
 */
import type { VirtualClock } from '../../core/index.js';

export type WorkKind = 'external' | 'clock';

export class AsyncWork {
  external = 0;
  clock = 0;
  private idleWaiters: Array<() => void> = [];

  /** Count `p` as in flight until it settles. Returns `p`. */
  track<T>(p: Promise<T>, kind: WorkKind): Promise<T> {
    if (kind === 'external') this.external++;
    else this.clock++;
    const done = (): void => {
      if (kind === 'external') this.external--;
      else this.clock--;
      if (this.external === 0 && this.idleWaiters.length > 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    };
    p.then(done, done);
    return p;
  }

  get busy(): boolean {
    return this.external > 0 || this.clock > 0;
  }

  /** Resolves when no external work is in flight. */
  externalIdle(): Promise<void> {
    if (this.external === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface RunOptions {
  /** Virtual time allowed, ms. Default one hour. */
  limitMs?: number;
  /** Async work to respect (see AsyncWork). */
  work?: readonly AsyncWork[];
}

/**
 * Runs a virtual clock as fast as the CPU allows until `done()` holds, nothing
 * is left to run, or `limitMs` of virtual time has passed. Returns done().
 */
export async function runVirtual(clock: VirtualClock, done: () => boolean, opts: RunOptions = {}): Promise<boolean> {
  const work = opts.work ?? [];
  const end = clock.now() + (opts.limitMs ?? 3_600_000);
  const anyExternal = (): boolean => work.some((w) => w.external > 0);
  const anyBusy = (): boolean => work.some((w) => w.busy);
  for (;;) {
    if (anyExternal()) {
      await Promise.all(work.map((w) => w.externalIdle()));
      await turn();
      continue;
    }
    if (done()) return true;
    const at = clock.nextAt();
    if (at === undefined || at > end) {
      // Promise continuations may still schedule something at this instant.
      if (anyBusy() || at === undefined) {
        await turn();
        if (clock.nextAt() !== undefined && clock.nextAt()! <= end) continue;
        if (anyExternal()) continue;
      }
      if (at !== undefined && end > clock.now()) clock.advanceTo(end);
      return done();
    }
    clock.step();
    if (anyBusy()) await turn();
  }
}
