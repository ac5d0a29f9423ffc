/**
 * Entry of a worker thread running a threaded server's handlers ("threaded
 * daemon"). The handlers module is loaded by URL; each call is an upcall in a
 * task of the worker's own runtime, like every handler on the main thread.
 * Messages: in `[id, call, args]`, out `[id, true, value]` or `[id, false, reason, message]`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Module, RealClock, Runtime, SlotTable, type Binding } from '../../../core/index.js';

export interface HandlerWorkerData {
  readonly url: string;
  readonly export: string;
  readonly name: string;
}

interface WorkerSlots {
  onCall(id: number, call: string, args: unknown): unknown;
}

type Handlers = Record<string, (args: unknown) => unknown>;

class WorkerHost extends Module {
  private readonly table = new SlotTable<WorkerSlots>(this, 'calls', { onCall: 'one' });
  private binding: Binding<WorkerSlots> | null = null;

  constructor(rt: Runtime) {
    super(rt, 'service-worker');
  }

  bindHandlers(owner: Module, handlers: Handlers, reply: (m: unknown[]) => void): void {
    this.binding = this.table.bind(owner, {
      onCall: (id, call, args) => {
        const h = handlers[call];
        if (typeof h !== 'function') {
          reply([id, false, 'threw', `no handler for '${call}'`]);
          return undefined;
        }
        let r: unknown;
        try {
          r = h(args);
        } catch (e) {
          // The caller learns why; the worker's runtime still expends the task.
          reply([id, false, 'threw', e instanceof Error ? e.message : String(e)]);
          throw e;
        }
        if (r !== null && typeof r === 'object' && typeof (r as { then?: unknown }).then === 'function') {
          return (r as Promise<unknown>).then(
            (v) => reply([id, true, v]),
            (e: unknown) => {
              reply([id, false, 'threw', e instanceof Error ? e.message : String(e)]);
              throw e;
            },
          );
        }
        reply([id, true, r]);
        return r;
      },
    });
  }

  run(id: number, call: string, args: unknown): void {
    // A failed upcall has already replied with its reason.
    this.startTask('input', () => this.upcall(this.binding!, 'onCall', id, call, args), { entry: call });
  }
}

async function main(data: HandlerWorkerData): Promise<void> {
  const rt = new Runtime({ name: `${data.name}/worker`, clock: new RealClock() });
  const host = new WorkerHost(rt);
  const mod = (await import(data.url)) as Record<string, unknown>;
  const handlers = mod[data.export] as Handlers | undefined;
  if (handlers === undefined || typeof handlers !== 'object') throw new Error(`${data.url} has no export '${data.export}'`);
  const port = parentPort!;
  const reply = (m: unknown[]): void => port.postMessage(m);
  host.bindHandlers(rt.app('handlers'), handlers, reply);
  port.on('message', (m: [number, string, unknown]) => host.run(m[0], m[1], m[2]));
  port.postMessage(['ready']);
}

main(workerData as HandlerWorkerData).catch((err: unknown) => {
  parentPort!.postMessage(['error', err instanceof Error ? err.message : String(err)]);
});
