/**
 * The runtime's one deferral (Module.afterUnwind, and entry points declared
 * 'defer' on the same queue) and read-only entry points (Module.query), on a
 * small two-module stack: Lower (an event source serving clients, shaped like
 * TCP: it upcalls a client's handler and flushes for that client when its work
 * is done) and the handlers bound on it by an application module.
 */
import { describe, expect, it } from 'vitest';
import {
  currentFrame,
  currentTask,
  FAILED,
  Module,
  Runtime,
  SlotTable,
  VirtualClock,
  type Binding,
  type StackEvent,
} from '../../src/core/index.js';

interface LowerSlots {
  onInput(c: Conn, value: number): void;
  onReady(c: Conn): void;
}

class Conn {
  binding!: Binding<LowerSlots>;
  flushes = 0;
  constructor(readonly key: string) {}
  describe(): string {
    return `conn ${this.key}`;
  }
}

class Lower extends Module<undefined, Conn> {
  readonly trail: string[] = [];
  readonly cleaned: string[] = [];
  readonly flushTasks: number[] = [];
  constructor(rt: Runtime) {
    super(rt, 'lower');
  }

  open(key: string, owner: Module, h: Partial<LowerSlots>): Conn {
    const c = new Conn(key);
    c.binding = new SlotTable<LowerSlots>(this, `conn ${key}`, { onInput: 'one', onReady: 'one' }).bind(owner, h, c);
    return c;
  }

  /** An arrival for `c`: a task starts here, claims `c`, upcalls, then asks for a flush. */
  arrive(c: Conn, value: number): unknown {
    return this.startTask('frame', () => {
      this.claim(c);
      this.trail.push(`in ${c.key}:${value}`);
      if (this.upcall(c.binding, 'onInput', c, value) === FAILED) return FAILED;
      this.trail.push(`after-upcall ${c.key}`);
      this.requestFlush(c);
      this.trail.push(`end ${c.key}`);
      return undefined;
    });
  }

  /** Like TCP's armSend: claims the client, asks for a flush. */
  readonly request = this.entry('request', 'reentrant', (c: Conn): void => {
    this.claim(c);
    this.trail.push(`request ${c.key}`);
    this.requestFlush(c);
  });

  /** Same queue, entry-point flavour. */
  readonly later = this.entry('later', 'defer', (c: Conn, tag: string): void => {
    this.trail.push(`later ${c.key}:${tag}`);
  });

  readonly peek = this.query('peek', (c: Conn): number => c.flushes);

  /** A query that breaks its word. */
  readonly badQuery = this.query('badQuery', (c: Conn): number => {
    this.upcall(c.binding, 'onReady', c);
    return 0;
  });

  requestFlush(c: Conn): void {
    this.afterUnwind(c, 'flush', () => this.flush(c));
  }

  /** Called with no activation of Lower for `c` on the path (from another module's task). */
  flushFromAnywhere(c: Conn): void {
    this.afterUnwind(c, 'flush', () => {
      const f = currentFrame()!;
      this.trail.push(`now in ${f.module.name} for ${(f.client as Conn).key}`);
      this.flush(c);
    });
  }

  private flush(c: Conn): void {
    c.flushes++;
    this.flushTasks.push(currentTask()!.id);
    this.trail.push(`flush ${c.key}#${c.flushes}`);
    this.upcall(c.binding, 'onReady', c);
  }

  /** Set: cleanup asks for a flush (as a cleanup closing a connection asks for its FIN). */
  flushOnCleanup = false;

  protected override cleanup(c: Conn | undefined, reason: string): void {
    this.cleaned.push(`${c?.key ?? '-'}: ${reason}`);
    if (this.flushOnCleanup && c !== undefined) this.requestFlush(c);
  }
}

function stack(): { rt: Runtime; lower: Lower; app: Module; events: StackEvent[] } {
  const rt = new Runtime({ name: 't', clock: new VirtualClock() });
  const lower = new Lower(rt);
  const app = rt.app('app');
  const events: StackEvent[] = [];
  rt.events.subscribe((e) => events.push(e));
  return { rt, lower, app, events };
}

describe('afterUnwind: work for a client runs when the outermost activation working for it unwinds', () => {
  it('a request made inside the upcall waits until the activation has finished its own work, then runs once, in the same task', () => {
    const { lower, app } = stack();
    let task = -1;
    const c = lower.open('a', app, {
      onInput: (conn) => {
        task = currentTask()!.id;
        lower.request(conn);
        expect(conn.flushes).toBe(0); // not yet
      },
    });
    lower.arrive(c, 1);
    expect(lower.trail).toEqual(['in a:1', 'request a', 'after-upcall a', 'end a', 'flush a#1']);
    expect(lower.flushTasks).toEqual([task]);
  });

  it('requests for the same (client, key) while one is queued merge into it: counted once', () => {
    const { rt, lower, app, events } = stack();
    const c = lower.open('a', app, {
      onInput: (conn) => {
        lower.request(conn);
        lower.request(conn);
        lower.request(conn);
      },
    });
    lower.arrive(c, 1);
    // The arrival's own request at its end merged too.
    expect(c.flushes).toBe(1);
    expect(lower.stats.deferrals).toBe(1);
    expect(rt.stats.deferrals).toBe(1);
    expect(events.filter((e) => e.kind === 'deferral')).toHaveLength(1);
  });

  it('requests for different clients or keys are kept apart, in order', () => {
    const { lower, app } = stack();
    const b = lower.open('b', app, {});
    const a = lower.open('a', app, {
      onInput: (conn) => {
        lower.later(conn, 'x');
        lower.request(conn);
        lower.later(conn, 'y');
      },
    });
    lower.arrive(a, 1);
    lower.arrive(b, 2);
    expect(lower.trail).toEqual([
      'in a:1',
      'request a',
      'after-upcall a',
      'end a',
      // The deferred entry calls and the flush share the frame's one queue, in request order.
      'later a:x',
      'flush a#1',
      'later a:y',
      'in b:2',
      'after-upcall b',
      'end b',
      'flush b#1',
    ]);
  });

  it('an activation for another client on the path does not hold the work back: the innermost one for that client does', () => {
    const { lower, app } = stack();
    const b = lower.open('b', app, {});
    const a = lower.open('a', app, {
      onInput: () => {
        // Lower's entry claims b: that activation is the only one working for b.
        lower.request(b);
        lower.trail.push('request b returned');
      },
    });
    lower.arrive(a, 1);
    expect(lower.trail).toEqual(['in a:1', 'request b', 'flush b#1', 'request b returned', 'after-upcall a', 'end a', 'flush a#1']);
  });

  it('a handler arming again from inside the deferred work is served too: the queue is drained until empty', () => {
    const { rt, lower, app, events } = stack();
    let rearms = 3;
    const c = lower.open('a', app, {
      onInput: (conn) => lower.request(conn),
      onReady: (conn) => {
        if (rearms-- > 0) lower.request(conn);
      },
    });
    lower.arrive(c, 1);
    expect(c.flushes).toBe(4);
    expect(lower.trail.filter((l) => l.startsWith('flush'))).toEqual(['flush a#1', 'flush a#2', 'flush a#3', 'flush a#4']);
    expect(lower.trail.indexOf('flush a#1')).toBeGreaterThan(lower.trail.indexOf('end a'));
    expect(new Set(lower.flushTasks).size).toBe(1);
    // Each re-arm was a deferral of its own (the earlier one had already started running).
    expect(lower.stats.deferrals).toBe(4);
    const kinds = events.filter((e) => e.kind === 'deferral' || e.kind === 'deferred-run').map((e) => e.kind);
    expect(kinds).toEqual(['deferral', 'deferred-run', 'deferral', 'deferred-run', 'deferral', 'deferred-run', 'deferral', 'deferred-run']);
    expect(rt.stats.tasksExpended).toBe(0);
  });

  it('with no activation for the client on the path it runs at once: a task of its own from outside, an activation claiming the client inside a task', () => {
    const { rt, lower, app } = stack();
    const c = lower.open('a', app, {});
    // From outside any task: the entry starts a task, and its activation, which
    // claimed `c`, runs the flush as it unwinds, before the call returns.
    lower.request(c);
    expect(c.flushes).toBe(1);
    expect(rt.stats.tasksStarted).toBe(1);
    expect(lower.stats.deferrals).toBe(1);
    // afterUnwind itself called from outside any task starts one.
    lower.requestFlush(c);
    expect(c.flushes).toBe(2);
    expect(rt.stats.tasksStarted).toBe(2);
    // Inside another module's task: an activation of Lower working for `c` runs it now.
    app.startTask('input', () => lower.flushFromAnywhere(c));
    expect(c.flushes).toBe(3);
    expect(lower.trail).toContain('now in lower for a');
    expect(lower.stats.deferrals).toBe(1); // the last two were not queued
  });

  it('work requested while it runs now waits for it (no nesting of the work for one client)', () => {
    const { lower, app } = stack();
    let inFlush = 0;
    let nested = false;
    let again = true;
    const c = lower.open('a', app, {
      onReady: (conn) => {
        if (inFlush > 0) nested = true;
        inFlush++;
        if (again) {
          again = false;
          lower.request(conn);
          expect(conn.flushes).toBe(1); // queued behind the running one
        }
        inFlush--;
      },
    });
    lower.request(c);
    expect(c.flushes).toBe(2);
    expect(nested).toBe(false);
  });

  it('queued work of an expended task is dropped; cleanup deals with the client', () => {
    const { rt, lower, app, events } = stack();
    const c = lower.open('a', app, {
      onInput: (conn) => {
        lower.request(conn);
        throw new Error('handler failed');
      },
    });
    expect(lower.arrive(c, 1)).toBe(FAILED);
    expect(c.flushes).toBe(0);
    expect(lower.stats.deferrals).toBe(1);
    expect(events.filter((e) => e.kind === 'deferred-run')).toEqual([]);
    expect(lower.cleaned).toEqual(['a: threw in app.onInput: handler failed']);
    expect(rt.stats.tasksExpended).toBe(1);
  });

  it('asked for in a task already expended (from a cleanup), it runs at once: nothing is left to unwind normally', () => {
    const { lower, app } = stack();
    let readyCalls = 0;
    const c = lower.open('a', app, {
      onInput: () => {
        throw new Error('handler failed');
      },
      onReady: () => void readyCalls++,
    });
    lower.flushOnCleanup = true;
    expect(lower.arrive(c, 1)).toBe(FAILED);
    expect(c.flushes).toBe(1);
    expect(readyCalls).toBe(0); // an expended task makes no upcall
    expect(lower.stats.deferrals).toBe(0);
  });

  it('deferred work that fails expends the task and cleans up its client', () => {
    const { rt, lower, app } = stack();
    const c = lower.open('a', app, {
      onInput: (conn) => lower.request(conn),
      onReady: () => {
        throw new Error('no room');
      },
    });
    expect(lower.arrive(c, 1)).toBe(FAILED);
    expect(c.flushes).toBe(1);
    expect(lower.cleaned).toEqual(['a: threw in app.onReady: no room']);
    expect(rt.stats.tasksExpended).toBe(1);
  });

  it('is reported: deferral and deferred-run events name the module, the key and the client', () => {
    const { lower, app, events } = stack();
    const c = lower.open('a', app, { onInput: (conn) => lower.request(conn) });
    lower.arrive(c, 1);
    const mine = events.filter((e) => e.kind === 'deferral' || e.kind === 'deferred-run');
    expect(mine).toMatchObject([
      { kind: 'deferral', module: 'lower', entry: 'flush', from: 'lower', client: 'conn a' },
      { kind: 'deferred-run', module: 'lower', entry: 'flush', client: 'conn a' },
    ]);
    // The run comes after the arrival's own work, before the task ends.
    const order = events.map((e) => e.kind);
    expect(order.indexOf('deferred-run')).toBeLessThan(order.indexOf('task-end'));
    expect(lower.stats.deferrals).toBe(1);
  });
});

describe('query: a read-only entry point', () => {
  it('is counted and reported like an entry, runs at once at any depth, and starts no task', () => {
    const { rt, lower, app, events } = stack();
    let seen = -1;
    const c = lower.open('a', app, { onInput: (conn) => void (seen = lower.peek(conn)) });
    expect(lower.peek(c)).toBe(0);
    expect(rt.stats.tasksStarted).toBe(0);
    lower.arrive(c, 1);
    expect(seen).toBe(0);
    expect(lower.stats.entries).toBe(2);
    expect(lower.stats.deferrals).toBe(1); // the arrival's flush only
    expect(events.filter((e) => e.kind === 'enter' && e.entry === 'peek')).toMatchObject([
      { module: 'lower', from: null, query: true, task: null },
      { module: 'lower', from: 'app', query: true },
    ]);
  });

  it('may not upcall: the runtime refuses it as a programmer error', () => {
    const { lower, app } = stack();
    const c = lower.open('a', app, { onReady: () => {} });
    expect(() => lower.badQuery(c)).toThrow(/upcall 'onReady' inside a query/);
  });
});

describe('module names', () => {
  it('are unique per host: a second module with a taken name is refused, saying which', () => {
    const rt = new Runtime({ name: 'h' });
    new Lower(rt);
    expect(() => new Lower(rt)).toThrow("host 'h' already has a module named 'lower' (Lower); a Lower needs another name (module names are unique per host)");
    // An application may not pass itself off as a layer.
    expect(() => rt.app('lower')).toThrow(/'lower' is the name of a Lower module, not of an application/);
    expect(rt.app('app')).toBe(rt.app('app'));
  });
});
