/**
 * The budget of RFC 5961 challenge ACKs, shaped so that it tells an off-path
 * attacker nothing (CVE-2016-5696): with one fixed, module-wide count per
 * second, an attacker could spend the budget on its own connection and learn
 * from one missing challenge ACK that a spoofed segment had fallen inside
 * another connection's window. As Linux did after the disclosure:
 *
 *  - each connection sends at most one challenge ACK per `intervalMs`
 *    (Linux's tcp_invalid_ratelimit, 500 ms), so an attacker's own connection
 *    can never drain, or measure, the shared budget;
 *  - the module-wide budget per second is drawn afresh each second between
 *    limit/2 and limit*3/2, so its exhaustion is not an exact count either.
 */
import type { Rng } from '../../core/index.js';

export class ChallengeBudget {
  private windowStart = -1;
  private left = 0;
  private readonly lastAt = new WeakMap<object, number>();

  constructor(
    /** Mean module-wide challenge ACKs per second (RFC 5961 section 7). */
    private readonly limit: number,
    /** Least time between two challenge ACKs of one connection. */
    private readonly intervalMs: number,
    private readonly rng: Rng,
  ) {}

  /** Whether a challenge ACK may be sent for `conn` at `now` (and counts it if so). */
  allow(conn: object, now: number): boolean {
    const last = this.lastAt.get(conn);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (this.windowStart < 0 || now - this.windowStart >= 1000) {
      this.windowStart = now;
      const half = (this.limit + 1) >>> 1;
      this.left = half + (this.limit > 0 ? this.rng.int(this.limit + 1) : 0);
    }
    if (this.left <= 0) return false;
    this.left--;
    this.lastAt.set(conn, now);
    return true;
  }
}
