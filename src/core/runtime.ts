/**
 * The runtime of one host: its clock, its random source, its modules, the tasks
 * alive on it, and the rules that make the stack Swift-style.
 *
 * Rule 3 (tasks are expendable) lives here: `expend` ends a task and runs every
 * module's cleanup along the task's path, innermost first, exactly once each.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Clock } from './clock.js';
import { VirtualClock } from './clock.js';
import type { StackEvent } from './events.js';
import { formatEvent } from './events.js';
import { createLogger, type Logger } from './log.js';
import { Module } from './module.js';
import { Rng } from './random.js';
import {
  context,
  currentFrame,
  describeFailure,
  FAILED,
  Frame,
  Task,
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
  private readonly liveTasks = new Set<Task>();
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
    if (this.modules.has(m.name)) throw new Error(`host '${this.name}' already has a module named '${m.name}'`);
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
    return this.modules.get(name) ?? new Module(this, name);
  }

  /** Tasks not yet ended (running, or waiting for async handlers). */
  tasks(): Task[] {
    return [...this.liveTasks];
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
    const parentFrame = currentFrame();
    const parent = opts?.parent !== undefined ? opts.parent : (parentFrame?.task ?? null);
    const now = this.clock.now();
    const task = new Task(++this.nextTaskId, this.name, parent, source, origin.name, now);
    if (opts?.deadlineMs !== undefined) task.deadline = now + opts.deadlineMs;
    this.stats.tasksStarted++;
    this.liveTasks.add(task);
    if (this.observed) {
      this.emit({ kind: 'task-start', host: this.name, task: task.id, at: now, parent: parent?.id ?? null, source, module: origin.name });
    }
    const frame = new Frame(task, origin, null, opts?.entry ?? source);
    frame.client = opts?.client;
    task.top = frame;
    let result: R | Failed;
    try {
      result = context.run(frame, fn);
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
    if (!this.liveTasks.delete(task)) return;
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
