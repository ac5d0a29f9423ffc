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
  /**
   * Run cb at absolute time `at` (or as soon as possible if it is in the past),
   * given `arg`: one function serves every entry of a kind (a module's timers)
   * with no closure kept per entry.
   */
  schedule<T>(at: number, cb: (arg: T) => void, arg?: T): ClockEntry;
  cancel(entry: ClockEntry): void;
  /** Number of live scheduled entries. */
  readonly pending: number;
}

class Entry implements ClockEntry {
  live = true;
  constructor(
    readonly at: number,
    readonly seq: number,
    readonly cb: (arg: unknown) => void,
    readonly arg: unknown,
  ) {}
}

function before(x: Entry, y: Entry): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/** Sorted runs beside the heap (see VirtualClock). */
const LANES = 4;

/**
 * Deterministic clock. Nothing happens until a test or driver advances it; entries
 * due at the same time run in the order they were scheduled.
 *
 * Most entries come in ascending order of time from one source (a link
 * delivering frames after a fixed delay, a periodic timer), many at once (a
 * window of frames in flight). So an entry not earlier than the last entry of
 * one of a few FIFO lanes is appended there, in O(1); only the rest go to a
 * binary heap. Each lane is sorted by (time, sequence), so the next entry is
 * the least of the lanes' heads and the heap's top: the order is exactly the
 * heap-only order.
 */
export class VirtualClock implements Clock {
  readonly virtual = true;
  private time = 0;
  private seq = 0;
  private heap: Entry[] = [];
  private readonly lanes: Entry[][] = [];
  private readonly laneHead: number[] = [];
  private live = 0;
  /**
   * The entry `peek` found, while it is still the next: a driver asks for the
   * next time, then advances to it, and each would scan the heap and every
   * lane again. Cleared when it is taken; a push before it replaces it.
   */
  private next: Entry | null = null;

  /** @param epochMs wall-clock time at which the virtual clock reads 0. */
  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {
    for (let i = 0; i < LANES; i++) {
      this.lanes.push([]);
      this.laneHead.push(0);
    }
  }

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.epochMs + this.time;
  }

  get pending(): number {
    return this.live;
  }

  schedule<T>(at: number, cb: (arg: T) => void, arg?: T): ClockEntry {
    const e = new Entry(at < this.time ? this.time : at, this.seq++, cb as (arg: unknown) => void, arg);
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
    return this.peek()?.at;
  }

  /** Runs the next live entry (advancing time to it). False when nothing is scheduled. */
  step(): boolean {
    const e = this.peek();
    if (e === undefined) return false;
    this.take(e);
    this.time = e.at;
    e.live = false;
    this.live--;
    e.cb(e.arg);
    return true;
  }

  /** Runs everything due up to now + ms, then leaves the clock at now + ms. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  advanceTo(t: number): void {
    for (;;) {
      const e = this.peek();
      if (e === undefined || e.at > t) break;
      this.take(e);
      this.time = e.at;
      e.live = false;
      this.live--;
      e.cb(e.arg);
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

  /** The next live entry (dead ones at the fronts are discarded), not removed. */
  private peek(): Entry | undefined {
    const n = this.next;
    if (n !== null && n.live) return n;
    const h = this.heap;
    while (h.length > 0 && !h[0]!.live) this.pop();
    let best: Entry | undefined = h.length > 0 ? h[0] : undefined;
    const lanes = this.lanes;
    const heads = this.laneHead;
    for (let i = 0; i < LANES; i++) {
      const lane = lanes[i]!;
      let k = heads[i]!;
      while (k < lane.length && !lane[k]!.live) k++;
      if (k > 0 && k === lane.length) {
        lane.length = 0;
        k = 0;
      }
      heads[i] = k;
      if (k < lane.length) {
        const e = lane[k]!;
        if (best === undefined || before(e, best)) best = e;
      }
    }
    this.next = best ?? null;
    return best;
  }

  /** Removes `e`, the entry `peek` just returned. */
  private take(e: Entry): void {
    this.next = null;
    const h = this.heap;
    if (h.length > 0 && h[0] === e) {
      this.pop();
      return;
    }
    const lanes = this.lanes;
    const heads = this.laneHead;
    for (let i = 0; i < LANES; i++) {
      const lane = lanes[i]!;
      const k = heads[i]!;
      if (k < lane.length && lane[k] === e) {
        if (k + 1 === lane.length) {
          lane.length = 0;
          heads[i] = 0;
        } else if (k + 1 >= 1024 && 2 * (k + 1) >= lane.length) {
          // Drop the consumed front now and then, so a lane that never empties stays small.
          lane.splice(0, k + 1);
          heads[i] = 0;
        } else {
          heads[i] = k + 1;
        }
        return;
      }
    }
  }

  private push(e: Entry): void {
    const n = this.next;
    // An earlier entry is the next now (and sits at the front of its lane or the heap).
    if (n !== null && before(e, n)) this.next = e;
    const lanes = this.lanes;
    for (let i = 0; i < LANES; i++) {
      const lane = lanes[i]!;
      // seq only grows, so "not earlier" keeps the lane sorted by (time, seq).
      if (lane.length === this.laneHead[i] || lane[lane.length - 1]!.at <= e.at) {
        lane.push(e);
        return;
      }
    }
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

  schedule<T>(at: number, cb: (arg: T) => void, arg?: T): ClockEntry {
    const e = new RealEntry(at);
    const run = (): void => {
      if (!e.live) return;
      e.live = false;
      this.live--;
      cb(arg as T);
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
