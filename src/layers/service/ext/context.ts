/**
 * What a server's handler sees of the call it serves: who asked, by when, the
 * token's claims when the call takes its token as an argument, and (for
 * out-of-order calls) the server's queue of calls still waiting, which it may
 * reorder.
 */
import { currentTask, type Task } from '../../../core/index.js';
import type { PendingQueue } from './ordering.js';
import type { Job, PendingCall, TokenClaims } from './types.js';

/** How the executor hears that a handler produced its result. */
export interface Completion {
  complete(ctx: CallContext, value: unknown): void;
  /** The handler runs in another task than the one started for the call (its module takes upcalls through a mailbox). */
  adopt(ctx: CallContext, task: Task): void;
}

export class CallContext {
  /** @internal set once the result is in (or the call failed): later results are ignored. */
  settled = false;

  constructor(
    readonly job: Job,
    /** The server task running the call (the handler's own, when its module takes upcalls through a mailbox). */
    public task: Task,
    private readonly queue: PendingQueue,
    private readonly completion: Completion,
  ) {}

  get call(): string {
    return this.job.call;
  }

  get client(): string {
    return this.job.client;
  }

  get id(): number {
    return this.job.id;
  }

  /** Absolute server clock time by which the call must complete, if it has a deadline. */
  get deadlineAt(): number | undefined {
    return this.job.deadlineAt;
  }

  get token(): TokenClaims | undefined {
    return this.job.token;
  }

  /** Aborted when the call's task is expended (its deadline passed, the server aborted it). */
  get signal(): AbortSignal {
    return this.task.signal;
  }

  /** Out-of-order calls waiting on this server, in the order they will run. */
  pending(): readonly PendingCall[] {
    return this.queue.pending();
  }

  /** Have the first waiting out-of-order call `pred` accepts run next. False if none does. */
  takeNext(pred: (c: PendingCall) => boolean): boolean {
    return this.queue.takeNext(pred);
  }

  /** Reorder the waiting out-of-order calls. */
  reorder(compare: (a: PendingCall, b: PendingCall) => number): void {
    this.queue.reorder(compare);
  }

  /** @internal see invokeHandler. */
  adopt(task: Task): void {
    this.completion.adopt(this, task);
  }

  /** @internal the handler's result. */
  complete(value: unknown): void {
    if (this.settled) return;
    this.completion.complete(this, value);
  }
}

export type ServiceHandler = (args: never, ctx: CallContext) => unknown;

/**
 * Call a server's handler and hand its result to the call's context. Use it
 * in the function bound as the upcall handler, and return what it returns: a
 * promise from an asynchronous handler keeps the task alive (its deadline
 * applies, a rejection expends it) until the result is in.
 */
export function invokeHandler(handler: ServiceHandler, args: unknown, ctx: CallContext): unknown {
  // A handler whose module takes its upcalls through a mailbox runs later, in
  // a task of its own: the call (its deadline, how it ends) moves there.
  const t = currentTask();
  if (t !== undefined && t !== ctx.task && !ctx.settled) ctx.adopt(t);
  const r = handler(args as never, ctx);
  if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
    return (r as PromiseLike<unknown>).then((v) => ctx.complete(v));
  }
  ctx.complete(r);
  return r;
}
