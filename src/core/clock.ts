/**
 * Time, behind one interface: a virtual clock that tests and simulations advance
 * deterministically, and a real-time driver that the demo, TAP and UDP tunnel opt
 * into. Times are milliseconds (fractions allowed) since the clock started.
 */

export interface ClockEntry {
  readonly at: number;
  /** False once the entry has fired or was cancelled. */
  readonly live: boolean;
}

export interface Clock {
  readonly virtual: boolean;
  /** Milliseconds since the clock started. */
  now(): number;
  /** Wall-clock time (ms since the Unix epoch) that corresponds to now(). */
  wallTime(): number;
  /** Run cb at absolute time `at` (or as soon as possible if it is in the past). */
  schedule(at: number, cb: () => void): ClockEntry;
  cancel(entry: ClockEntry): void;
  /** Number of live scheduled entries. */
  readonly pending: number;
}

class Entry implements ClockEntry {
  live = true;
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly cb: () => void,
  ) {}
}

function before(x: Entry, y: Entry): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/**
 * Deterministic clock. Nothing happens until a test or driver advances it; entries
 * due at the same time run in the order they were scheduled.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  private time = 0;
  private seq = 0;
  private heap: Entry[] = [];
  private live = 0;

  /** @param epochMs wall-clock time at which the virtual clock reads 0. */
  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.epochMs + this.time;
  }

  get pending(): number {
    return this.live;
  }

  schedule(at: number, cb: () => void): ClockEntry {
    const e = new Entry(at < this.time ? this.time : at, this.seq++, cb);
    this.push(e);
    this.live++;
    return e;
  }

  cancel(entry: ClockEntry): void {
    const e = entry as Entry;
    if (e.live) {
      e.live = false;
      this.live--;
    }
  }

  /** Time of the next live entry, or undefined when nothing is scheduled. */
  nextAt(): number | undefined {
    this.skipDead();
    return this.heap.length > 0 ? this.heap[0]!.at : undefined;
  }

  /** Runs the next live entry (advancing time to it). False when nothing is scheduled. */
  step(): boolean {
    this.skipDead();
    const e = this.pop();
    if (e === undefined) return false;
    this.time = e.at;
    e.live = false;
    this.live--;
    e.cb();
    return true;
  }

  /** Runs everything due up to now + ms, then leaves the clock at now + ms. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  advanceTo(t: number): void {
    for (;;) {
      const at = this.nextAt();
      if (at === undefined || at > t) break;
      this.step();
    }
    if (t > this.time) this.time = t;
  }

  /**
   * Runs entries until `done()` holds or `limitMs` of virtual time has passed.
   * Returns whether done() held.
   */
  runUntil(done: () => boolean, limitMs = 3_600_000): boolean {
    const end = this.time + limitMs;
    while (!done()) {
      const at = this.nextAt();
      if (at === undefined || at > end) {
        if (end > this.time && at === undefined) return done();
        this.time = Math.max(this.time, Math.min(end, at ?? end));
        return done();
      }
      this.step();
    }
    return true;
  }

  /** Runs until nothing is scheduled or `limitMs` of virtual time has passed. */
  runAll(limitMs = 3_600_000): void {
    this.runUntil(() => this.live === 0, limitMs);
  }

  private skipDead(): void {
    while (this.heap.length > 0 && !this.heap[0]!.live) this.pop();
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Entry | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

class RealEntry implements ClockEntry {
  live = true;
  handle: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  constructor(readonly at: number) {}
}

/** Real time, for the demo in interactive mode and for real network devices. */
export class RealClock implements Clock {
  readonly virtual = false;
  private readonly origin = performance.now();
  private readonly epoch = Date.now();
  private live = 0;

  /** @param keepAlive whether pending timers keep the Node process alive. */
  constructor(private readonly keepAlive = false) {}

  now(): number {
    return performance.now() - this.origin;
  }

  wallTime(): number {
    return this.epoch + this.now();
  }

  get pending(): number {
    return this.live;
  }

  schedule(at: number, cb: () => void): ClockEntry {
    const e = new RealEntry(at);
    const run = (): void => {
      if (!e.live) return;
      e.live = false;
      this.live--;
      cb();
    };
    const delay = at - this.now();
    if (delay <= 0) {
      e.handle = setImmediate(run);
    } else {
      const t = setTimeout(run, delay);
      if (!this.keepAlive) t.unref();
      e.handle = t;
    }
    this.live++;
    return e;
  }

  cancel(entry: ClockEntry): void {
    const e = entry as RealEntry;
    if (!e.live) return;
    e.live = false;
    this.live--;
    if (e.handle !== undefined) {
      clearTimeout(e.handle as ReturnType<typeof setTimeout>);
      clearImmediate(e.handle as ReturnType<typeof setImmediate>);
    }
  }
}
