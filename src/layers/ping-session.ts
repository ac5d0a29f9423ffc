/**
 * The bookkeeping of a ping session, whatever the address family: which
 * sequence numbers were sent when, answered or timed out, the replies, when
 * the next one expires, whether the session is over, and its summary.
 *
 * ICMP and ICMPv6 each subclass it for their client type (describe()); they
 * keep what differs: building and sending the request, matching replies, and
 * the timers, made with their own `timer` (the session only re-arms the
 * expiry one it is handed). The sessions map is icmp-common.ts's.
 */

const WAITING = 0;
const ANSWERED = 1;
const TIMED_OUT = 2;

/** What a session summary needs of a reply. */
export interface PingReplyLike {
  readonly seq: number;
  readonly rttMs: number;
  readonly duplicate: boolean;
}

/** A session's result, for any address type `A` and reply type `R`. */
export interface PingSummary<A, R> {
  readonly dst: A;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly errors: number;
  readonly replies: readonly R[];
  readonly minMs: number;
  readonly avgMs: number;
  readonly maxMs: number;
  readonly aborted: boolean;
}

/** The options every family's ping takes alike. */
export interface PingParamOptions {
  count?: number;
  intervalMs?: number;
  timeoutMs?: number;
  size?: number;
}

/** A session's parameters, defaults applied. */
export interface PingParams {
  readonly count: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly size: number;
}

/** The parameters `opts` ask for; a count or size out of range (data bytes up to `maxSize`) is the caller's error. */
export function pingParams(opts: PingParamOptions, maxSize: number): PingParams {
  const count = opts.count ?? 1;
  const size = opts.size ?? 56;
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`ping count ${count}`);
  if (!(Number.isInteger(size) && size >= 0 && size <= maxSize)) throw new RangeError(`ping size ${size}`);
  return { count, intervalMs: opts.intervalMs ?? 1000, timeoutMs: opts.timeoutMs ?? 1000, size };
}

/** The callbacks the session itself makes. */
export interface PingSessionCallbacks<R> {
  /** Called when a request's time runs out unanswered. */
  onTimeout?(seq: number): void;
  /** Called for every reply not late (duplicates too, marked). */
  onReply?(reply: R): void;
}

/** How a reply for a sequence number already sent stands. */
export type ReplyStanding = 'first' | 'duplicate' | 'late';

export abstract class PingSession<A, R extends PingReplyLike, O extends PingSessionCallbacks<R>> {
  private readonly sentAt: number[] = [];
  private readonly state: number[] = [];
  readonly replies: R[] = [];
  received = 0;
  duplicates = 0;
  errors = 0;
  nextSeq = 0;
  aborted = false;
  private resolve: ((r: PingSummary<A, R>) => void) | null = null;
  sendTimer: { arm(ms: number): void } | null = null;
  expireTimer: { armAt(at: number): void; cancel(): void } | null = null;

  readonly count: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly size: number;

  constructor(
    readonly id: number,
    readonly dst: A,
    params: PingParams,
    readonly opts: O,
  ) {
    this.count = params.count;
    this.intervalMs = params.intervalMs;
    this.timeoutMs = params.timeoutMs;
    this.size = params.size;
  }

  abstract describe(): string;

  /** True while requests remain to be sent. */
  get moreToSend(): boolean {
    return this.nextSeq < this.count;
  }

  /** Takes the next sequence number, sent at `now` and waiting for its reply. */
  markSent(now: number): number {
    const seq = this.nextSeq++;
    this.sentAt[seq] = now;
    this.state[seq] = WAITING;
    return seq;
  }

  /**
   * A reply to `seq` (< nextSeq) arrived at `now`: undefined when it is late
   * (its time ran out); otherwise the reply `make` builds is counted (the first
   * per sequence number kept), told to `onReply` and returned.
   */
  takeReply(seq: number, now: number, make: (rttMs: number, duplicate: boolean) => R): R | undefined {
    const standing = this.standing(seq);
    if (standing === 'late') return undefined;
    const reply = make(now - this.sentAt[seq]!, standing === 'duplicate');
    this.recordReply(reply);
    return reply;
  }

  /** For `seq` (< nextSeq): a first reply, a duplicate, or one after its time ran out. */
  private standing(seq: number): ReplyStanding {
    const st = this.state[seq];
    return st === TIMED_OUT ? 'late' : st === ANSWERED ? 'duplicate' : 'first';
  }

  private recordReply(reply: R): void {
    if (reply.duplicate) this.duplicates++;
    else {
      this.state[reply.seq] = ANSWERED;
      this.received++;
      this.replies.push(reply);
    }
    this.opts.onReply?.(reply);
  }

  /** A request was sent: the next is due after the interval, if any, and the expiry follows the earliest waiting. */
  sent(): void {
    if (this.moreToSend) this.sendTimer!.arm(this.intervalMs);
    this.armExpiry();
  }

  /** The expiry timer ran at `now`: what is due times out, the timer is armed again for what still waits. */
  expire(now: number): void {
    this.expireDue(now);
    this.armExpiry();
  }

  /** Marks timed out, in sequence order, each request still waiting whose time is up at `now`, telling `onTimeout`. */
  private expireDue(now: number): void {
    for (let seq = 0; seq < this.nextSeq; seq++) {
      if (this.state[seq] === WAITING && this.sentAt[seq]! + this.timeoutMs <= now) {
        this.state[seq] = TIMED_OUT;
        this.opts.onTimeout?.(seq);
      }
    }
  }

  /** When the earliest waiting request times out; Infinity when none waits. */
  nextExpiry(): number {
    let at = Infinity;
    for (let seq = 0; seq < this.nextSeq; seq++) if (this.state[seq] === WAITING) at = Math.min(at, this.sentAt[seq]! + this.timeoutMs);
    return at;
  }

  /** Arms the expiry timer for the next expiry, or cancels it when nothing waits. */
  private armExpiry(): void {
    const at = this.nextExpiry();
    if (at === Infinity) this.expireTimer!.cancel();
    else this.expireTimer!.armAt(at);
  }

  /** Every request sent, and each answered or timed out. */
  get settled(): boolean {
    if (this.nextSeq < this.count) return false;
    for (let seq = 0; seq < this.count; seq++) if (this.state[seq] === WAITING) return false;
    return true;
  }

  summary(): PingSummary<A, R> {
    const rtts = this.replies.map((r) => r.rttMs);
    const sum = rtts.reduce((a, b) => a + b, 0);
    return {
      dst: this.dst,
      sent: this.nextSeq,
      received: this.received,
      lost: this.nextSeq - this.received,
      duplicates: this.duplicates,
      errors: this.errors,
      replies: this.replies,
      minMs: rtts.length > 0 ? Math.min(...rtts) : 0,
      avgMs: rtts.length > 0 ? sum / rtts.length : 0,
      maxMs: rtts.length > 0 ? Math.max(...rtts) : 0,
      aborted: this.aborted,
    };
  }

  /** The summary, once the session is over. */
  result(): Promise<PingSummary<A, R>> {
    return new Promise((resolve) => (this.resolve = resolve));
  }

  /** Hands the summary to whoever waits for it, once. */
  deliver(): void {
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.(this.summary());
  }
}
