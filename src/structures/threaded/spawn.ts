/**
 * Starting a layer group's worker thread, from the sources (through tsx) or
 * from the compiled package alike.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type MessagePort } from 'node:worker_threads';
import type { ThreadRecord } from '../../report/collector.js';
import type { GroupData, GroupStats } from './worker.js';

const here = import.meta.url;
const fromSources = here.endsWith('.ts');
const entry = new URL(fromSources ? './worker.ts' : './worker.js', here).href;

/** tsx's loader API, found from this file (not from the current directory). */
function tsxApi(): string {
  const pkg = createRequire(here).resolve('tsx/package.json');
  return pathToFileURL(path.join(path.dirname(pkg), 'dist/esm/api/index.mjs')).href;
}

export class GroupWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  private statsWaiter: ((s: GroupStats) => void) | null = null;
  private reportWaiter: ((r: ThreadRecord) => void) | null = null;
  private failure: Error | null = null;

  constructor(
    readonly label: string,
    data: GroupData,
    transfer: MessagePort[],
  ) {
    // A worker does not inherit the parent's TypeScript loader: register it first.
    const code = fromSources
      ? `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`
      : `import(${JSON.stringify(entry)})`;
    this.worker = new Worker(code, { eval: true, workerData: data, transferList: transfer });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (m: { type: string; message?: string; stats?: GroupStats; record?: ThreadRecord }) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'error') {
          this.failure = new Error(`${label}: ${m.message}`);
          reject(this.failure);
        } else if (m.type === 'stats' && this.statsWaiter !== null) {
          const w = this.statsWaiter;
          this.statsWaiter = null;
          w(m.stats!);
        } else if (m.type === 'report' && this.reportWaiter !== null) {
          const w = this.reportWaiter;
          this.reportWaiter = null;
          w(m.record!);
        }
      });
      this.worker.on('error', (e: Error) => {
        this.failure = e;
        reject(e);
      });
    });
    this.ready.catch(() => {});
  }

  stats(): Promise<GroupStats> {
    return new Promise((resolve) => {
      this.statsWaiter = resolve;
      this.worker.postMessage({ type: 'stats' });
    });
  }

  /** What the group recorded for the visual report (started with `report: true`). */
  report(): Promise<ThreadRecord> {
    return new Promise((resolve) => {
      this.reportWaiter = resolve;
      this.worker.postMessage({ type: 'report' });
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
