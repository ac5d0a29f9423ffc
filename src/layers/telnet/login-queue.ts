/**
 * The queue of password checks, made fair and bounded.
 *
 * scrypt is deliberately expensive and the thread pool that runs it is small:
 * one queue served in arrival order lets whoever sends the most guesses decide
 * how long everybody else waits. Here each source address has its own FIFO and
 * the sources are served round robin, only `concurrency` checks run at once,
 * the waiting checks are bounded overall and per source (an attempt beyond the
 * bound is refused at once), and failures slow down further attempts per
 * source address and per account across connections (FailureBackoff), on top
 * of the per-connection LoginLimiter.
 *
 * Pure decisions: every time is passed in, nothing is scheduled here (the
 * server owns the timer and the work).
 */

export interface BackoffOptions {
  /** Failures allowed before any delay. */
  free: number;
  /** Delay after the first failure beyond `free`, doubled for each further one. */
  baseMs: number;
  /** Ceiling of the delay. */
  maxMs: number;
  /** A key with no failure for this long starts again from zero. */
  forgetMs: number;
}

export interface LoginQueueOptions {
  /** Checks running at once. Default 2 (libuv's pool has 4 threads, shared with file I/O). */
  concurrency?: number;
  /** Checks waiting, all sources together. Default 64. */
  maxQueued?: number;
  /** Checks waiting from one source address. Default 4. */
  maxQueuedPerSource?: number;
  /** Back-off per source address. Default: 5 free, then 1 s doubling up to 30 s; forgotten after 10 min. */
  source?: Partial<BackoffOptions>;
  /**
   * Back-off per account, whatever the source. Small on purpose: a large one
   * would let anybody lock the real user out. Default: 5 free, then 250 ms
   * doubling up to 2 s; forgotten after 10 min.
   */
  account?: Partial<BackoffOptions>;
}

const SOURCE_DEFAULTS: BackoffOptions = { free: 5, baseMs: 1_000, maxMs: 30_000, forgetMs: 600_000 };
const ACCOUNT_DEFAULTS: BackoffOptions = { free: 5, baseMs: 250, maxMs: 2_000, forgetMs: 600_000 };
/** Keys remembered at most (the oldest are forgotten first): the table cannot grow without bound. */
const MAX_KEYS = 4096;

interface Record_ {
  failures: number;
  lastAt: number;
  notBefore: number;
}

/** Failures per key (a source address, an account) and the delay they earn. */
export class FailureBackoff {
  readonly options: BackoffOptions;
  private readonly keys = new Map<string, Record_>();

  constructor(options: Partial<BackoffOptions> = {}, defaults: BackoffOptions = SOURCE_DEFAULTS) {
    this.options = { ...defaults, ...options };
  }

  /** Delay earned by `failures` failures. */
  delayAfter(failures: number): number {
    const o = this.options;
    if (failures <= o.free) return 0;
    return Math.min(o.maxMs, o.baseMs * 2 ** (failures - o.free - 1));
  }

  fail(key: string, now: number): void {
    let r = this.keys.get(key);
    if (r !== undefined && now - r.lastAt >= this.options.forgetMs) r = undefined;
    if (r === undefined) {
      r = { failures: 0, lastAt: now, notBefore: now };
      if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    } else this.keys.delete(key); // re-inserted last: the map stays in order of last failure
    r.failures++;
    r.lastAt = now;
    r.notBefore = now + this.delayAfter(r.failures);
    this.keys.set(key, r);
  }

  succeed(key: string): void {
    this.keys.delete(key);
  }

  /** Earliest time the next attempt for `key` may be checked. */
  notBefore(key: string, now: number): number {
    const r = this.keys.get(key);
    if (r === undefined || now - r.lastAt >= this.options.forgetMs) return now;
    return r.notBefore;
  }

  failures(key: string, now: number): number {
    const r = this.keys.get(key);
    return r === undefined || now - r.lastAt >= this.options.forgetMs ? 0 : r.failures;
  }
}

export interface LoginTicket<T> {
  readonly source: string;
  readonly account: string;
  readonly payload: T;
}

export type OfferResult<T> = { ok: true; ticket: LoginTicket<T> } | { ok: false; reason: 'queue-full' | 'source-queue-full' };

export class LoginQueue<T> {
  readonly concurrency: number;
  readonly maxQueued: number;
  readonly maxQueuedPerSource: number;
  readonly sources: FailureBackoff;
  readonly accounts: FailureBackoff;
  /** Waiting tickets per source. */
  private readonly waiting = new Map<string, LoginTicket<T>[]>();
  /** Sources with waiting tickets, in turn order; `cursor` is whose turn it is. */
  private readonly ring: string[] = [];
  private cursor = 0;
  private queued = 0;
  running = 0;

  constructor(options: LoginQueueOptions = {}) {
    this.concurrency = options.concurrency ?? 2;
    this.maxQueued = options.maxQueued ?? 64;
    this.maxQueuedPerSource = options.maxQueuedPerSource ?? 4;
    if (!(this.concurrency >= 1 && this.maxQueued >= 1 && this.maxQueuedPerSource >= 1)) throw new RangeError('login queue bounds must be positive');
    this.sources = new FailureBackoff(options.source, SOURCE_DEFAULTS);
    this.accounts = new FailureBackoff(options.account, ACCOUNT_DEFAULTS);
  }

  get waitingCount(): number {
    return this.queued;
  }

  /** Queue a check, or refuse it when a bound is reached. */
  offer(source: string, account: string, payload: T): OfferResult<T> {
    const list = this.waiting.get(source);
    if ((list?.length ?? 0) >= this.maxQueuedPerSource) return { ok: false, reason: 'source-queue-full' };
    if (this.queued >= this.maxQueued) return { ok: false, reason: 'queue-full' };
    const ticket: LoginTicket<T> = { source, account, payload };
    if (list === undefined) {
      this.waiting.set(source, [ticket]);
      this.ring.push(source);
    } else list.push(ticket);
    this.queued++;
    return { ok: true, ticket };
  }

  /** Withdraw a waiting check (its session went away). */
  cancel(ticket: LoginTicket<T>): boolean {
    const list = this.waiting.get(ticket.source);
    const i = list?.indexOf(ticket) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.queued--;
    if (list!.length === 0) this.dropSource(ticket.source);
    return true;
  }

  private dropSource(source: string): void {
    this.waiting.delete(source);
    const at = this.ring.indexOf(source);
    this.ring.splice(at, 1);
    if (at < this.cursor) this.cursor--;
    if (this.cursor >= this.ring.length) this.cursor = 0;
  }

  private eligibleAt(t: LoginTicket<T>, now: number): number {
    return Math.max(this.sources.notBefore(t.source, now), this.accounts.notBefore(t.account, now));
  }

  /**
   * The next check to start now, if a slot is free and some source's first
   * check is not held back: sources take turns, each its oldest first.
   */
  next(now: number): LoginTicket<T> | undefined {
    if (this.running >= this.concurrency || this.queued === 0) return undefined;
    const ring = this.ring;
    for (let k = 0; k < ring.length; k++) {
      const at = (this.cursor + k) % ring.length;
      const source = ring[at]!;
      const list = this.waiting.get(source)!;
      const t = list[0]!;
      if (this.eligibleAt(t, now) > now) continue;
      list.shift();
      this.queued--;
      this.running++;
      if (list.length === 0) {
        // Its place in the ring goes; the next source is now at `at`.
        this.waiting.delete(source);
        ring.splice(at, 1);
        this.cursor = ring.length === 0 ? 0 : at % ring.length;
      } else {
        this.cursor = (at + 1) % ring.length;
      }
      return t;
    }
    return undefined;
  }

  /** When a waiting check held back by a back-off becomes eligible (undefined: none waits for that). */
  wakeAt(now: number): number | undefined {
    if (this.running >= this.concurrency) return undefined;
    let at: number | undefined;
    for (const list of this.waiting.values()) {
      const e = this.eligibleAt(list[0]!, now);
      if (e > now && (at === undefined || e < at)) at = e;
    }
    return at;
  }

  /** A started check finished: its outcome feeds the back-offs. */
  finished(t: LoginTicket<T>, ok: boolean, now: number): void {
    this.running--;
    if (ok) {
      this.sources.succeed(t.source);
      this.accounts.succeed(t.account);
    } else {
      this.sources.fail(t.source, now);
      this.accounts.fail(t.account, now);
    }
  }
}
