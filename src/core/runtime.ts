/**
 * The runtime of one host: its clock, its random source, its modules, the tasks
 * alive on it, and the rules that make the stack Swift-style.
 *
 * Rule 3 (tasks are expendable) lives here: `expend` ends a task and runs every
 * module's cleanup along the task's path, innermost first, exactly once each.
 */
// The Observable class alone (a path rxjs exports): the package's index loads
// all of rxjs, about 220 modules and 100 ms, which every replay worker paid at
// start-up for the one class the runtime needs. Same class as rxjs's index exports.
import { Observable } from 'rxjs/internal/Observable';
import type { Subscriber } from 'rxjs';
import type { Clock } from './clock.js';
import { VirtualClock } from './clock.js';
import type { StackEvent } from './events.js';
import { formatEvent } from './events.js';
import { TaskExpended } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { Module } from './module.js';
import { Rng } from './random.js';
import {
  currentFrame,
  describeClient,
  describeFailure,
  FAILED,
  Frame,
  runIn,
  Task,
  type Body,
  type Deferred,
  type Failed,
  type TaskFailure,
  type TaskSource,
} from './task.js';

/** How an upcall reaches the module above: a procedure call, or a message to its mailbox. */
export type DispatchPolicy = 'direct' | 'queued';

export interface RuntimeOptions {
  /** Host name, used in events and logs. */
  name?: string;
  clock?: Clock;
  /** Seed for the host's random source (default 1). */
  seed?: number;
  /** Default dispatch policy for modules of this host. */
  dispatch?: DispatchPolicy;
  logger?: Logger;
}

export interface TaskOptions {
  /** Milliseconds from now after which the task is expended. */
  deadlineMs?: number;
  /** Client state the root frame works for. */
  client?: unknown;
  /** Entry label of the root frame (defaults to the source). */
  entry?: string;
  parent?: Task | null;
}

export interface RuntimeStats {
  tasksStarted: number;
  tasksEnded: number;
  tasksExpended: number;
  upcalls: number;
  deferrals: number;
  cleanups: number;
  drops: number;
}

export class Runtime {
  readonly name: string;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly log: Logger;
  dispatch: DispatchPolicy;
  readonly stats: RuntimeStats = {
    tasksStarted: 0,
    tasksEnded: 0,
    tasksExpended: 0,
    upcalls: 0,
    deferrals: 0,
    cleanups: 0,
    drops: 0,
  };
  /** True when at least one observer subscribed to `events`. */
  observed = false;
  readonly events: Observable<StackEvent>;
  private readonly observers = new Set<Subscriber<StackEvent>>();
  private readonly modules = new Map<string, Module>();
  private readonly apps = new Set<Module>();
  /** Tasks not yet ended, as an intrusive list (Task.prevLive/nextLive): no hashing per task. */
  private liveHead: Task | null = null;
  private nextTaskId = 0;

  constructor(opts: RuntimeOptions = {}) {
    this.name = opts.name ?? 'host';
    this.clock = opts.clock ?? new VirtualClock();
    this.rng = new Rng(opts.seed ?? 1);
    this.dispatch = opts.dispatch ?? 'direct';
    this.log = opts.logger ?? createLogger(this.name);
    this.events = new Observable<StackEvent>((sub) => {
      this.observers.add(sub);
      this.observed = true;
      return () => {
        this.observers.delete(sub);
        this.observed = this.observers.size > 0;
      };
    });
  }

  /** @internal called by the Module constructor. */
  register(m: Module): void {
    const had = this.modules.get(m.name);
    if (had !== undefined) {
      // Names are what events, stats, traces and the checker report: one per host.
      throw new Error(
        `host '${this.name}' already has a module named '${m.name}' (${had.constructor.name}); ` +
          `a ${m.constructor.name} needs another name (module names are unique per host)`,
      );
    }
    this.modules.set(m.name, m);
  }

  module(name: string): Module | undefined {
    return this.modules.get(name);
  }

  allModules(): Module[] {
    return [...this.modules.values()];
  }

  /**
   * A plain module for application code that binds handlers without being a
   * layer of its own (a test, an example, a user's script). Created on first use.
   */
  app(name: string): Module {
    const m = this.modules.get(name);
    if (m === undefined) {
      const created = new Module(this, name);
      this.apps.add(created);
      return created;
    }
    // A layer's name is not an application's: acting as that layer would fool its recursion guard.
    if (!this.apps.has(m)) throw new Error(`host '${this.name}': '${name}' is the name of a ${m.constructor.name} module, not of an application`);
    return m;
  }

  /** Tasks not yet ended (running, or waiting for async handlers). */
  tasks(): Task[] {
    const out: Task[] = [];
    for (let t = this.liveHead; t !== null; t = t.nextLive) out.push(t);
    return out.reverse();
  }

  emit(e: StackEvent): void {
    for (const o of this.observers) o.next(e);
  }

  /** Send every event to the logger (at debug), with `module` and `task` fields. */
  logEvents(logger: Logger = this.log): () => void {
    const sub = this.events.subscribe((e) => {
      const mod = 'module' in e ? e.module : undefined;
      logger.debug({ module: mod, task: e.task, event: e.kind }, formatEvent(e));
    });
    return () => sub.unsubscribe();
  }

  /**
   * Start a task at `origin` (the module whose event source it is) and run fn as
   * its outermost call. Returns fn's result, or FAILED if the task was expended.
   * Never throws for a failure inside the task: the failure is counted, logged,
   * cleaned up, and returned as a value.
   */
  startTask<R>(origin: Module, source: TaskSource, fn: () => R, opts?: TaskOptions): R | Failed {
    return this.runTask(origin, source, fn, undefined, opts, false, 0) as R | Failed;
  }

  /**
   * @internal `startTask` for the runtime's own wrappers: the body is `fn`
   * applied to `self` and the arguments (n, a, b, c: see SPREAD), so a call
   * needs no closure made for it; with `raise`, an expended task throws
   * TaskExpended instead of returning FAILED.
   */
  runTask(origin: Module, source: TaskSource, fn: Body, self: unknown, opts: TaskOptions | undefined, raise: boolean, n: number, a?: unknown, b?: unknown, c?: unknown): unknown {
    const parentFrame = currentFrame();
    const parent = opts?.parent !== undefined ? opts.parent : (parentFrame?.task ?? null);
    const now = this.clock.now();
    const task = new Task(++this.nextTaskId, this.name, parent, source, origin.name, now);
    if (opts?.deadlineMs !== undefined) task.deadline = now + opts.deadlineMs;
    this.stats.tasksStarted++;
    const head = this.liveHead;
    task.nextLive = head;
    if (head !== null) head.prevLive = task;
    this.liveHead = task;
    if (this.observed) {
      this.emit({ kind: 'task-start', host: this.name, task: task.id, at: now, parent: parent?.id ?? null, source, module: origin.name });
    }
    const frame = new Frame(task, origin, null, opts?.entry ?? source);
    frame.client = opts?.client;
    task.top = frame;
    let result: unknown;
    try {
      result = runIn(frame, fn, self, n, a, b, c);
    } catch (error) {
      // The innermost wrapper already expended the task if a module saw the
      // error; anything reaching here unexpended is a fault of the origin itself.
      if (task.state === 'running') this.expend(task, { kind: 'crash', module: origin.name, where: frame.entry, error }, frame);
      result = FAILED;
    } finally {
      frame.active = false;
      task.top = null;
      task.inCall = false;
    }
    if (task.state === 'expended') result = FAILED;
    if (task.pending === 0) this.end(task);
    else if (task.deadline !== undefined) this.watchDeadline(task, frame);
    if (raise && result === FAILED) throw new TaskExpended(task.id, task.failure?.kind ?? 'failed', task.failure?.error);
    return result;
  }

  /**
   * End a task as a failure: run each module's cleanup for the client state the
   * task involved there, from `from` down to the root (reverse order of entry),
   * exactly once per (module, client); give back what the task held.
   */
  expend(task: Task, failure: TaskFailure, from: Frame | null): void {
    if (task.state !== 'running') return;
    task.state = 'expended';
    task.failure = failure;
    this.stats.tasksExpended++;
    const reason = describeFailure(failure);
    if (failure.kind === 'crash' || failure.kind === 'violation') {
      this.log.error({ module: failure.module, task: task.id, err: failure.error }, `task expended: ${reason}`);
    } else if (this.log.isLevelEnabled('info')) {
      this.log.info({ module: failure.module, task: task.id }, `task expended: ${reason}`);
    }
    for (let f = from; f !== null; f = f.parent) {
      f.deferred = null;
      this.cleanupOnce(task, f.module, f.client, reason);
    }
    if (task.resources !== null) {
      for (const r of [...task.resources]) r.release(task);
      task.resources = null;
    }
    task.fireAbort();
    if (!task.inCall && task.pending === 0) this.end(task);
  }

  /**
   * @internal queue `d` on `frame`, to run when that activation unwinds; a
   * request for the same (module, client, key) already queued there absorbs
   * it (`d.merge`). `from` is the activation asking. Counted and reported.
   */
  enqueue(frame: Frame, d: Deferred, from: Frame): void {
    const q = frame.deferred;
    if (q === null) {
      frame.deferred = [d];
    } else {
      if (d.merge) {
        for (const x of q) if (x.merge && x.key === d.key && x.client === d.client && x.module === d.module) return;
      }
      q.push(d);
    }
    d.module.stats.deferrals++;
    this.stats.deferrals++;
    if (this.observed) {
      this.emit({
        kind: 'deferral',
        host: this.name,
        task: frame.task.id,
        at: this.clock.now(),
        module: d.module.name,
        entry: d.key,
        from: from.module.name,
        client: d.client === undefined ? null : describeClient(d.client),
      });
    }
  }

  /**
   * @internal `frame`'s own work is done: run what was deferred onto it, in
   * order, before it ends. Work for the frame's own client runs in the frame
   * itself, anything else (a deferred entry) in an activation of its own nested
   * in it; either way work deferred while it runs queues on `frame` again, and
   * this loops until the queue is empty. Stops if the task is expended; its
   * queue is dropped.
   */
  drain(frame: Frame): void {
    const task = frame.task;
    const saved = task.top;
    task.top = frame;
    try {
      runIn(frame, drainQueue, undefined, 2, this, frame);
    } finally {
      task.top = saved;
    }
  }

  /**
   * @internal `drain` from inside `frame`, which is current and on top of
   * its task's path (its own code just returned): no second entry of it.
   */
  drainHere(frame: Frame): void {
    drainQueue(this, frame);
  }

  /** Abort a task from outside (a user, a supervisor). Runs its cleanups now. */
  abort(task: Task, reason = 'aborted'): void {
    this.expend(task, { kind: 'aborted', module: task.origin, error: reason }, task.top ?? task.asyncFrame);
  }

  /** @internal an async handler of `task` started. */
  asyncStarted(task: Task): void {
    task.pending++;
  }

  /** @internal an async handler of `task` settled. */
  asyncSettled(task: Task): void {
    task.pending--;
    if (task.pending === 0 && !task.inCall) this.end(task);
  }

  private cleanupOnce(task: Task, module: Module, client: unknown, reason: string): void {
    const done = (task.cleaned ??= []);
    for (const [m, c] of done) if (m === module && c === client) return;
    done.push([module, client]);
    this.stats.cleanups++;
    module.runCleanup(client, reason, task);
  }

  private watchDeadline(task: Task, frame: Frame): void {
    const at = task.deadline!;
    const entry = this.clock.schedule(at, () => {
      if (task.state === 'running') this.expend(task, { kind: 'deadline', module: frame.module.name, where: 'deadline' }, task.top ?? task.asyncFrame ?? frame);
    });
    void task.ended().then(() => this.clock.cancel(entry));
  }

  private end(task: Task): void {
    const prev = task.prevLive;
    if (prev === null && this.liveHead !== task) return;
    const next = task.nextLive;
    if (prev !== null) prev.nextLive = next;
    else this.liveHead = next;
    if (next !== null) next.prevLive = prev;
    task.prevLive = null;
    task.nextLive = null;
    if (task.state === 'running') task.state = 'ended';
    this.stats.tasksEnded++;
    if (task.resources !== null && task.resources.size > 0) {
      // A lock or buffer outliving its task would starve everybody else.
      this.log.warn({ task: task.id, count: task.resources.size }, 'task ended holding resources; released');
      for (const r of [...task.resources]) r.release(task);
      task.resources = null;
    }
    if (this.observed) {
      this.emit({
        kind: 'task-end',
        host: this.name,
        task: task.id,
        at: this.clock.now(),
        outcome: task.state === 'expended' ? 'expended' : 'ok',
        ...(task.failure !== undefined ? { reason: describeFailure(task.failure) } : {}),
      });
    }
    task.notifyEnded();
  }
}

function drainQueue(rt: Runtime, frame: Frame): void {
  const task = frame.task;
  let q: Deferred[] | null;
  while ((q = frame.deferred) !== null && q.length > 0 && task.state === 'running') {
    const d = q.shift()!;
    if (rt.observed) {
      rt.emit({
        kind: 'deferred-run',
        host: rt.name,
        task: task.id,
        at: rt.clock.now(),
        module: d.module.name,
        entry: d.key,
        client: d.client === undefined ? null : describeClient(d.client),
      });
    }
    if (d.merge && d.module === frame.module && d.client === frame.client) {
      try {
        d.fn();
      } catch (error) {
        if (task.state === 'running') rt.expend(task, { kind: 'crash', module: d.module.name, where: d.key, error }, frame);
      }
      continue;
    }
    const child = new Frame(task, d.module, frame, d.key);
    child.client = d.client;
    task.top = child;
    try {
      runIn(child, d.fn, undefined, 0);
    } catch (error) {
      if (task.state === 'running') rt.expend(task, { kind: 'crash', module: d.module.name, where: d.key, error }, child);
    } finally {
      child.active = false;
      task.top = frame;
    }
  }
  frame.deferred = null;
}
