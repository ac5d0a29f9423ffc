/**
 * Threaded servers: a pool of worker threads, each running the server's
 * handlers module (handler-worker.ts). The executor hands a call to an idle
 * worker and waits for its answer; a call whose task is expended (its deadline
 * passed) has its worker terminated and replaced, which is the only way to stop
 * a thread that is busy computing: the background text's "the remote thread is
 * destroyed".
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HandlerWorkerData } from './handler-worker.js';

export interface WorkerSpec {
  /** URL of a module exporting the handlers (`import.meta.url` of its file, or a file URL). */
  readonly url: string;
  /** Name of the export: an object mapping call names to `(args) => result | Promise<result>`. */
  readonly export: string;
}

const here = import.meta.url;
const fromSources = here.endsWith('.ts');
const entry = new URL(fromSources ? './handler-worker.ts' : './handler-worker.js', here).href;

/** A worker does not inherit the parent's TypeScript loader: the code it starts with registers tsx first. */
function bootCode(): string {
  if (!fromSources) return `import(${JSON.stringify(entry)})`;
  const pkg = createRequire(here).resolve('tsx/package.json');
  const api = pathToFileURL(path.join(path.dirname(pkg), 'dist/esm/api/index.mjs')).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
}

export class WorkerFailure extends Error {
  constructor(
    readonly reason: 'threw' | 'aborted',
    message: string,
  ) {
    super(message);
  }
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy: { id: number; resolve: (v: unknown) => void; reject: (e: Error) => void } | null;
}

export interface PoolStats {
  calls: number;
  /** Workers terminated because their call was expended. */
  killed: number;
  started: number;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private closed = false;
  readonly stats: PoolStats = { calls: 0, killed: 0, started: 0 };

  constructor(
    private readonly spec: WorkerSpec,
    readonly size: number,
    private readonly name = 'service',
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** Resolves when every worker has loaded the handlers. */
  get ready(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.ready)).then(() => undefined);
  }

  /**
   * Run `call` on an idle worker. The caller (the executor) never has more
   * calls running than workers. `signal` aborting terminates the worker.
   */
  run(call: string, args: unknown, signal?: AbortSignal): Promise<unknown> {
    const slot = this.slots.find((s) => s.busy === null);
    if (slot === undefined || this.closed) return Promise.reject(new WorkerFailure('aborted', 'no idle worker'));
    const id = ++this.nextId;
    this.stats.calls++;
    return new Promise<unknown>((resolve, reject) => {
      slot.busy = { id, resolve, reject };
      const onAbort = (): void => this.kill(slot);
      signal?.addEventListener('abort', onAbort, { once: true });
      const clear = (): void => signal?.removeEventListener('abort', onAbort);
      slot.busy.resolve = (v) => (clear(), resolve(v));
      slot.busy.reject = (e) => (clear(), reject(e));
      slot.ready.then(
        () => {
          if (slot.busy?.id === id) slot.worker.postMessage([id, call, args]);
        },
        (e: unknown) => {
          // The worker never loaded its handlers (a wrong URL or export): the call fails, it does not hang.
          if (slot.busy?.id !== id) return;
          slot.busy = null;
          reject(new WorkerFailure('threw', e instanceof Error ? e.message : String(e)));
        },
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const data: HandlerWorkerData = { url: this.spec.url, export: this.spec.export, name: this.name };
    const worker = new Worker(bootCode(), { eval: true, workerData: data });
    // A pool must not keep a finished program alive.
    worker.unref();
    this.stats.started++;
    const slot: Slot = { worker, ready: Promise.resolve(), busy: null };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: unknown[]) => {
        if (m[0] === 'ready') return resolve();
        if (m[0] === 'error') return reject(new Error(`${this.name} worker: ${String(m[1])}`));
        const b = slot.busy;
        if (b === null || b.id !== m[0]) return;
        slot.busy = null;
        if (m[1] === true) b.resolve(m[2]);
        else b.reject(new WorkerFailure('threw', String(m[3])));
      });
      worker.on('error', (e: Error) => {
        reject(e);
        const b = slot.busy;
        slot.busy = null;
        b?.reject(e);
      });
    });
    slot.ready.catch(() => {});
    return slot;
  }

  private kill(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    const b = slot.busy;
    slot.busy = null;
    void slot.worker.terminate();
    this.stats.killed++;
    if (!this.closed) this.slots[i] = this.spawn();
    b?.reject(new WorkerFailure('aborted', 'worker terminated'));
  }
}
