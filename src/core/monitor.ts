/**
 * A module's lock: a monitor in Hoare's sense, async-aware and FIFO.
 *
 * Most critical sections in the stack are synchronous and so never contend in a
 * single-threaded runtime; the lock still matters because it is what rule 2 is
 * checked against, and because an async section (one that awaits while holding
 * it) makes later arrivals wait their turn in order.
 */
import { currentTask, type Task, type TaskResource } from './task.js';

interface Waiter {
  readonly task: Task | null;
  readonly grant: () => void;
}

export class Monitor implements TaskResource {
  private ownerTask: Task | null = null;
  private depth = 0;
  private readonly waiters: Waiter[] = [];
  /** Times a caller had to wait. */
  contended = 0;

  constructor(readonly name: string) {}

  get held(): boolean {
    return this.depth > 0;
  }

  /** The task holding the lock (null when free or held outside any task). */
  get owner(): Task | null {
    return this.ownerTask;
  }

  heldBy(task: Task | undefined): boolean {
    return this.depth > 0 && this.ownerTask === (task ?? null);
  }

  /**
   * Runs fn holding the lock. Synchronous when the lock is free (or already held
   * by the same task: the monitor is re-entrant for its owner task; code outside any task never re-enters); otherwise fn runs
   * after the earlier holders, in arrival order, and a promise is returned.
   * If fn returns a promise, the lock is held until it settles.
   */
  locked<T>(fn: () => T): T | Promise<Awaited<T>> {
    const task = currentTask() ?? null;
    if (this.depth > 0 ? task !== null && this.ownerTask === task : this.waiters.length === 0) {
      // Not yet held for the task: a section that stays synchronous gives the
      // lock back on its way out whatever happens (runHeld), so only one that
      // returns a promise is entered in the task's resources. A Set of
      // resources per locked call was most of what a TCP connect allocated in
      // the runtime.
      this.take(task, false);
      return this.runHeld(fn);
    }
    this.contended++;
    return new Promise<void>((resolve) => this.waiters.push({ task, grant: resolve })).then(
      () => this.runHeld(fn) as Awaited<T>,
    );
  }

  /** Acquire for an async region; call the returned function to release. */
  async acquire(): Promise<() => void> {
    const task = currentTask() ?? null;
    if (this.depth > 0 ? task !== null && this.ownerTask === task : this.waiters.length === 0) {
      this.take(task, true);
    } else {
      this.contended++;
      await new Promise<void>((resolve) => this.waiters.push({ task, grant: resolve }));
    }
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.exit();
      }
    };
  }

  /** Given back by the runtime when the holding task is expended. */
  release(task: Task): void {
    if (this.ownerTask === task && this.depth > 0) {
      this.depth = 1;
      this.exit();
    }
  }

  private runHeld<T>(fn: () => T): T {
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.exit();
      throw e;
    }
    if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
      // Held across awaits now: if the task is expended meanwhile, the runtime gives it back.
      this.ownerTask?.hold(this);
      (result as unknown as Promise<unknown>).then(
        () => this.exit(),
        () => this.exit(),
      );
      return result;
    }
    this.exit();
    return result;
  }

  /** `hold`: enter the lock in the task's resources now (a waiter granted it, or an async region). */
  private take(task: Task | null, hold: boolean): void {
    if (this.depth === 0) this.ownerTask = task;
    // Also when re-entered: an async region inside a synchronous section outlives it.
    if (hold) task?.hold(this);
    this.depth++;
  }

  private exit(): void {
    if (this.depth === 0) return;
    if (--this.depth > 0) return;
    this.ownerTask?.drop(this);
    this.ownerTask = null;
    const next = this.waiters.shift();
    if (next !== undefined) {
      this.take(next.task, true);
      next.grant();
    }
  }
}
