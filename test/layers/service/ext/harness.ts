/**
 * A stand-in for the service module, enough to drive the extension units:
 * it owns the executor, upcalls the server's handlers through a binding, and
 * records its cleanups and the outcome of every call.
 */
import { Module, Runtime, SlotTable, VirtualClock, type Binding } from '../../../../src/core/index.js';
import { invokeHandler, type CallContext, type ServiceHandler } from '../../../../src/layers/service/ext/context.js';
import { Executor, type ExecutorOptions } from '../../../../src/layers/service/ext/executor.js';
import { describeJob, type CallExt, type Job, type Outcome } from '../../../../src/layers/service/ext/types.js';

interface CallSlots {
  onCall(job: Job, ctx: CallContext): unknown;
}

export class FakeService extends Module<unknown, Job> {
  private readonly table = new SlotTable<CallSlots>(this, 'calls', { onCall: 'one' });
  private readonly binding: Binding<CallSlots>;
  readonly executor: Executor;
  readonly cleaned: string[] = [];
  readonly outcomes: Array<{ job: string; outcome: Outcome; at: number }> = [];

  constructor(rt: Runtime, handlers: Record<string, ServiceHandler>, opts: Partial<ExecutorOptions> = {}, serverCleanup?: (job: Job, reason: string) => void) {
    super(rt, 'service');
    this.binding = this.table.bind(rt.app('server'), {
      onCall: (job, ctx) => invokeHandler(handlers[job.call]!, job.args, ctx),
    });
    this.serverCleanup = serverCleanup;
    this.executor = new Executor(this, {
      ...opts,
      run: (_job, ctx) => this.upcall(this.binding, 'onCall', ctx.job, ctx),
      done: (job, outcome) => this.outcomes.push({ job: describeJob(job), outcome, at: rt.clock.now() }),
    });
  }

  private readonly serverCleanup: ((job: Job, reason: string) => void) | undefined;

  protected override cleanup(client: Job | undefined, reason: string): void {
    if (client === undefined || typeof client !== 'object' || !('call' in client)) return;
    this.cleaned.push(`${describeJob(client)}: ${reason}`);
    this.serverCleanup?.(client, reason);
  }

  outcome(id: number): Outcome | undefined {
    return this.outcomes.find((o) => o.job.includes(`#${id}@`))?.outcome;
  }
}

let seq = 0;
export function job(client: string, call: string, args: unknown, ext: CallExt = {}, extra: Partial<Job> = {}): Job {
  return { client, id: ++seq, call, args, ext, arrivedAt: 0, ...extra };
}

export function testbed(): { rt: Runtime; clock: VirtualClock } {
  const clock = new VirtualClock();
  return { rt: new Runtime({ name: 'server', clock }), clock };
}

/** Let promise continuations run (handlers resuming after a clock entry fired). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Advance virtual time in steps of `step` ms, letting handlers resume between steps. */
export async function advance(clock: VirtualClock, ms: number, step = 1): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    clock.advance(Math.min(step, end - clock.now()));
    await flush();
  }
}

/** A promise resolved `ms` from now on the virtual clock. */
export function sleep(clock: VirtualClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.schedule(clock.now() + ms, resolve));
}
