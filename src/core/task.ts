/**
 * Tasks and the frames of their path.
 *
 * A task is one activation that traverses modules: it starts at an event source
 * (a frame arriving, a timer, user input) and ends when its outermost call returns
 * and every async handler it started has settled. The current frame, and so the
 * current task, is found through one AsyncLocalStorage everywhere, which is what
 * makes it survive `await` inside async handlers.
 */
import { AsyncLocalStorage, executionAsyncResource } from 'node:async_hooks';
import type { Module } from './module.js';

/** What an upcall returns when its handler failed and the task was expended. */
export const FAILED: unique symbol = Symbol('upcall-stack.failed');
export type Failed = typeof FAILED;
/** What an upcall returns when its result is not available now (async handler, queued dispatch). */
export const PENDING: unique symbol = Symbol('upcall-stack.pending');
export type Pending = typeof PENDING;

export function isFailed(x: unknown): x is Failed {
  return x === FAILED;
}

/** Where a task came from. */
export type TaskSource = 'frame' | 'timer' | 'input' | 'call' | 'mailbox' | 'replay';

export type FailureKind = 'threw' | 'rejected' | 'deadline' | 'aborted' | 'crash' | 'violation';

export interface TaskFailure {
  readonly kind: FailureKind;
  /** Module in which the failure was detected (the handler's owner for 'threw'). */
  readonly module: string;
  /** Slot or entry point involved, if any. */
  readonly where?: string;
  readonly error?: unknown;
}

export function describeFailure(f: TaskFailure): string {
  const msg = f.error instanceof Error ? `: ${f.error.message}` : f.error !== undefined ? `: ${String(f.error)}` : '';
  return `${f.kind} in ${f.module}${f.where !== undefined ? `.${f.where}` : ''}${msg}`;
}

/** Something a task holds that must be given back when the task ends, whatever way. */
export interface TaskResource {
  release(task: Task): void;
}

/**
 * Work queued on a frame, to run when that activation unwinds (Module.afterUnwind,
 * or an entry point declared 'defer'). It runs in an activation of its own
 * module, working for `client`, nested in the frame it was queued on.
 */
export interface Deferred {
  readonly module: Module;
  /** The client it works for (cleanup gets it if the deferred work fails). */
  readonly client: unknown;
  /** afterUnwind's key, or the deferred entry point's name. */
  readonly key: string;
  /** Merged with a later request for the same (client, key) while queued (afterUnwind); not for deferred entries. */
  readonly merge: boolean;
  readonly fn: () => void;
}

/**
 * One module's activation on a task's path. `client` is the client state this
 * activation works for (a connection, a session); the module sets it once it
 * knows it, and cleanup receives it if the task is expended.
 */
export class Frame {
  active = true;
  client: unknown = undefined;
  /** Work to run when this activation unwinds, in order (see Module.afterUnwind). */
  deferred: Deferred[] | null = null;
  constructor(
    readonly task: Task,
    readonly module: Module,
    readonly parent: Frame | null,
    readonly entry: string,
  ) {}

  /** Module names from the task's root to this frame. */
  path(): string[] {
    const out: string[] = [];
    for (let f: Frame | null = this; f !== null; f = f.parent) out.push(f.module.name);
    return out.reverse();
  }
}

export type TaskState = 'running' | 'ended' | 'expended';

/**
 * What few tasks need: a failure, a deadline, held resources, cleanups done,
 * an abort signal, waiters. Kept apart and made on first use, so that the
 * common task (a frame in, a segment out, nothing held, no deadline) is a
 * smaller object to allocate and collect.
 */
class TaskExtras {
  failure: TaskFailure | undefined = undefined;
  asyncFrame: Frame | null = null;
  deadline: number | undefined = undefined;
  resources: Set<TaskResource> | null = null;
  cleaned: Array<[Module, unknown]> | null = null;
  controller: AbortController | null = null;
  endWaiters: Array<() => void> | null = null;
}

export class Task {
  state: TaskState = 'running';
  /** Async handlers still running on behalf of this task. */
  pending = 0;
  /** True while the outermost call is on the stack. */
  inCall = true;
  /** Innermost frame on the synchronous path (for inspection: `ps`, traces). */
  top: Frame | null = null;
  /** @internal the runtime's list of tasks not yet ended (a task is in it while it is the head or has a predecessor). */
  prevLive: Task | null = null;
  /** @internal */
  nextLive: Task | null = null;
  private extras: TaskExtras | null = null;

  constructor(
    readonly id: number,
    readonly host: string,
    readonly parent: Task | null,
    readonly source: TaskSource,
    readonly origin: string,
    readonly startedAt: number,
  ) {}

  private get x(): TaskExtras {
    return (this.extras ??= new TaskExtras());
  }

  get failure(): TaskFailure | undefined {
    return this.extras === null ? undefined : this.extras.failure;
  }
  set failure(f: TaskFailure | undefined) {
    this.x.failure = f;
  }

  /** Frame of the latest async handler still running (its path is cleaned if it fails). */
  get asyncFrame(): Frame | null {
    return this.extras === null ? null : this.extras.asyncFrame;
  }
  set asyncFrame(f: Frame | null) {
    this.x.asyncFrame = f;
  }

  /** Absolute clock time after which the task is expended. */
  get deadline(): number | undefined {
    return this.extras === null ? undefined : this.extras.deadline;
  }
  set deadline(at: number | undefined) {
    this.x.deadline = at;
  }

  get resources(): Set<TaskResource> | null {
    return this.extras === null ? null : this.extras.resources;
  }
  set resources(r: Set<TaskResource> | null) {
    this.x.resources = r;
  }

  /** (module, client) pairs already cleaned, so each cleanup runs exactly once. */
  get cleaned(): Array<[Module, unknown]> | null {
    return this.extras === null ? null : this.extras.cleaned;
  }
  set cleaned(c: Array<[Module, unknown]> | null) {
    this.x.cleaned = c;
  }

  /** Aborted when the task is expended. Created on first use. */
  get signal(): AbortSignal {
    const x = this.x;
    if (x.controller === null) {
      x.controller = new AbortController();
      if (this.state === 'expended') x.controller.abort(x.failure);
    }
    return x.controller.signal;
  }

  get expended(): boolean {
    return this.state === 'expended';
  }

  get live(): boolean {
    return this.state === 'running';
  }

  /** The module path of the synchronous part still on the stack. */
  get path(): string[] {
    return this.top === null ? [] : this.top.path();
  }

  /** Work queued to run when activations on the synchronous path unwind, as `module.key`, outermost first. */
  get deferred(): string[] {
    const out: string[] = [];
    for (let f = this.top; f !== null; f = f.parent) {
      if (f.deferred === null) continue;
      for (let i = f.deferred.length - 1; i >= 0; i--) out.push(`${f.deferred[i]!.module.name}.${f.deferred[i]!.key}`);
    }
    return out.reverse();
  }

  hold(r: TaskResource): void {
    (this.x.resources ??= new Set()).add(r);
  }

  drop(r: TaskResource): void {
    this.extras?.resources?.delete(r);
  }

  /** Resolves when the task has ended (normally or expended). */
  ended(): Promise<void> {
    if (this.state !== 'running' && this.pending === 0 && !this.inCall) return Promise.resolve();
    const x = this.x;
    return new Promise((resolve) => (x.endWaiters ??= []).push(resolve));
  }

  /** @internal */
  fireAbort(): void {
    const x = this.extras;
    if (x !== null && x.controller !== null) x.controller.abort(x.failure);
  }

  /** @internal */
  notifyEnded(): void {
    const x = this.extras;
    if (x === null) return;
    const w = x.endWaiters;
    x.endWaiters = null;
    if (w !== null) for (const f of w) f();
  }
}

/** A client state as events and traces show it: its `describe()` if it has one. */
export function describeClient(client: unknown): string {
  if (typeof client === 'object' && client !== null) {
    const d = (client as { describe?: () => string }).describe;
    if (typeof d === 'function') return d.call(client);
  }
  return String(client);
}

/** The single carrier of "where am I": the current frame. */
export const context = new AsyncLocalStorage<Frame>();

/**
 * Where `context` keeps its store on each execution resource, when it is the
 * async_hooks-based storage (Node 20 and 22: the instance's `kResourceStore`
 * symbol, which its propagation hook copies to every resource created while
 * the store is set); null for any other implementation (AsyncContextFrame,
 * Node 24), which then always gets `run`.
 */
const STORE_KEY: symbol | null = ((): symbol | null => {
  const als = context as unknown as { kResourceStore?: unknown; enabled?: unknown };
  const k = als.kResourceStore;
  return typeof k === 'symbol' && typeof als.enabled === 'boolean' ? k : null;
})();

/**
 * Whether the storage is enabled: `run` enables it (so the first frame goes
 * through `run`), `outsideTask` (context.exit) disables it for its extent.
 */
const storage = context as unknown as { enabled: boolean };

/** What runs in a frame: `fn` applied to `self` and its arguments. */
export type Body = (...a: never[]) => unknown;

/**
 * How the runtime passes a call's arguments along without an array per call:
 * `n` of them (0 to 3) one by one in `a`, `b`, `c`; or, `n` = SPREAD, all of
 * them as the array `a`. Almost every upcall and entry point takes three
 * arguments or fewer, and a rest array per call was a third of what a frame
 * cost to allocate.
 */
export const SPREAD = -1;

/** @internal `fn` applied to `self` and the arguments (n, a, b, c) describe. */
export function applyN(fn: Body, self: unknown, n: number, a: unknown, b: unknown, c: unknown): unknown {
  const f = fn as (...x: unknown[]) => unknown;
  switch (n) {
    case 0:
      return f.call(self);
    case 1:
      return f.call(self, a);
    case 2:
      return f.call(self, a, b);
    case 3:
      return f.call(self, a, b, c);
    default:
      return Reflect.apply(f, self, a as unknown[]);
  }
}

/** @internal The arguments (n, a, b, c) describe, as an array of their own. */
export function argArray(n: number, a: unknown, b: unknown, c: unknown): unknown[] {
  switch (n) {
    case 0:
      return [];
    case 1:
      return [a];
    case 2:
      return [a, b];
    case 3:
      return [a, b, c];
    default:
      return a as unknown[];
  }
}

/**
 * @internal Runs `fn` as `frame` (the current frame for its duration, and for
 * the continuations it creates), then the work deferred onto the frame
 * meanwhile, inside the same entry of the storage: one `run` per frame
 * instead of a second one to drain. Arguments as `applyN` takes them.
 */
export function runIn<R>(frame: Frame, fn: Body, self: unknown, n: number, a?: unknown, b?: unknown, c?: unknown): R {
  if (STORE_KEY === null || !storage.enabled) return context.run(frame, invoke, frame, fn, self, n, a, b, c) as R;
  // What `context.run` does, written out: the frame is the store of the
  // current execution resource for fn's extent (continuations created inside
  // copy it from there), and the previous store comes back however fn leaves.
  // Without run's own store check, rest array and Reflect.apply: a frame is
  // entered a dozen times per TCP segment, and this halves an entry's cost.
  const res = executionAsyncResource() as Record<symbol, unknown>;
  const saved = res[STORE_KEY];
  res[STORE_KEY] = frame;
  try {
    const r = applyN(fn, self, n, a, b, c);
    if (frame.deferred !== null) frame.module.rt.drainHere(frame);
    return r as R;
  } finally {
    res[STORE_KEY] = saved;
  }
}

function invoke(frame: Frame, fn: Body, self: unknown, n: number, a: unknown, b: unknown, c: unknown): unknown {
  const r = applyN(fn, self, n, a, b, c);
  if (frame.deferred !== null) frame.module.rt.drainHere(frame);
  return r;
}

/**
 * Runs `fn` outside any task: neither it nor what it schedules belongs to the
 * task around the call (work a failure sets off, a callback for a later turn).
 */
export function outsideTask<R>(fn: () => R): R {
  return context.exit(fn);
}

/**
 * The current frame, if it belongs to a task that has not ended. A callback
 * scheduled from inside a task (a real-time timer, a socket event) carries that
 * task's context with it; once the task has ended, that context is stale and
 * the callback runs outside any task.
 */
export function currentFrame(): Frame | undefined {
  const f = context.getStore();
  return f !== undefined && f.task.state !== 'ended' ? f : undefined;
}

/** The frame entered last (ended task or not): what `claim` and a mailbox delivery look at. */
export function enteredFrame(): Frame | undefined {
  return context.getStore();
}

export function currentTask(): Task | undefined {
  return currentFrame()?.task;
}
