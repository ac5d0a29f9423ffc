/**
 * The order in which a server runs the calls it admitted.
 *
 * By default a client's calls run in the order they arrived, one after the
 * other: the next starts when the previous has completed (or failed), even if
 * the handler is asynchronous. A call declared `order: 'any'` is not held back
 * by anything; it waits in a queue of its own that the handlers can see and
 * reorder (a disk server serving the nearest block first). Between clients, and
 * between the two kinds, the call that arrived first goes first.
 */
import type { Job, PendingCall } from './types.js';

/** A waiting call and its place in the order of arrival. */
interface Entry<J> {
  readonly job: J;
  readonly seq: number;
}

interface Lane<J> {
  readonly queue: Array<Entry<J> | undefined>;
  head: number;
  running: boolean;
}

export class PendingQueue<J extends Job = Job> {
  private readonly lanes = new Map<string, Lane<J>>();
  /** Out-of-order calls, in the order they will run (the handlers may change it). */
  private any: Array<Entry<J>> = [];
  private nextSeq = 0;
  private waiting = 0;
  private chosen: J | null = null;

  /** Calls waiting (not running). */
  get size(): number {
    return this.waiting;
  }

  /**
   * The common case without a queue: nothing waits and `job` may run now.
   * Then it is taken at once (as `push` then `next` would) and true returned;
   * else nothing changes and the caller pushes it.
   */
  admit(job: J): boolean {
    if (this.waiting > 0) return false;
    if (job.ext.order === 'any') return true;
    const lane = this.lanes.get(job.client);
    if (lane !== undefined) {
      if (lane.running) return false;
      lane.running = true;
      return true;
    }
    this.lanes.set(job.client, { queue: [], head: 0, running: true });
    return true;
  }

  push(job: J): void {
    const e: Entry<J> = { job, seq: this.nextSeq++ };
    this.waiting++;
    if (job.ext.order === 'any') {
      this.any.push(e);
      return;
    }
    let lane = this.lanes.get(job.client);
    if (lane === undefined) {
      lane = { queue: [], head: 0, running: false };
      this.lanes.set(job.client, lane);
    }
    lane.queue.push(e);
  }

  /** Take the call to run next, or undefined if none may run now. */
  next(): J | undefined {
    if (this.waiting === 0) return undefined;
    if (this.chosen !== null) {
      const c = this.chosen;
      this.chosen = null;
      const i = this.any.findIndex((e) => e.job === c);
      if (i >= 0) {
        this.any.splice(i, 1);
        this.waiting--;
        return c;
      }
    }
    let best: Lane<J> | null = null;
    let bestSeq = Infinity;
    for (const lane of this.lanes.values()) {
      if (lane.running || lane.head >= lane.queue.length) continue;
      const seq = lane.queue[lane.head]!.seq;
      if (seq < bestSeq) {
        bestSeq = seq;
        best = lane;
      }
    }
    const a = this.any[0];
    if (a !== undefined && a.seq < bestSeq) {
      this.any.shift();
      this.waiting--;
      return a.job;
    }
    if (best === null) return undefined;
    const e = best.queue[best.head]!;
    best.queue[best.head++] = undefined;
    if (best.head > 64 && best.head * 2 > best.queue.length) {
      best.queue.splice(0, best.head);
      best.head = 0;
    }
    best.running = true;
    this.waiting--;
    return e.job;
  }

  /** A call taken by `next` or `admit` has completed or failed: its client's next call may run. */
  finished(job: J): void {
    if (job.ext.order === 'any') return;
    const lane = this.lanes.get(job.client);
    if (lane === undefined) return;
    lane.running = false;
    // A client with nothing waiting leaves no trace.
    if (lane.head >= lane.queue.length) this.lanes.delete(job.client);
  }

  /** The out-of-order calls waiting, in the order they will run. */
  pending(): readonly PendingCall[] {
    return this.any.map((e) => e.job);
  }

  /** Run the first waiting out-of-order call that `pred` accepts next. False if none does. */
  takeNext(pred: (c: PendingCall) => boolean): boolean {
    for (const e of this.any) {
      if (pred(e.job)) {
        this.chosen = e.job;
        return true;
      }
    }
    return false;
  }

  /** Reorder the waiting out-of-order calls (a stable sort). */
  reorder(compare: (a: PendingCall, b: PendingCall) => number): void {
    this.any.sort((a, b) => compare(a.job, b.job));
    this.chosen = null;
  }
}
