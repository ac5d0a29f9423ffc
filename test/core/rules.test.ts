import { describe, expect, it } from 'vitest';
import { firstValueFrom, toArray, take } from 'rxjs';
import {
  BindError,
  DETACH,
  currentFrame,
  currentTask,
  LayerViolation,
  Module,
  outsideTask,
  RecursionRejected,
  SlotTable,
  TaskExpended,
  type StackEvent,
} from '../../src/core/index.js';
import { chain, FAILED, PENDING } from './support.js';

describe('upcalls and bindings', () => {
  it('delivers through a direct call in the same task, with the task path visible to the handler', () => {
    const { bottom, middle, top } = chain();
    const paths: string[][] = [];
    middle.open('a', top, {
      onValue: (_c, v) => {
        paths.push(currentTask()!.path);
        return v * 2;
      },
    });
    expect(bottom.arrive('a', 21)).toBe(42);
    expect(paths).toEqual([['bottom', 'middle', 'top']]);
  });

  it('rejects bad bindings once, at bind time', () => {
    const { rt, middle } = chain();
    const table = new SlotTable<{ onX(): void; onY(): void }>(middle, 't', { onX: 'one', onY: 'many' });
    const app = rt.app('app');
    table.bind(app, { onX: () => {} });
    expect(() => table.bind(app, { onX: () => {} })).toThrow(BindError);
    expect(() => table.bind(app, { onZ: () => {} } as never)).toThrow(/no slot 'onZ'/);
    expect(() => table.bind(app, { onY: 3 } as never)).toThrow(/not a function/);
    table.bind(app, { onY: () => {} });
    table.bind(app, { onY: () => {} });
    expect(table.size).toBe(3);
  });

  it('unbind is idempotent and takes effect for later upcalls even during an upcall', () => {
    const { bottom, middle, top } = chain();
    const seen: number[] = [];
    const c = middle.open('a', top, {
      onValue: (cl, v) => {
        seen.push(v);
        cl.binding.unbind();
        cl.binding.unbind();
      },
    });
    bottom.arrive('a', 1);
    bottom.arrive('a', 2);
    expect(seen).toEqual([1]);
    expect(c.binding.bound).toBe(false);
  });
});

describe('rule 2: consistent and unlocked before an upcall', () => {
  it('throws LayerViolation naming module, slot and task when upcalling under the lock', () => {
    const { rt, bottom, middle, top } = chain();
    middle.open('a', top, { onValue: () => {} });
    let caught: unknown;
    bottom.table.bindings[0]!.unbind();
    bottom.table.bind(middle, {
      onInput: () => {
        try {
          middle.badInput('a');
        } catch (e) {
          caught = e;
        }
      },
    });
    bottom.arrive('a', 1);
    expect(caught).toBeInstanceOf(LayerViolation);
    const v = caught as LayerViolation;
    expect(v.module).toBe('middle');
    expect(v.slot).toBe('onValue');
    expect(v.message).toMatch(/task \d+/);
    // the lock was released when the violation unwound
    expect(middle.lock.held).toBe(false);
    expect(rt.tasks()).toEqual([]);
  });
});

describe('rule 3: tasks are expendable', () => {
  it('a throwing handler ends its task, runs cleanup innermost-first exactly once, and the lower layer sees FAILED', () => {
    const { rt, bottom, middle, top } = chain();
    middle.open('a', top, {
      onValue: () => {
        throw new Error('boom');
      },
    });
    const order: string[] = [];
    const sub = rt.events.subscribe((e) => {
      if (e.kind === 'cleanup') order.push(e.module);
    });
    expect(bottom.arrive('a', 1)).toBe(FAILED);
    sub.unsubscribe();
    expect(order).toEqual(['top', 'middle', 'bottom']);
    expect(top.cleaned).toEqual([['a', 'threw in top.onValue: boom']]);
    expect(middle.cleaned.map((c) => c[0])).toEqual(['a']);
    expect(bottom.cleaned.map((c) => c[0])).toEqual(['a']);
    expect(middle.log2).toEqual(['in a:1']); // nothing ran after the failed upcall
    expect(rt.stats.tasksExpended).toBe(1);
    expect(bottom.shared.delivered).toBe(0);
  });

  it('keeps serving other clients after one fails', () => {
    const { bottom, middle, top } = chain();
    middle.open('bad', top, {
      onValue: () => {
        throw new Error('x');
      },
    });
    const got: number[] = [];
    middle.open('good', top, { onValue: (_c, v) => got.push(v) });
    bottom.arrive('good', 1);
    bottom.arrive('bad', 2);
    bottom.arrive('good', 3);
    bottom.arrive('bad', 4); // its client was cleaned up: dropped, counted
    expect(got).toEqual([1, 3]);
    expect(middle.stats.dropReasons.get('no-client')).toBe(1);
    expect(bottom.shared.delivered).toBe(3);
  });

  it('an async handler keeps the task alive across await, with the task still current', async () => {
    const { rt, bottom, middle, top } = chain();
    let seenAfterAwait: number | undefined;
    middle.open('a', top, {
      onValue: async () => {
        await Promise.resolve();
        seenAfterAwait = currentTask()?.id;
      },
    });
    expect(bottom.arrive('a', 1)).toBe(PENDING);
    const [task] = rt.tasks();
    expect(task).toBeDefined();
    await task!.ended();
    expect(seenAfterAwait).toBe(task!.id);
    expect(task!.state).toBe('ended');
    expect(rt.tasks()).toEqual([]);
  });

  it('a continuation sees the frame it was created in, an entry nested in a handler included', async () => {
    const { rt, bottom, middle, top } = chain();
    class Store extends Module {
      constructor() {
        super(rt, 'store');
      }
      readonly save = this.entry('save', 'reentrant', async (): Promise<string[]> => {
        const before = currentFrame();
        await Promise.resolve();
        // After the await the synchronous path is gone: the frame comes from the storage.
        expect(currentFrame()).toBe(before);
        return [currentFrame()!.entry, ...currentFrame()!.path(), `parent ${currentFrame()!.parent!.module.name}`];
      });
    }
    const store = new Store();
    let saved: Promise<string[]> | undefined;
    let afterTimer: string[] | undefined;
    middle.open('a', top, {
      onValue: async () => {
        saved = store.save();
        // A timer scheduled in the handler's own frame sees that frame, not the entry's.
        await new Promise<void>((resolve) => setTimeout(() => {
          afterTimer = currentFrame()!.path();
          resolve();
        }, 1));
      },
    });
    expect(bottom.arrive('a', 1)).toBe(PENDING);
    const task = rt.tasks()[0]!;
    await task.ended();
    expect(await saved).toEqual(['save', 'bottom', 'middle', 'top', 'store', 'parent top']);
    expect(afterTimer).toEqual(['bottom', 'middle', 'top']);
  });

  it('outsideTask runs its function, and what it schedules, outside the task around it', async () => {
    const { bottom, middle, top } = chain();
    const seen: Array<number | undefined> = [];
    let later: Promise<void> | undefined;
    middle.open('a', top, {
      onValue: () => {
        seen.push(currentTask()?.id);
        outsideTask(() => {
          seen.push(currentTask()?.id);
          later = Promise.resolve().then(() => void seen.push(currentTask()?.id));
        });
        seen.push(currentTask()?.id);
      },
    });
    bottom.arrive('a', 1);
    await later;
    expect(seen).toEqual([1, undefined, 1, undefined]);
  });

  it('a task started inside outsideTask enters its own frames, and an await in a frame comes back to that frame', async () => {
    const { rt, bottom, middle, top } = chain();
    const seen: string[] = [];
    middle.open('a', top, {
      onValue: async (_c, v) => {
        const t = currentTask()!.id;
        if (v === 1) {
          outsideTask(() => {
            seen.push(`outside ${currentTask()?.id}`);
            bottom.arrive('a', 2);
          });
        }
        seen.push(`${v} in ${currentTask()!.id === t} ${currentFrame()!.path().join('/')}`);
        await Promise.resolve();
        seen.push(`${v} after await ${currentTask()?.id === t} ${currentFrame()?.path().join('/')}`);
      },
    });
    expect(bottom.arrive('a', 1)).toBe(PENDING);
    expect(currentTask()).toBeUndefined();
    await Promise.all(rt.tasks().map((t) => t.ended()));
    expect(seen).toEqual([
      'outside undefined',
      '2 in true bottom/middle/top',
      '1 in true bottom/middle/top',
      '2 after await true bottom/middle/top',
      '1 after await true bottom/middle/top',
    ]);
    expect(rt.stats.tasksStarted).toBe(2);
    expect(rt.stats.tasksEnded).toBe(2);
  });

  it('a rejecting async handler expends its task and cleans up its path', async () => {
    const { rt, bottom, middle, top } = chain();
    middle.open('a', top, {
      onValue: async () => {
        await Promise.resolve();
        throw new Error('late');
      },
    });
    bottom.arrive('a', 1);
    await rt.tasks()[0]!.ended();
    expect(top.cleaned).toEqual([['a', 'rejected in top.onValue: late']]);
    expect(middle.cleaned.map((c) => c[0])).toEqual(['a']);
    expect(rt.stats.tasksExpended).toBe(1);
  });

  it('a handler that overruns its deadline is expended (sync: when it returns; async: at the deadline)', async () => {
    const { rt, clock, bottom, middle, top } = chain();
    middle.open('slow', top, {
      onValue: () => {
        clock.advance(50); // the handler "takes" 50 ms of virtual time
      },
    });
    expect(bottom.arrive('slow', 1, 10)).toBe(FAILED);
    expect(top.cleaned[0]![1]).toMatch(/^deadline/);

    let signalAborted = false;
    middle.open('hang', top, {
      onValue: () =>
        new Promise<void>((resolve) => {
          const t = currentTask()!;
          t.signal.addEventListener('abort', () => {
            signalAborted = true;
            resolve();
          });
        }),
    });
    expect(bottom.arrive('hang', 1, 100)).toBe(PENDING);
    const task = rt.tasks()[0]!;
    clock.advance(99);
    expect(task.state).toBe('running');
    clock.advance(2);
    expect(task.state).toBe('expended');
    expect(signalAborted).toBe(true);
    await task.ended();
    expect(middle.cleaned.map((c) => c[0])).toEqual(['slow', 'hang']);
  });

  it('abort from outside runs the cleanups and fires the abort signal', async () => {
    const { rt, bottom, middle, top } = chain();
    let reason: unknown;
    middle.open('a', top, {
      onValue: () =>
        new Promise<void>((resolve) => {
          currentTask()!.signal.addEventListener('abort', (ev) => {
            reason = (ev.target as AbortSignal).reason;
            resolve();
          });
        }),
    });
    bottom.arrive('a', 1);
    const t = rt.tasks()[0]!;
    rt.abort(t, 'operator');
    await t.ended();
    expect(t.state).toBe('expended');
    expect(reason).toMatchObject({ kind: 'aborted' });
    expect(top.cleaned.length).toBe(1);
  });

  it('a top-level call that fails throws TaskExpended to the application', () => {
    const { middle, top, bottom } = chain();
    const c = middle.open('a', top, { onValue: () => {} });
    expect(bottom.echo(5)).toBe(5);
    const boom = (middle as unknown as { entry: (...a: unknown[]) => (c: unknown) => void }).entry('boom', 'reject', () => {
      throw new Error('inside');
    });
    expect(() => boom(c)).toThrow(TaskExpended);
    try {
      boom(c);
    } catch (e) {
      expect((e as Error).message).toMatch(/crash: inside/);
      expect(((e as Error).cause as Error).message).toBe('inside');
    }
  });
});

describe('stale context', () => {
  it('a callback scheduled inside a task that runs after the task ended is outside any task', async () => {
    const { rt, bottom, middle, top } = chain();
    const seen: Array<number | undefined> = [];
    let later: Promise<void> | undefined;
    const c = middle.open('a', top, {
      onValue: () => {
        // like a real-time timer or socket callback set up by a handler
        later = new Promise<void>((resolve) =>
          setImmediate(() => {
            seen.push(currentTask()?.id);
            middle.sendRejected(c, 9); // an entry point: starts a fresh task, not part of the ended one
            resolve();
          }),
        );
      },
    });
    bottom.arrive('a', 1);
    await later;
    expect(seen).toEqual([undefined]);
    expect(c.sent).toEqual([9]);
    expect(rt.stats.tasksStarted).toBe(2);
    expect(rt.stats.tasksExpended).toBe(0);
  });
});

describe('rule 4: recursion guard', () => {
  it('reentrant: the downcall runs at once, inside the upcall', () => {
    const { bottom, middle, top } = chain();
    middle.open('a', top, { onValue: (c, v) => middle.sendReentrant(c, v + 100) });
    expect(bottom.arrive('a', 1)).toBe(101);
    expect(middle.log2).toEqual(['in a:1', 'send a:101', 'after-upcall a']);
  });

  it("defer: the downcall is queued and runs in order, in the same task, when the module's activation unwinds", () => {
    const { rt, bottom, middle, top } = chain();
    const tasks: number[] = [];
    middle.open('a', top, {
      onValue: (c, v) => {
        tasks.push(currentTask()!.id);
        middle.sendDeferred(c, v + 1);
        middle.sendDeferred(c, v + 2);
        expect(c.sent).toEqual([]); // not yet
      },
    });
    const events: StackEvent[] = [];
    const sub = rt.events.subscribe((e) => events.push(e));
    bottom.arrive('a', 10);
    sub.unsubscribe();
    // Middle finishes its own work first (Swift's "arm").
    expect(middle.log2).toEqual(['in a:10', 'after-upcall a', 'send a:11', 'send a:12']);
    expect(middle.stats.deferrals).toBe(2);
    const runs = events.filter((e) => e.kind === 'deferred-run');
    expect(runs.map((e) => e.task)).toEqual([tasks[0], tasks[0]]);
  });

  it('defer outside any upcall of that module runs immediately', () => {
    const { middle, top } = chain();
    const c = middle.open('a', top, {});
    middle.sendDeferred(c, 7);
    expect(c.sent).toEqual([7]);
  });

  it('reject: a clear error, which the handler may catch; uncaught, it expends the task', () => {
    const { bottom, middle, top } = chain();
    let err: unknown;
    middle.open('a', top, {
      onValue: (c, v) => {
        try {
          middle.sendRejected(c, v);
        } catch (e) {
          err = e;
        }
      },
    });
    bottom.arrive('a', 1);
    expect(err).toBeInstanceOf(RecursionRejected);
    expect((err as Error).message).toMatch(/middle\.sendRejected.*bottom -> middle -> top/);
    middle.open('b', top, { onValue: (c, v) => middle.sendRejected(c, v) });
    expect(bottom.arrive('b', 1)).toBe(FAILED);
    expect(middle.cleaned.map((c) => c[0])).toEqual(['b']);
  });

  it('after await the lower module is no longer on the path, so even a rejecting entry is allowed', async () => {
    const { rt, bottom, middle, top } = chain();
    let result: unknown;
    middle.open('a', top, {
      onValue: async (c, v) => {
        await Promise.resolve();
        result = middle.sendRejected(c, v);
      },
    });
    bottom.arrive('a', 3);
    await rt.tasks()[0]!.ended();
    expect(result).toBe(3);
  });
});

describe('dispatch policy', () => {
  it('queued: the upcall becomes a message on a later turn, data copied, result PENDING', () => {
    const { rt, clock, bottom, middle, top } = chain();
    top.dispatch = 'queued';
    const got: Array<[number, number | undefined]> = [];
    const buf = new Uint8Array([1, 2, 3]);
    let received: Uint8Array | undefined;
    const table = new SlotTable<{ onBytes(b: Uint8Array): void }>(middle, 'bytes', { onBytes: 'one' });
    const b = table.bind(top, { onBytes: (x) => (received = x) });
    middle.open('a', top, { onValue: (_c, v) => got.push([v, currentTask()?.parent?.id]) });
    expect(bottom.arrive('a', 5)).toBe(PENDING);
    expect(got).toEqual([]);
    clock.advance(0);
    expect(got.length).toBe(1);
    expect(got[0]![0]).toBe(5);
    expect(got[0]![1]).toBe(1); // the mailbox task's parent is the arrival task
    // data crossing the boundary is copied
    (middle as unknown as { upcall: (...a: unknown[]) => unknown }).upcall(b, 'onBytes', buf);
    buf[0] = 99;
    clock.advance(0);
    expect([...received!]).toEqual([1, 2, 3]);
    expect(rt.stats.upcalls).toBeGreaterThan(0);
  });

  it('queued: an argument that is a view gives the mailbox its own copy through DETACH', () => {
    const { clock, middle, top } = chain();
    top.dispatch = 'queued';
    const frame = new Uint8Array([7, 8, 9]);
    const view = { bytes: frame.subarray(1), [DETACH]: function (this: { bytes: Uint8Array }) { return { bytes: this.bytes.slice() }; } };
    let got: { bytes: Uint8Array } | undefined;
    const table = new SlotTable<{ onView(v: { bytes: Uint8Array }): void }>(middle, 'views', { onView: 'one' });
    const b = table.bind(top, { onView: (v) => (got = v) });
    middle.startTask('input', () => (middle as unknown as { upcall: (...a: unknown[]) => unknown }).upcall(b, 'onView', view));
    frame.fill(0); // the frame is reused once the upcall returned
    clock.advance(0);
    expect([...got!.bytes]).toEqual([8, 9]);
    expect(got).not.toBe(view);
  });
});

describe('timers', () => {
  it('belong to a module and client; cleanup of the client cancels them', () => {
    const { clock, bottom, middle, top } = chain();
    const fired: string[] = [];
    const c = middle.open('a', top, {
      onValue: () => {
        throw new Error('fail');
      },
    });
    const t1 = middle.timer(c, 'rto', () => fired.push('rto'));
    const shared = middle.timer(null, 'gc', () => fired.push('gc'));
    t1.arm(100);
    shared.arm(100);
    expect(middle.liveTimers(c)).toBe(1);
    bottom.arrive('a', 1); // handler throws -> middle.cleanup(c)
    expect(middle.liveTimers(c)).toBe(0);
    clock.advance(200);
    expect(fired).toEqual(['gc']);
  });

  it('a timer made beside another belongs to the same client: its cleanup cancels it; made after the cleanup, it is not the client\'s', () => {
    const { clock, bottom, middle, top } = chain();
    const fired: string[] = [];
    const c = middle.open('a', top, {
      onValue: () => {
        throw new Error('fail');
      },
    });
    const rto = middle.timer(c, 'rto', () => fired.push('rto'));
    const delack = middle.timerBeside(rto, 'delack', (client) => fired.push(client === c ? 'delack' : 'other'));
    delack.arm(50);
    expect(middle.liveTimers(c)).toBe(1);
    clock.advance(60);
    expect(fired).toEqual(['delack']);
    delack.arm(100);
    rto.arm(100);
    expect(middle.liveTimers(c)).toBe(2);
    bottom.arrive('a', 1); // handler throws -> middle.cleanup(c)
    expect(middle.liveTimers(c)).toBe(0);
    clock.advance(200);
    expect(fired).toEqual(['delack']);
    const late = middle.timerBeside(rto, 'wait', () => fired.push('wait'));
    late.arm(10);
    expect(middle.liveTimers(c)).toBe(0);
    expect(middle.liveTimers()).toBe(0);
    expect(() => bottom.timerBeside(rto as never, 'x', () => {})).toThrow(/belongs to/);
  });

  it('re-arming later keeps one clock entry and fires at the last due time, as a task', () => {
    const { rt, clock, middle } = chain();
    const at: number[] = [];
    const t = middle.timer(null, 't', () => at.push(clock.now()));
    t.arm(100);
    for (let i = 1; i <= 50; i++) {
      clock.advance(1);
      t.arm(100);
    }
    expect(clock.pending).toBe(1);
    clock.advance(1000);
    expect(at).toEqual([150]);
    expect(rt.stats.tasksStarted).toBe(1);
  });
});

describe('observability', () => {
  it('emits typed events for task start/end, entry, upcall, cleanup and drop', async () => {
    const { rt, bottom, middle, top } = chain();
    middle.open('a', top, { onValue: (c, v) => middle.sendReentrant(c, v) });
    const p = firstValueFrom(rt.events.pipe(take(7), toArray()));
    bottom.arrive('a', 1);
    bottom.arrive('zzz', 1);
    const kinds = (await p).map((e) => e.kind);
    expect(kinds).toEqual(['task-start', 'upcall', 'upcall', 'enter', 'task-end', 'task-start', 'upcall']);
    expect(rt.observed).toBe(false);
  });
});
