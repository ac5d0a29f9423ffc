/**
 * Runs the calls a server admitted: in order (ordering.ts), no more at once
 * than the server's structure allows, each in a task of its own started at the
 * service module with the call as its client, so that
 *  - the call's deadline is the task's deadline: the runtime expends the task
 *    when it passes, and every module on its path (the service module, the
 *    server's module) runs its cleanup for the call;
 *  - the executor learns how the call ended without anyone having to tell it:
 *    it holds a resource on the task, given back by the runtime when the task
 *    is expended, and dropped when the handler's result comes in. A server
 *    module that takes its upcalls through a mailbox runs the handler in a
 *    task of its own; the call (resource and deadline) moves to that task.
 *
 * Structures (the server's option):
 *  - 'direct': the handler is an upcall in the task that admitted the call;
 *    calls of different clients (and out-of-order calls) may overlap when
 *    handlers are asynchronous.
 *  - 'async': an asynchronous daemon: calls are messages in the service
 *    module's mailbox (the runtime's queued structure), run one after the
 *    other, the next when the previous has completed.
 *  - 'threaded': a threaded daemon: each call runs in a worker thread of a
 *    pool (threaded.ts), up to one call per worker at once.
 */
import { Binding, currentFrame, currentTask, FAILED, outsideTask, PENDING, SlotTable, type Module, type Task, type TaskFailure, type TaskResource } from '../../../core/index.js';
import { CallContext, type Completion } from './context.js';
import { PendingQueue } from './ordering.js';
import { WorkerPool, type WorkerSpec } from './threaded.js';
import type { FailureReason, Job, Outcome } from './types.js';

export type ServerStructure = 'direct' | 'async' | 'threaded';

export interface ExecutorOptions {
  readonly structure?: ServerStructure;
  /** Calls running at once (default: direct unbounded, async 1, threaded the number of workers). */
  readonly concurrency?: number;
  /**
   * Run the call: upcall the server's handler through its binding, with a
   * handler that passes its result to `invokeHandler` (context.ts). Runs in the
   * call's task, whose client is the job. Not used by 'threaded'.
   */
  readonly run?: (job: Job, ctx: CallContext) => unknown;
  /** How the call ended; called exactly once per submitted job. */
  readonly done: (job: Job, outcome: Outcome) => void;
  /** 'threaded': the handlers module the workers load. */
  readonly worker?: WorkerSpec;
  /** 'threaded': number of workers (default 2). */
  readonly workers?: number;
}

export interface ExecutorStats {
  submitted: number;
  completed: number;
  failed: number;
  /** Calls whose task was expended by their deadline (counted in `failed` too). */
  deadlines: number;
  /** Most calls waiting at once. */
  maxQueued: number;
}

/** One call under way: the resource its task holds. */
class Running implements TaskResource {
  ctx: CallContext | null = null;
  constructor(
    readonly ex: Executor,
    readonly job: Job,
  ) {}
  describe(): string {
    return `call ${this.job.call}#${this.job.id}`;
  }
  /** Given back by the runtime: the task was expended (or ended without a result). */
  release(task: Task): void {
    this.ex.taskGone(this, task);
  }
}

interface RunSlots {
  run(): unknown;
}

export class Executor implements Completion {
  readonly structure: ServerStructure;
  readonly queue = new PendingQueue();
  readonly stats: ExecutorStats = { submitted: 0, completed: 0, failed: 0, deadlines: 0, maxQueued: 0 };
  readonly pool: WorkerPool | null;
  private readonly concurrency: number;
  private running = 0;
  private readonly runs = new Map<Job, Running>();
  private table: SlotTable<RunSlots> | null = null;
  private pumping = false;

  constructor(
    /** The service module: call tasks start here, and its cleanup gets the job. */
    readonly origin: Module,
    private readonly opts: ExecutorOptions,
  ) {
    this.structure = opts.structure ?? 'direct';
    if (this.structure === 'threaded') {
      if (opts.worker === undefined) throw new Error("a 'threaded' server needs `worker: { url, export }` (its handlers module)");
      this.pool = new WorkerPool(opts.worker, opts.workers ?? 2, origin.name);
    } else {
      if (opts.run === undefined) throw new Error(`a '${this.structure}' server needs \`run\``);
      this.pool = null;
    }
    this.concurrency = opts.concurrency ?? (this.structure === 'async' ? 1 : this.structure === 'threaded' ? this.pool!.size : Infinity);
  }

  /** Calls started and not yet ended. */
  get active(): number {
    return this.running;
  }

  /** Admit a call. It runs now if its turn has come, else when it does. */
  submit(job: Job): void {
    this.stats.submitted++;
    if (this.running < this.concurrency && !this.pumping && this.queue.admit(job)) {
      this.start(job);
      return;
    }
    this.queue.push(job);
    if (this.queue.size > this.stats.maxQueued) this.stats.maxQueued = this.queue.size;
    this.pump();
  }

  /** Stop the workers of a threaded server. */
  close(): Promise<void> {
    return this.pool?.close() ?? Promise.resolve();
  }

  private pump(): void {
    // A call finishing inside a call started here must not start a third one
    // nested in it: the outer loop picks it up.
    if (this.pumping) return;
    this.pumping = true;
    try {
      let job: Job | undefined;
      while (this.running < this.concurrency && (job = this.queue.next()) !== undefined) this.start(job);
    } finally {
      this.pumping = false;
    }
  }

  private start(job: Job): void {
    this.running++;
    const r = new Running(this, job);
    this.runs.set(job, r);
    if (this.structure === 'async') {
      // The queued structure: a message in the service module's mailbox,
      // delivered on a later turn in a task of its own whose client is the job.
      this.table ??= new SlotTable<RunSlots>(this.origin, 'calls', { run: 'many' });
      const run = (): unknown => this.body(r);
      const b = new Binding<RunSlots>(this.table, this.origin, { run }, job);
      this.origin.post(b as Binding<object>, 'run', run, [], currentTask() as Task);
      return;
    }
    const result = this.origin.startTask('call', () => this.body(r), { client: job, entry: job.call });
    // A task that failed before it could hold the resource (the origin's own fault).
    if (result === FAILED && this.runs.get(job) === r && r.ctx === null) this.finish(r, { ok: false, reason: 'threw', detail: 'call task failed' });
  }

  /** The call's task: its first frame is the service module's, working for the job. */
  private body(r: Running): unknown {
    const task = currentTask()!;
    const job = r.job;
    const ctx = new CallContext(job, task, this.queue, this);
    r.ctx = ctx;
    task.hold(r);
    if (job.deadlineAt !== undefined) {
      if (this.origin.rt.clock.now() >= job.deadlineAt) {
        // It waited its whole time in the queue: expended before it started.
        this.origin.rt.expend(task, { kind: 'deadline', module: this.origin.name, where: job.call }, task.top);
        return undefined;
      }
      // The runtime's own deadline: checked after the handler returns, and
      // watched by the clock while an asynchronous handler runs.
      task.deadline = job.deadlineAt;
    }
    if (this.pool !== null) {
      // Across the thread boundary: the task lives until the worker answers,
      // as it would for an asynchronous handler (its deadline is watched).
      const rt = this.origin.rt;
      const frame = currentFrame()!;
      rt.asyncStarted(task);
      task.asyncFrame = frame;
      this.pool.run(job.call, job.args, task.signal).then(
        (v) => ctx.complete(v),
        (e: unknown) => {
          // Terminated because the task was expended: the runtime already knows.
          if (task.live) rt.expend(task, { kind: 'rejected', module: this.origin.name, where: job.call, error: e }, frame);
        },
      ).finally(() => rt.asyncSettled(task));
      return undefined;
    }
    const out = this.opts.run!(job, ctx);
    if (out === PENDING && task.pending === 0 && task.live && !ctx.settled) {
      // Nothing runs for the call in this task any more: the handler's module
      // takes upcalls through a mailbox, and the call goes on in the task that
      // delivers it (invokeHandler adopts it there).
      task.drop(r);
    }
    return out;
  }

  /** @internal the handler's result (CallContext.complete). */
  complete(ctx: CallContext, value: unknown): void {
    const r = this.runs.get(ctx.job);
    if (r === undefined || r.ctx !== ctx || !ctx.task.live) return;
    ctx.task.drop(r);
    this.finish(r, { ok: true, value });
  }

  /** @internal the handler runs in `task`, not the task started for the call. */
  adopt(ctx: CallContext, task: Task): void {
    const r = this.runs.get(ctx.job);
    if (r === undefined || r.ctx !== ctx) return;
    ctx.task.drop(r);
    ctx.task = task;
    task.hold(r);
    // The runtime watches the deadline of the task the handler runs in.
    if (ctx.job.deadlineAt !== undefined && task.deadline === undefined) task.deadline = ctx.job.deadlineAt;
  }

  /** @internal the call's task was expended, or ended holding the call without a result. */
  taskGone(r: Running, task: Task): void {
    if (this.runs.get(r.job) !== r) return;
    const f = task.failure;
    const reason = f === undefined ? 'no-result' : reasonOf(f);
    if (reason === 'deadline') this.stats.deadlines++;
    const outcome: Outcome = { ok: false, reason, detail: f !== undefined ? detailOf(f) : 'the handler returned without a result' };
    // The task is being expended: what the failure sets off (a failure reply,
    // the next call) belongs to no task of it.
    outsideTask(() => this.finish(r, outcome));
  }

  private finish(r: Running, outcome: Outcome): void {
    this.runs.delete(r.job);
    if (r.ctx !== null) r.ctx.settled = true;
    this.running--;
    if (outcome.ok) this.stats.completed++;
    else this.stats.failed++;
    this.queue.finished(r.job);
    try {
      this.opts.done(r.job, outcome);
    } finally {
      this.pump();
    }
  }
}

function reasonOf(f: TaskFailure): FailureReason {
  switch (f.kind) {
    case 'deadline':
      return 'deadline';
    case 'aborted':
      return 'aborted';
    default:
      return 'threw';
  }
}

function detailOf(f: TaskFailure): string {
  const e = f.error;
  const msg = e instanceof Error ? e.message : e !== undefined ? String(e) : '';
  return msg === '' ? `${f.kind} in ${f.module}` : msg;
}
