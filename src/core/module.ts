/**
 * A module: one layer of the stack.
 *
 * It owns shared state (one per module, guarded by `lock`) and serves clients
 * whose state it keeps apart (a connection, a binding). It offers entry points
 * to the module above (`entry`) and calls up through slots (`upcall`). The
 * runtime rules live in these two wrappers:
 *  - rule 2: `upcall` refuses to run while this module holds its own lock;
 *  - rule 3: a handler that throws, rejects or overruns its deadline expends the
 *    task, and the lower layer gets FAILED back as a value;
 *  - rule 4: an entry point called while its module is already on the task's
 *    path is allowed, deferred or rejected, as the entry point declared; work a
 *    module must not do in the middle of its own (`afterUnwind`) waits until its
 *    activation unwinds. Both use one queue per activation (Frame.deferred).
 */
import type { Binding, SlotArgs, SlotReturn, SlotTable } from './binding.js';
import type { ClockEntry } from './clock.js';
import { LayerViolation, RecursionRejected } from './errors.js';
import type { Logger } from './log.js';
import { Mailbox } from './mailbox.js';
import { Monitor } from './monitor.js';
import type { DispatchPolicy, Runtime, TaskOptions } from './runtime.js';
import { applyN, argArray, currentFrame, describeClient, enteredFrame, FAILED, Frame, PENDING, runIn, SPREAD, type Body, type Failed, type Pending, type Task, type TaskSource } from './task.js';

/**
 * What happens when an entry point is called while its module is already on the
 * current task's path (a handler calling back down into the layer that called it):
 *  - 'reentrant': allowed; the module declares it safe to run in the middle of its own work;
 *  - 'defer': queued, and run in order in the same task when the module's outermost
 *    activation on the path unwinds (Swift's "arm": the module finishes its update
 *    first). The queue is afterUnwind's: there is one deferral in the runtime;
 *  - 'reject': a RecursionRejected error is thrown into the caller.
 * There is no default: every entry point states its policy.
 */
export type RecursionPolicy = 'reentrant' | 'defer' | 'reject';

export interface ModuleStats {
  /** Entry-point calls from other modules or from outside. */
  entries: number;
  /** Upcalls this module made. */
  upcalls: number;
  /** Upcalls whose handler failed (task expended). */
  upcallsFailed: number;
  /** Work queued to run when an activation of this module unwinds (afterUnwind, 'defer' entries). */
  deferrals: number;
  /** Cleanups this module ran. */
  cleanups: number;
  /** Inputs this module dropped, in total and by reason. */
  drops: number;
  readonly dropReasons: Map<string, number>;
}

export class Module<S = unknown, C = unknown> {
  readonly lock: Monitor;
  /** Dispatch policy for upcalls INTO this module; undefined = the host's default. */
  dispatch: DispatchPolicy | undefined;
  readonly stats: ModuleStats = {
    entries: 0,
    upcalls: 0,
    upcallsFailed: 0,
    deferrals: 0,
    cleanups: 0,
    drops: 0,
    dropReasons: new Map(),
  };
  readonly log: Logger;
  /**
   * Each client's newest timer; the others follow through ModuleTimer.older.
   * A chain, not an array: a connection has three timers, and an array grown
   * by push to three weighed more than the three.
   */
  private readonly clientTimers = new Map<unknown, ModuleTimer>();
  /** Queued dispatch only: where upcalls into this module wait (created on first use). */
  mailbox: Mailbox | null = null;
  /** Depth of queries of this module running (they may not upcall or defer). */
  private querying = 0;

  constructor(
    readonly rt: Runtime,
    readonly name: string,
    /** Shared state: what all of this module's clients depend on. */
    readonly shared: S = undefined as S,
    opts: { dispatch?: DispatchPolicy } = {},
  ) {
    this.lock = new Monitor(name);
    this.dispatch = opts.dispatch;
    this.log = rt.log.child({ module: name });
    rt.register(this as Module);
  }

  get dispatchPolicy(): DispatchPolicy {
    return this.dispatch ?? this.rt.dispatch;
  }

  /**
   * Undo what a failed task left in this module for `client` (a connection,
   * a session; undefined when the task held no client state here). Runs at most
   * once per task and client. Override it; the default does nothing.
   */
  protected cleanup(_client: C | undefined, _reason: string): void {}

  /** Start a task at this module (it is the event source: a frame, a timer, input). */
  startTask<R>(source: TaskSource, fn: () => R, opts?: TaskOptions): R | Failed {
    return this.rt.startTask(this as Module, source, fn, opts);
  }

  /**
   * Record that the current activation of this module works for `client`, so a
   * failure of the task runs cleanup for it.
   */
  protected claim(client: C): void {
    const f = enteredFrame();
    if (f !== undefined && f.module === (this as Module)) f.client = client;
  }

  /**
   * Wrap `fn` as an entry point that modules above may call. See RecursionPolicy.
   * A call from outside any task (application code at top level) starts a task;
   * if that task is expended the call throws TaskExpended.
   *
   * Self-calls. A module calling its own entry point directly (its code is the
   * current activation) makes an internal call: no policy, no new activation,
   * not counted. A module re-entered through a handler chain (A upcalls B, B
   * calls A's entry) is governed by A's policy for that entry, whoever B is.
   * Work that must not run in the middle of the module's own (TCP output) is
   * not an entry policy but `afterUnwind`: the entry changes its state at once
   * and queues the rest for when the module's activation on that client unwinds.
   */
  protected entry<A extends unknown[]>(name: string, policy: 'defer', fn: (...args: A) => void): (...args: A) => void;
  protected entry<A extends unknown[], R>(name: string, policy: 'reentrant' | 'reject', fn: (...args: A) => R): (...args: A) => R;
  protected entry<A extends unknown[], R>(name: string, policy: RecursionPolicy, fn: (...args: A) => R): (...args: A) => R | undefined {
    const mod = this as Module;
    const rt = this.rt;
    const stats = this.stats;
    // Called from outside any task, the entry point starts one: its root frame is this entry.
    const rootOpts: TaskOptions = { entry: name };
    const body = fn as Body;
    // Arguments travel as (n, a, b, c) (see SPREAD): no rest array per call.
    function entryPoint(this: unknown, a?: unknown, b?: unknown, c?: unknown): R | undefined {
      let n = arguments.length;
      let all: unknown[] | null = null;
      if (n > 3) {
        all = new Array<unknown>(n);
        for (let i = 0; i < n; i++) all[i] = arguments[i];
        n = SPREAD;
      }
      const top = currentFrame();
      if (top === undefined) {
        stats.entries++;
        return rt.runTask(mod, 'call', body, mod, rootOpts, true, n, all ?? a, b, c) as R;
      }
      // A module calling its own entry point is an ordinary internal call.
      if (top.module === mod) return applyN(body, mod, n, all ?? a, b, c) as R;
      stats.entries++;
      let lowest: Frame | null = null;
      // Only 'defer' and 'reject' care whether the module is already on the path.
      if (policy !== 'reentrant') for (let f = top.parent; f !== null; f = f.parent) if (f.active && f.module === mod) lowest = f;
      if (lowest !== null) {
        if (policy === 'defer') {
          // The same queue as afterUnwind: the call runs when the module's
          // outermost activation on this path unwinds.
          const args = argArray(n, all ?? a, b, c);
          rt.enqueue(lowest, { module: mod, client: undefined, key: name, merge: false, fn: () => void fn.apply(mod, args as A) }, top);
          return undefined;
        }
        if (policy === 'reject') throw new RecursionRejected(mod.name, name, top.task.id, top.path());
      }
      const task = top.task;
      const frame = new Frame(task, mod, top, name);
      task.top = frame;
      if (rt.observed) {
        rt.emit({ kind: 'enter', host: rt.name, task: task.id, at: rt.clock.now(), module: mod.name, entry: name, from: top.module.name });
      }
      try {
        return runIn<R>(frame, body, mod, n, all ?? a, b, c);
      } catch (error) {
        if (task.state === 'running') rt.expend(task, { kind: 'crash', module: mod.name, where: name, error }, frame);
        throw error;
      } finally {
        frame.active = false;
        task.top = top;
      }
    }
    return entryPoint as unknown as (...args: A) => R | undefined;
  }

  /**
   * Wrap `fn` as a read-only entry point: a query that changes nothing (a
   * route lookup, a table listing). It needs no recursion policy, since it
   * cannot disturb the work of an activation already on the path, so it is
   * never deferred or rejected, and it runs without a task or an activation of
   * its own. Like an entry it is counted in `stats.entries` and reported as an
   * 'enter' event (marked `query`). The runtime holds it to its word: an upcall
   * or an afterUnwind made inside a query throws.
   */
  protected query<A extends unknown[], R>(name: string, fn: (...args: A) => R): (...args: A) => R {
    const mod = this as Module;
    const rt = this.rt;
    const stats = this.stats;
    const body = fn as Body;
    // Arguments travel as (n, a, b, c), as an entry's do: no rest array per query.
    function queryPoint(this: unknown, a?: unknown, b?: unknown, c?: unknown): R {
      let n = arguments.length;
      let all: unknown[] | null = null;
      if (n > 3) {
        all = new Array<unknown>(n);
        for (let i = 0; i < n; i++) all[i] = arguments[i];
        n = SPREAD;
      }
      const top = currentFrame();
      if (top === undefined || top.module !== mod) {
        stats.entries++;
        if (rt.observed) {
          rt.emit({ kind: 'enter', host: rt.name, task: top?.task.id ?? null, at: rt.clock.now(), module: mod.name, entry: name, from: top?.module.name ?? null, query: true });
        }
      }
      mod.querying++;
      try {
        return applyN(body, mod, n, all ?? a, b, c) as R;
      } finally {
        mod.querying--;
      }
    }
    return queryPoint as unknown as (...args: A) => R;
  }

  /**
   * Run `fn` for `client` once this module's work for that client on the
   * current path is done: the same task's outermost activation of this module
   * working for `client` (a frame that claimed it) runs it when it unwinds,
   * after its own code returned. This is Swift's "arm": a handler's request
   * made in the middle of the module's work (an echo queued from onData) waits
   * until the module has finished its update, then runs once.
   *
   * - Requests are queued in order; a request for (client, key) while one is
   *   queued is merged into it. Each queued request counts in `stats.deferrals`
   *   (module and runtime) and is reported as a 'deferral' event, its run as
   *   'deferred-run'.
   * - The deferred work runs in an activation of this module claiming `client`,
   *   nested in the one it waited for; requests it makes in turn (a handler
   *   arming again from an upcall of that work) queue again, and the queue is
   *   drained until empty.
   * - With no such activation on the path, `fn` runs now, in an activation of
   *   this module claiming `client` (a task of its own if there is none).
   * - If the task is expended, the work queued in it is dropped: cleanup deals
   *   with the client. Asked for in a task already expended (a cleanup closing
   *   a connection), it runs at once.
   *
   * The same queue serves entry points declared 'defer'. Write the call with
   * the function literally at the call site (`this.afterUnwind(c, 'output',
   * () => this.output(c))`): the loop checker reads the calls inside it as
   * deferred.
   */
  protected afterUnwind(client: object, key: string, fn: () => void): void {
    const mod = this as Module;
    const rt = this.rt;
    if (this.querying > 0) throw new Error(`'${this.name}': afterUnwind('${key}') inside a query`);
    const top = currentFrame();
    if (top === undefined) {
      rt.startTask(mod, 'call', fn, { client, entry: key });
      return;
    }
    const task = top.task;
    let target: Frame | null = null;
    // In a task already expended (a cleanup closing a connection) nothing is
    // left to unwind normally: the work runs at once.
    if (task.state === 'running') {
      for (let f: Frame | null = top; f !== null; f = f.parent) if (f.active && f.module === mod && f.client === client) target = f;
    }
    if (target !== null) {
      rt.enqueue(target, { module: mod, client, key, merge: true, fn }, top);
      return;
    }
    // Nothing of ours works for `client` on this path: run it now, in an
    // activation that does, so what it asks for in turn waits for it.
    const frame = new Frame(task, mod, top, key);
    frame.client = client;
    task.top = frame;
    try {
      runIn(frame, fn, undefined, 0);
    } catch (error) {
      if (task.state === 'running') rt.expend(task, { kind: 'crash', module: mod.name, where: key, error }, frame);
      throw error;
    } finally {
      frame.active = false;
      task.top = top;
    }
  }

  /**
   * Call up into the handler bound to `slot`. Returns the handler's result, or:
   * undefined if nothing is bound to the slot; FAILED if the handler failed and
   * the task was expended (the cleanups have run); PENDING if the handler is
   * async or the module above takes upcalls through a mailbox.
   */
  protected upcall<H extends object, K extends keyof H & string>(
    binding: Binding<H>,
    slot: K,
    ...args: SlotArgs<H, K>
  ): SlotReturn<H, K> | undefined | Failed | Pending;
  // Arguments travel as (n, a, b, c) (see SPREAD): no rest array per upcall.
  protected upcall(binding: Binding<object>, slot: string, a?: unknown, b?: unknown, c?: unknown): unknown {
    let n = arguments.length - 2;
    let all: unknown[] | null = null;
    if (n > 3) {
      all = new Array<unknown>(n);
      for (let i = 0; i < n; i++) all[i] = arguments[i + 2];
      n = SPREAD;
    }
    const handler = (binding.handlers as Record<string, unknown>)[slot] as ((...x: unknown[]) => unknown) | undefined;
    if (handler === undefined || !binding.bound) return undefined;
    if (this.querying > 0) throw new Error(`'${this.name}': upcall '${slot}' inside a query`);
    const caller = currentFrame();
    if (caller === undefined) {
      // An upcall with no task around it: it becomes a task of its own.
      const args = [binding, slot, ...argArray(n, all ?? a, b, c)];
      return this.rt.runTask(this as Module, 'call', this.upcall, this, undefined, false, SPREAD, args);
    }
    const task = caller.task;
    if (task.state !== 'running') return FAILED;
    if (this.lock.heldBy(task)) throw new LayerViolation(this.name, slot, task.id);
    const rt = this.rt;
    const owner = binding.owner;
    this.stats.upcalls++;
    rt.stats.upcalls++;
    if (owner.dispatchPolicy === 'queued') {
      if (rt.observed) {
        rt.emit({ kind: 'upcall', host: rt.name, task: task.id, at: rt.clock.now(), from: this.name, module: owner.name, slot, queued: true });
      }
      owner.post(binding, slot, handler, argArray(n, all ?? a, b, c), task);
      return PENDING;
    }
    if (rt.observed) {
      rt.emit({ kind: 'upcall', host: rt.name, task: task.id, at: rt.clock.now(), from: this.name, module: owner.name, slot, queued: false });
    }
    const frame = new Frame(task, owner, caller, slot);
    frame.client = binding.client;
    task.top = frame;
    let result: unknown;
    try {
      result = runIn(frame, handler, binding.handlers, n, all ?? a, b, c);
    } catch (error) {
      frame.active = false;
      task.top = caller;
      this.stats.upcallsFailed++;
      if (task.state === 'running') rt.expend(task, { kind: 'threw', module: owner.name, where: slot, error }, frame);
      return FAILED;
    }
    frame.active = false;
    task.top = caller;
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      this.followAsync(task, frame, slot, result as PromiseLike<unknown>);
      return task.state === 'running' ? PENDING : FAILED;
    }
    if (task.state !== 'running') {
      this.stats.upcallsFailed++;
      return FAILED;
    }
    if (task.deadline !== undefined && rt.clock.now() > task.deadline) {
      this.stats.upcallsFailed++;
      rt.expend(task, { kind: 'deadline', module: owner.name, where: slot }, frame);
      return FAILED;
    }
    return result;
  }

  /**
   * Fan-out upcall: every binding of `table` that supplies `slot`, in bind order.
   * Stops and returns FAILED if one fails (the task is then expended).
   */
  protected upcallAll<H extends object, K extends keyof H & string>(table: SlotTable<H>, slot: K, ...args: SlotArgs<H, K>): void | Failed {
    for (const b of table.bindings) {
      if (this.upcall(b, slot, ...args) === FAILED) return FAILED;
    }
  }

  /** Count and report an input this module refused. Never throws. */
  drop(reason: string, detail?: string): void {
    const s = this.stats;
    s.drops++;
    s.dropReasons.set(reason, (s.dropReasons.get(reason) ?? 0) + 1);
    this.rt.stats.drops++;
    const rt = this.rt;
    if (rt.observed) {
      const t = currentFrame()?.task.id ?? null;
      rt.emit({ kind: 'drop', host: rt.name, task: t, at: rt.clock.now(), module: this.name, reason, ...(detail !== undefined ? { detail } : {}) });
    }
    if (this.log.isLevelEnabled('debug')) this.log.debug({ task: currentFrame()?.task.id, reason, detail }, 'drop');
  }

  /** A decision worth showing in a trace (callers check `rt.observed` before building text). */
  note(text: string): void {
    const rt = this.rt;
    if (!rt.observed) return;
    rt.emit({ kind: 'note', host: rt.name, task: currentFrame()?.task.id ?? null, at: rt.clock.now(), module: this.name, text });
  }

  /**
   * A timer owned by this module for `client` (null: shared state). A cleanup of
   * the client cancels it; firing starts a task at this module.
   */
  timer(client: C | null, name: string, fire: (client: C) => void): ModuleTimer {
    const t = new ModuleTimer(this as Module, client, name, fire);
    t.older = this.clientTimers.get(client) ?? null;
    this.clientTimers.set(client, t);
    return t;
  }

  /**
   * Another timer of the client `beside` serves, for one made when first needed
   * (a timer most clients never arm costs nothing until then). It joins the
   * client's chain after `beside`, no lookup of the client; made after the
   * client's release, it is released too, as its elders were: never in the
   * chain again, so a dead client is not kept.
   */
  timerBeside(beside: ModuleTimer, name: string, fire: (client: C) => void): ModuleTimer {
    if (beside.module !== (this as Module)) throw new Error(`${this.name}: timerBeside: ${beside.name} belongs to ${beside.module.name}`);
    const t = new ModuleTimer(this as Module, beside.client, name, fire);
    if (beside.released) t.released = true;
    else {
      t.older = beside.older;
      beside.older = t;
    }
    return t;
  }

  /** Cancel and forget every timer of `client` (on cleanup, or when a client closes normally). */
  releaseClient(client: C | null): void {
    const newest = this.clientTimers.get(client);
    if (newest === undefined) return;
    this.clientTimers.delete(client);
    for (let t: ModuleTimer | null = newest; t !== null; t = t.older) {
      t.cancel();
      t.released = true;
    }
  }

  /** Armed timers, for one client or for all. */
  liveTimers(client?: C | null): number {
    let n = 0;
    for (const [c, newest] of this.clientTimers) {
      if (client !== undefined && c !== client) continue;
      for (let t: ModuleTimer | null = newest; t !== null; t = t.older) if (t.armed) n++;
    }
    return n;
  }

  /** @internal called by the runtime when a task through this module is expended. */
  runCleanup(client: unknown, reason: string, task: Task): void {
    const rt = this.rt;
    this.stats.cleanups++;
    if (rt.observed) {
      rt.emit({
        kind: 'cleanup',
        host: rt.name,
        task: task.id,
        at: rt.clock.now(),
        module: this.name,
        client: client === undefined || client === null ? null : describeClient(client),
        reason,
      });
    }
    const frame = new Frame(task, this as Module, null, 'cleanup');
    try {
      runIn(frame, this.cleanup, this, 2, client, reason);
    } catch (error) {
      this.log.error({ task: task.id, err: error }, 'cleanup threw');
    } finally {
      frame.active = false;
    }
    if (client !== undefined) this.releaseClient(client as C);
  }

  /** @internal queued dispatch: the upcall becomes a message in this module's mailbox (mailbox.ts). */
  post(binding: Binding<object>, slot: string, handler: (...a: unknown[]) => unknown, args: unknown[], from: Task): void {
    (this.mailbox ??= new Mailbox(this as Module)).post(binding, slot, handler, args, from);
  }

  /** @internal the mailbox delivers one message, inside the task it started for it. */
  deliverMessage(binding: Binding<object>, slot: string, handler: (...a: unknown[]) => unknown, args: unknown[]): void {
    const r = Reflect.apply(handler, binding.handlers, args);
    if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
      const f = enteredFrame()!;
      this.followAsync(f.task, f, slot, r as PromiseLike<unknown>);
    }
  }

  /** @internal an upcall's handler returned a promise: the task lives until it settles. */
  private followAsync(task: Task, frame: Frame, slot: string, p: PromiseLike<unknown>): void {
    const rt = this.rt;
    rt.asyncStarted(task);
    task.asyncFrame = frame;
    p.then(
      () => {
        if (task.state === 'running' && task.deadline !== undefined && rt.clock.now() > task.deadline) {
          rt.expend(task, { kind: 'deadline', module: frame.module.name, where: slot }, frame);
        }
        rt.asyncSettled(task);
      },
      (error: unknown) => {
        if (task.state === 'running') {
          this.stats.upcallsFailed++;
          rt.expend(task, { kind: 'rejected', module: frame.module.name, where: slot, error }, frame);
        }
        rt.asyncSettled(task);
      },
    );
  }
}

/**
 * A re-armable timer owned by a module and one of its clients. Re-arming to a
 * later time keeps the scheduled clock entry and re-checks when it fires, so a
 * retransmission timer pushed back on every ACK costs no heap work.
 */
export class ModuleTimer {
  private entry: ClockEntry | null = null;
  private dueAt = -1;
  /** The firing's task body, made on the first firing (most timers never fire). */
  private run: (() => void) | null = null;
  /** @internal the client's timer made before this one (Module.clientTimers) */
  older: ModuleTimer | null = null;
  /** @internal its client was released (Module.timerBeside) */
  released = false;

  constructor(
    readonly module: Module,
    readonly client: unknown,
    readonly name: string,
    /**
     * Given the client, so that one function can serve the same timer of every
     * client (TCP's three per connection) instead of a closure per client.
     */
    private readonly fire: (client: never) => void,
  ) {}

  get armed(): boolean {
    return this.dueAt >= 0;
  }

  /** Absolute time it will fire, or -1. */
  get due(): number {
    return this.dueAt;
  }

  arm(delayMs: number): void {
    this.armAt(this.module.rt.clock.now() + delayMs);
  }

  armAt(at: number): void {
    const clock = this.module.rt.clock;
    this.dueAt = at;
    if (this.entry !== null && this.entry.live) {
      if (this.entry.at <= at) return;
      clock.cancel(this.entry);
    }
    this.entry = clock.schedule(at, timerReached, this);
  }

  cancel(): void {
    this.dueAt = -1;
    if (this.entry !== null) {
      this.module.rt.clock.cancel(this.entry);
      this.entry = null;
    }
  }

  /** @internal the clock reached the entry (timerReached) */
  onClock(): void {
    this.entry = null;
    if (this.dueAt < 0) return;
    const clock = this.module.rt.clock;
    if (clock.now() < this.dueAt) {
      this.entry = clock.schedule(this.dueAt, timerReached, this);
      return;
    }
    this.dueAt = -1;
    this.module.startTask('timer', (this.run ??= () => this.fire(this.client as never)), { client: this.client ?? undefined, entry: this.name });
  }
}

/**
 * What the clock calls for every module timer, given the timer: a closure per
 * timer (and its context) lived as long as the timer, a connection's.
 */
function timerReached(t: ModuleTimer): void {
  t.onClock();
}
