/**
 * A clock an app can stop when it quits: every timer still pending (frames in
 * flight on a simulated link, retransmissions, delayed ACKs) is cancelled and
 * nothing new is scheduled. Stopping the clock before closing a capture is what
 * keeps a late frame from being written to a closed file.
 */
import type { Clock, ClockEntry } from '../src/core/index.js';

const DEAD: ClockEntry = Object.freeze({ at: Infinity, live: false });

export class StoppableClock implements Clock {
  readonly virtual: boolean;
  private readonly entries = new Set<ClockEntry>();
  private stopped = false;

  constructor(private readonly inner: Clock) {
    this.virtual = inner.virtual;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  now(): number {
    return this.inner.now();
  }

  wallTime(): number {
    return this.inner.wallTime();
  }

  get pending(): number {
    return this.inner.pending;
  }

  schedule<T>(at: number, cb: (arg: T) => void, arg?: T): ClockEntry {
    if (this.stopped) return DEAD;
    const e = this.inner.schedule(at, () => {
      this.entries.delete(e);
      cb(arg as T);
    });
    this.entries.add(e);
    return e;
  }

  cancel(entry: ClockEntry): void {
    if (entry === DEAD) return;
    this.entries.delete(entry);
    this.inner.cancel(entry);
  }

  /** Cancels everything pending; from now on nothing runs. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries) this.inner.cancel(e);
    this.entries.clear();
  }
}
