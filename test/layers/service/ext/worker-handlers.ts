/** Handlers a threaded server's workers load (test fixture, loaded by URL in each worker). */
import { threadId } from 'node:worker_threads';

export const handlers = {
  square: (x: number): number => x * x,
  /** Which thread ran the call. */
  where: (): number => threadId,
  /** Compute for `ms` of real time: only terminating the thread stops it. */
  spin: (ms: number): number => {
    const end = Date.now() + ms;
    let n = 0;
    while (Date.now() < end) n++;
    return n;
  },
  boom: (): never => {
    throw new Error('worker handler failed');
  },
  later: (x: number): Promise<number> => new Promise((r) => setTimeout(() => r(x + 1), 5)),
};
